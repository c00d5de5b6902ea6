using LatentBalance.Engine.Imaging;
using NetVips;

namespace LatentBalance.Training;

/// <summary>
/// Draws strength curves as a PNG with libvips: x = how far clean photos move (mean CIEDE2000),
/// y = the error left on distorted photos (mean CIEDE2000), one polyline per pack over the user's
/// strength (labelled at 0, 1 and the last point). Lower and further left is better.
/// </summary>
public static class CurvePlot
{
    static readonly double[][] Inks = [[30, 90, 220], [230, 120, 20], [40, 160, 60], [180, 40, 160]];

    public static void Write(string path, IReadOnlyList<(string Name, IReadOnlyList<CurvePoint> Points)> curves, int width = 800, int height = 560)
    {
        var all = curves.SelectMany(c => c.Points).ToList();
        if (all.Count == 0) return;
        const int margin = 60;
        double xHi = Math.Max(1, all.Max(p => p.CleanMoved)) * 1.05, yLo = 0, yHi = all.Max(p => p.DistortedDe) * 1.05;
        int X(double v) => margin + (int)((width - 2 * margin) * v / xHi);
        int Y(double v) => height - margin - (int)((height - 2 * margin) * (v - yLo) / (yHi - yLo));

        using var canvas = (Image.Black(width, height, bands: 3) + 255).Cast(Enums.BandFormat.Uchar);
        using var plot = canvas.Mutate(m =>
        {
            double[] axis = [0, 0, 0], grid = [225, 225, 225];
            for (int v = 1; v <= (int)xHi; v++) m.DrawLine(grid, X(v), margin, X(v), height - margin);
            for (int v = 1; v <= (int)yHi; v++) m.DrawLine(grid, margin, Y(v), width - margin, Y(v));
            m.DrawLine(axis, margin, height - margin, width - margin, height - margin);
            m.DrawLine(axis, margin, margin, margin, height - margin);
            Text(m, axis, "error left on distorted photos (mean dE00) vs movement of clean photos (mean dE00), over strength", margin, 12);
            Text(m, axis, $"x: clean photos moved, 0 .. {xHi:F1} (grid 1)", margin, height - margin + 12);
            Text(m, axis, $"y: 0 .. {yHi:F1} (grid 1)", 4, margin - 22);
            for (int c = 0; c < curves.Count; c++)
            {
                var ink = Inks[c % Inks.Length];
                var pts = curves[c].Points;
                for (int i = 1; i < pts.Count; i++)
                    for (int d = 0; d < 2; d++)
                        m.DrawLine(ink, X(pts[i - 1].CleanMoved), Y(pts[i - 1].DistortedDe) + d, X(pts[i].CleanMoved), Y(pts[i].DistortedDe) + d);
                foreach (var p in pts)
                {
                    m.DrawCircle(ink, X(p.CleanMoved), Y(p.DistortedDe), 4, fill: true);
                    if (p.Strength is 0 or 1 || p == pts[^1]) Text(m, ink, $"{p.Strength:0.##}", X(p.CleanMoved) + 6, Y(p.DistortedDe) - 16);
                }
                Text(m, ink, curves[c].Name, width - margin - 260, margin + 6 + 18 * c);
            }
        });
        OutputFiles.Write(Path.GetFullPath(path), staged => plot.Pngsave(staged));
    }

    static void Text(MutableImage m, double[] ink, string text, int x, int y)
    {
        using var t = Image.Text(text, dpi: 72);
        m.DrawMask(ink, t, x, y);
    }
}
