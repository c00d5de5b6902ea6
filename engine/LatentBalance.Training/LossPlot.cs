using LatentBalance.Engine.Imaging;
using NetVips;

namespace LatentBalance.Training;

/// <summary>Draws the training curves (train in orange, validation in blue) as a PNG with libvips:
/// the latent MSE to the clean latent where the history has it, else the loss.</summary>
public static class LossPlot
{
    public static void Write(string path, IReadOnlyList<LossPoint> history, int width = 800, int height = 480)
    {
        if (history.Count == 0) return;
        const int margin = 50;
        bool mse = history.Any(p => p.ValidationMse.HasValue || p.TrainMse.HasValue);
        var train = mse ? history.Where(p => p.TrainMse.HasValue).Select(p => (p.Step, p.TrainMse!.Value)).ToList()
                        : history.Select(p => (p.Step, p.TrainLoss)).ToList();
        var val = mse ? history.Where(p => p.ValidationMse.HasValue).Select(p => (p.Step, p.ValidationMse!.Value)).ToList()
                      : history.Where(p => p.ValidationLoss.HasValue).Select(p => (p.Step, p.ValidationLoss!.Value)).ToList();
        var all = train.Select(p => p.Item2).Concat(val.Select(p => p.Item2)).Where(double.IsFinite).ToList();
        if (all.Count == 0) return;
        double lo = all.Min(), hi = all.Max();
        if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
        int maxStep = Math.Max(1, history.Max(p => p.Step));
        int X(int step) => margin + (int)((width - 2 * margin) * (double)step / maxStep);
        int Y(double v) => height - margin - (int)((height - 2 * margin) * (v - lo) / (hi - lo));

        using var title = Image.Text($"{(mse ? "latent MSE to clean" : "loss")}: train (orange), validation (blue); {lo:G4} .. {hi:G4}; steps 0..{maxStep}", dpi: 72);
        using var canvas = (Image.Black(width, height, bands: 3) + 255).Cast(Enums.BandFormat.Uchar);
        using var plot = canvas.Mutate(m =>
        {
            double[] axis = [0, 0, 0];
            m.DrawLine(axis, margin, height - margin, width - margin, height - margin);
            m.DrawLine(axis, margin, margin, margin, height - margin);
            m.DrawMask(axis, title, margin, 15);
            DrawSeries(m, train, [230, 120, 20]);
            DrawSeries(m, val, [30, 90, 220]);
        });
        OutputFiles.Write(Path.GetFullPath(path), staged => plot.Pngsave(staged));

        void DrawSeries(MutableImage m, List<(int Step, double V)> s, double[] ink)
        {
            for (int i = 1; i < s.Count; i++)
                if (double.IsFinite(s[i - 1].V) && double.IsFinite(s[i].V))
                    for (int d = 0; d < 2; d++)
                        m.DrawLine(ink, X(s[i - 1].Step), Y(s[i - 1].V) + d, X(s[i].Step), Y(s[i].V) + d);
            foreach (var p in s)
                if (double.IsFinite(p.V)) m.DrawCircle(ink, X(p.Step), Y(p.V), 3, fill: true);
        }
    }
}
