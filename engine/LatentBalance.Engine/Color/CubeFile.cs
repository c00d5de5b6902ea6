using System.Globalization;
using System.Text;

namespace LatentBalance.Engine.Color;

/// <summary>
/// Reads and writes 3D LUTs in the Adobe/Resolve .cube text format.
/// <para>Accepted: <c>TITLE "..."</c>, <c>LUT_3D_SIZE n</c> (2..256), <c>DOMAIN_MIN r g b</c>,
/// <c>DOMAIN_MAX r g b</c>, <c>LUT_3D_INPUT_RANGE min max</c> (Resolve), in any order before the
/// data; <c>#</c> comments (whole-line or trailing); blank lines; LF or CRLF; spaces or tabs.
/// Unknown keyword lines before the data (e.g. Resolve's <c>LUT_IN_VIDEO_RANGE</c>) are ignored.
/// Data lines are three numbers, red changing fastest. 1D LUTs are rejected.</para>
/// </summary>
public static class CubeFile
{
    const int MaxSize = 256;

    public static Lut3D Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"LUT file not found: {path}", path);
        using var reader = new StreamReader(path, Encoding.UTF8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        return Parse(reader, path);
    }

    public static Lut3D Parse(TextReader reader, string nameForErrors)
    {
        ArgumentNullException.ThrowIfNull(reader);
        string name = nameForErrors ?? "<cube>";
        int size = 0;
        int sizeLine = 0;
        float[]? data = null;
        int count = 0; // data triples read
        int expected = 0;
        string? title = null;
        float[]? dmin = null, dmax = null;
        int lineNo = 0;
        int lastDataLine = 0;
        Span<double> v = stackalloc double[3];

        string? raw;
        while ((raw = reader.ReadLine()) != null)
        {
            lineNo++;
            ReadOnlySpan<char> line = raw.AsSpan().Trim();
            if (line.IsEmpty || line[0] == '#') continue;

            char c0 = line[0];
            bool numeric = char.IsAsciiDigit(c0) || c0 == '-' || c0 == '+' || c0 == '.'
                || double.TryParse(FirstToken(line, out _), NumberStyles.Float, CultureInfo.InvariantCulture, out _); // NaN, Infinity
            if (!numeric)
            {
                var keyword = FirstToken(line, out var rest);
                if (keyword.Equals("TITLE", StringComparison.OrdinalIgnoreCase))
                {
                    title = ParseTitle(rest);
                    continue;
                }
                rest = StripComment(rest);
                if (keyword.Equals("LUT_1D_SIZE", StringComparison.OrdinalIgnoreCase))
                    throw new CubeFormatException(name, lineNo, "this is a 1D LUT (LUT_1D_SIZE); only 3D LUTs (LUT_3D_SIZE) are supported");
                if (keyword.Equals("LUT_3D_SIZE", StringComparison.OrdinalIgnoreCase))
                {
                    if (size != 0) throw new CubeFormatException(name, lineNo, $"LUT_3D_SIZE given twice (first on line {sizeLine})");
                    if (!int.TryParse(rest.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out size))
                        throw new CubeFormatException(name, lineNo, $"LUT_3D_SIZE needs an integer, got '{rest.Trim().ToString()}'");
                    if (size < 2 || size > MaxSize)
                        throw new CubeFormatException(name, lineNo, $"LUT_3D_SIZE {size} is outside 2..{MaxSize}");
                    sizeLine = lineNo;
                    expected = size * size * size;
                    data = new float[expected * 3];
                    continue;
                }
                if (count > 0)
                    throw new CubeFormatException(name, lineNo, $"unexpected '{Truncate(line)}' after the data started (line {lastDataLine})");
                if (keyword.Equals("DOMAIN_MIN", StringComparison.OrdinalIgnoreCase))
                {
                    dmin = ParseTriple(rest, name, lineNo, "DOMAIN_MIN", v);
                    continue;
                }
                if (keyword.Equals("DOMAIN_MAX", StringComparison.OrdinalIgnoreCase))
                {
                    dmax = ParseTriple(rest, name, lineNo, "DOMAIN_MAX", v);
                    continue;
                }
                if (keyword.Equals("LUT_3D_INPUT_RANGE", StringComparison.OrdinalIgnoreCase))
                {
                    if (ParseNumbers(rest, v) != 2 || !double.IsFinite(v[0]) || !double.IsFinite(v[1]))
                        throw new CubeFormatException(name, lineNo, $"LUT_3D_INPUT_RANGE needs two numbers, got '{rest.Trim().ToString()}'");
                    float lo = (float)v[0], hi = (float)v[1];
                    dmin = [lo, lo, lo];
                    dmax = [hi, hi, hi];
                    continue;
                }
                if (keyword.Equals("LUT_1D_INPUT_RANGE", StringComparison.OrdinalIgnoreCase))
                    continue; // only meaningful for the 1D part of a combined file; harmless here
                if (IsKeyword(keyword)) continue; // unknown keyword (LUT_IN_VIDEO_RANGE, ...): ignored
                throw new CubeFormatException(name, lineNo, $"cannot read '{Truncate(line)}': expected a keyword or three numbers");
            }

            // Data line
            if (data == null)
                throw new CubeFormatException(name, lineNo, "data before LUT_3D_SIZE (is this a 3D .cube file?)");
            if (count >= expected)
                throw new CubeFormatException(name, lineNo, $"too many data lines: LUT_3D_SIZE {size} needs {expected}");
            int n = ParseNumbers(StripComment(line), v);
            if (n != 3)
                throw new CubeFormatException(name, lineNo, n < 0
                    ? $"not a number in '{Truncate(line)}'"
                    : $"expected 3 values, got {n} in '{Truncate(line)}'");
            for (int k = 0; k < 3; k++)
            {
                if (!double.IsFinite(v[k]))
                    throw new CubeFormatException(name, lineNo, $"value {k + 1} is {v[k].ToString(CultureInfo.InvariantCulture)}; LUT values must be finite");
                float f = (float)v[k];
                if (!float.IsFinite(f))
                    throw new CubeFormatException(name, lineNo, $"value {k + 1} ({v[k].ToString(CultureInfo.InvariantCulture)}) is out of float range");
                data[count * 3 + k] = f;
            }
            count++;
            lastDataLine = lineNo;
        }

        if (data == null) throw new CubeFormatException(name, 0, "no LUT_3D_SIZE line: not a 3D .cube file (or empty)");
        if (count != expected)
            throw new CubeFormatException(name, lineNo, $"too few data lines: LUT_3D_SIZE {size} needs {expected}, found {count}");
        dmin ??= [0f, 0f, 0f];
        dmax ??= [1f, 1f, 1f];
        for (int k = 0; k < 3; k++)
            if (!(dmax[k] > dmin[k]))
                throw new CubeFormatException(name, 0, $"domain for channel {"RGB"[k]} is empty: min {dmin[k].ToString(CultureInfo.InvariantCulture)} >= max {dmax[k].ToString(CultureInfo.InvariantCulture)}");
        return new Lut3D(size, data) { DomainMin = dmin, DomainMax = dmax, Title = title };
    }

    /// <summary>Writes <paramref name="lut"/> as a .cube file (LF line ends, invariant culture, 6 decimals) to
    /// the path it is given (callers stage it: <see cref="Imaging.OutputFiles"/>).</summary>
    public static void Write(string path, Lut3D lut, string? title = null, IEnumerable<string>? comments = null)
    {
        ArgumentNullException.ThrowIfNull(lut);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"cannot write LUT {path}: folder {dir} does not exist");
        using var w = new StreamWriter(full, false, new UTF8Encoding(false), 1 << 16);
        w.NewLine = "\n";
        WriteTo(w, lut, title, comments);
    }

    /// <summary>Writes the .cube text to <paramref name="w"/> (what <see cref="Write"/> puts in the file).</summary>
    public static void WriteTo(TextWriter w, Lut3D lut, string? title = null, IEnumerable<string>? comments = null)
    {
        var inv = CultureInfo.InvariantCulture;
        if (comments != null)
            foreach (var c in comments)
                foreach (var l in (c ?? "").Split('\n'))
                    w.WriteLine("# " + l.TrimEnd('\r'));
        title ??= lut.Title;
        if (!string.IsNullOrEmpty(title))
            w.WriteLine("TITLE \"" + title.Replace("\"", "'").Replace('\n', ' ').Replace('\r', ' ') + "\"");
        w.WriteLine("LUT_3D_SIZE " + lut.Size.ToString(inv));
        w.WriteLine("DOMAIN_MIN " + Num(lut.DomainMin[0]) + " " + Num(lut.DomainMin[1]) + " " + Num(lut.DomainMin[2]));
        w.WriteLine("DOMAIN_MAX " + Num(lut.DomainMax[0]) + " " + Num(lut.DomainMax[1]) + " " + Num(lut.DomainMax[2]));
        var d = lut.Data;
        var sb = new StringBuilder(64);
        for (int i = 0; i < d.Length; i += 3)
        {
            sb.Clear();
            sb.Append(Num(d[i])).Append(' ').Append(Num(d[i + 1])).Append(' ').Append(Num(d[i + 2]));
            w.WriteLine(sb);
        }
    }

    static string Num(float f)
    {
        string s = f.ToString("0.000000", CultureInfo.InvariantCulture);
        return s == "-0.000000" ? "0.000000" : s;
    }

    static ReadOnlySpan<char> FirstToken(ReadOnlySpan<char> line, out ReadOnlySpan<char> rest)
    {
        int i = 0;
        while (i < line.Length && !char.IsWhiteSpace(line[i])) i++;
        rest = line[i..];
        return line[..i];
    }

    static bool IsKeyword(ReadOnlySpan<char> token)
    {
        if (token.IsEmpty || !char.IsAsciiLetter(token[0])) return false;
        foreach (char c in token)
            if (!(char.IsAsciiLetterOrDigit(c) || c == '_')) return false;
        return true;
    }

    static ReadOnlySpan<char> StripComment(ReadOnlySpan<char> s)
    {
        int h = s.IndexOf('#');
        return h >= 0 ? s[..h] : s;
    }

    static string ParseTitle(ReadOnlySpan<char> rest)
    {
        rest = rest.Trim();
        if (rest.Length > 0 && rest[0] == '"')
        {
            int end = rest[1..].IndexOf('"');
            return (end >= 0 ? rest.Slice(1, end) : rest[1..]).ToString();
        }
        return StripComment(rest).Trim().ToString();
    }

    static float[] ParseTriple(ReadOnlySpan<char> rest, string name, int lineNo, string keyword, Span<double> v)
    {
        if (ParseNumbers(rest, v) != 3 || !double.IsFinite(v[0]) || !double.IsFinite(v[1]) || !double.IsFinite(v[2]))
            throw new CubeFormatException(name, lineNo, $"{keyword} needs three finite numbers, got '{rest.Trim().ToString()}'");
        return [(float)v[0], (float)v[1], (float)v[2]];
    }

    /// <summary>Parses whitespace-separated numbers into <paramref name="v"/>; returns how many
    /// there were (more than v.Length counts on), or -1 when one is not a number.</summary>
    static int ParseNumbers(ReadOnlySpan<char> s, Span<double> v)
    {
        int n = 0, i = 0;
        while (true)
        {
            while (i < s.Length && (s[i] == ' ' || s[i] == '\t' || char.IsWhiteSpace(s[i]))) i++;
            if (i >= s.Length) return n;
            int start = i;
            while (i < s.Length && !char.IsWhiteSpace(s[i])) i++;
            if (!double.TryParse(s[start..i], NumberStyles.Float, CultureInfo.InvariantCulture, out double x)) return -1;
            if (n < v.Length) v[n] = x;
            n++;
        }
    }

    static string Truncate(ReadOnlySpan<char> s) => s.Length <= 60 ? s.ToString() : s[..57].ToString() + "...";
}
