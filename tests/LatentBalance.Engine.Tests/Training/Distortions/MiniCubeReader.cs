using System.Globalization;
using LatentBalance.Engine.Color;

namespace LatentBalance.Engine.Tests.Training.Distortions;

/// <summary>
/// Minimal .cube reader for the severity report only (the real reader is Color.CubeFile on another branch):
/// TITLE, DOMAIN_MIN/MAX, LUT_3D_SIZE and the data rows; 1D LUTs are rejected.
/// </summary>
internal static class MiniCubeReader
{
    public static Lut3D Read(string path)
    {
        int size = 0;
        string? title = null;
        float[] min = [0, 0, 0], max = [1, 1, 1];
        var values = new List<float>();
        int lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            switch (parts[0].ToUpperInvariant())
            {
                case "TITLE": title = line[5..].Trim().Trim('"'); break;
                case "LUT_3D_SIZE": size = int.Parse(parts[1], CultureInfo.InvariantCulture); break;
                case "LUT_1D_SIZE": throw new InvalidDataException($"{path}: 1D LUTs are not supported by MiniCubeReader");
                case "DOMAIN_MIN": min = parts.Skip(1).Select(p => float.Parse(p, CultureInfo.InvariantCulture)).ToArray(); break;
                case "DOMAIN_MAX": max = parts.Skip(1).Select(p => float.Parse(p, CultureInfo.InvariantCulture)).ToArray(); break;
                default:
                    if (parts.Length != 3 || !char.IsAsciiDigit(parts[0][^1]))
                    {
                        if (char.IsAsciiLetter(parts[0][0])) continue; // unknown keyword
                        throw new InvalidDataException($"{path}:{lineNo}: expected 3 numbers, got '{line}'");
                    }
                    foreach (var p in parts) values.Add(float.Parse(p, NumberStyles.Float, CultureInfo.InvariantCulture));
                    break;
            }
        }
        if (size == 0) throw new InvalidDataException($"{path}: no LUT_3D_SIZE");
        if (values.Count != size * size * size * 3)
            throw new InvalidDataException($"{path}: LUT_3D_SIZE {size} needs {size * size * size} rows, found {values.Count / 3}");
        return new Lut3D(size, values.ToArray()) { Title = title ?? Path.GetFileNameWithoutExtension(path), DomainMin = min, DomainMax = max };
    }
}
