using System.Globalization;
using LatentBalance.Engine.Color;

namespace LatentBalance.Engine.Tests.Color;

public class CubeFileTests
{
    static Lut3D ParseText(string text, string name = "test.cube") => CubeFile.Parse(new StringReader(text), name);

    static string Body(int size, Func<int, int, int, string>? line = null)
    {
        var sb = new System.Text.StringBuilder();
        for (int b = 0; b < size; b++)
            for (int g = 0; g < size; g++)
                for (int r = 0; r < size; r++)
                    sb.Append(line?.Invoke(r, g, b) ?? string.Create(CultureInfo.InvariantCulture, $"{r / (size - 1.0)} {g / (size - 1.0)} {b / (size - 1.0)}")).Append('\n');
        return sb.ToString();
    }

    [Fact]
    public void AllArtisticLutsLoad()
    {
        var files = Directory.GetFiles(TestPaths.ArtisticLuts).Where(f => f.EndsWith(".cube", StringComparison.OrdinalIgnoreCase)).OrderBy(f => f).ToList();
        Assert.Equal(53, files.Count);
        foreach (var f in files)
        {
            var lut = CubeFile.Read(f);
            Assert.InRange(lut.Size, 16, 65);
            Assert.Equal(lut.Size * lut.Size * lut.Size * 3, lut.Data.Length);
            foreach (var v in lut.Data)
                if (!(float.IsFinite(v) && v >= -0.2f && v <= 1.2f)) Assert.Fail($"{Path.GetFileName(f)}: value {v} out of the expected range");
            Assert.Equal([0f, 0f, 0f], lut.DomainMin);
            Assert.Equal([1f, 1f, 1f], lut.DomainMax);
            // Not flat: a real grade spans a good part of the range.
            Assert.True(lut.Data.Max() - lut.Data.Min() > 0.3f, Path.GetFileName(f));
        }
    }

    [Fact]
    public void ReadsKnownFileHeaderAndFirstEntries()
    {
        var lut = CubeFile.Read(Path.Combine(TestPaths.ArtisticLuts, "LUTs__Neon_770.CUBE"));
        Assert.Equal(32, lut.Size);
        Assert.Equal("warm", lut.Title);
        var lut2 = CubeFile.Read(Path.Combine(TestPaths.ArtisticLuts, "LUT_MAGENTA__Neon.cube"));
        Assert.Equal(32, lut2.Size);
        Assert.Null(lut2.Title);
        Assert.Equal(0.027451f, lut2.Data[2], 6);
        Assert.Equal(0.007843f, lut2.Data[4], 6);
    }

    [Fact]
    public void AcceptsCrlfTabsCommentsAnyKeywordOrderAndDomain()
    {
        string text = "# leading comment\r\n\r\n  DOMAIN_MAX 2 2\t2  \r\nLUT_3D_SIZE\t2 # size\r\nTITLE \"My #1 LUT\"\r\nDOMAIN_MIN 0 -1 0\r\nLUT_IN_VIDEO_RANGE\r\n"
            + Body(2, (r, g, b) => $"{r}\t {g}   {b * 0.5}  ").Replace("\n", "\r\n") + "\r\n# trailing\r\n";
        var lut = ParseText(text);
        Assert.Equal(2, lut.Size);
        Assert.Equal("My #1 LUT", lut.Title);
        Assert.Equal([0f, -1f, 0f], lut.DomainMin);
        Assert.Equal([2f, 2f, 2f], lut.DomainMax);
        int i = lut.Index(1, 0, 1);
        Assert.Equal([1f, 0f, 0.5f], lut.Data[i..(i + 3)]);
    }

    [Fact]
    public void InputRangeSetsDomain()
    {
        var lut = ParseText("LUT_3D_SIZE 2\nLUT_3D_INPUT_RANGE 0.0 4.0\n" + Body(2));
        Assert.Equal([4f, 4f, 4f], lut.DomainMax);
        Assert.Equal([0f, 0f, 0f], lut.DomainMin);
    }

    [Fact]
    public void ReadsExponentNotation()
    {
        var lut = ParseText("LUT_3D_SIZE 2\n" + Body(2, (r, g, b) => "9.15541e-05 -1.5E-2 1e0"));
        Assert.Equal(9.15541e-05f, lut.Data[0]);
        Assert.Equal(-0.015f, lut.Data[1]);
    }

    [Theory]
    [InlineData("LUT_1D_SIZE 1024\n0 0 0\n", 1, "1D LUT")]
    [InlineData("0 0 0\n", 1, "before LUT_3D_SIZE")]
    [InlineData("LUT_3D_SIZE 1\n", 1, "outside 2..256")]
    [InlineData("LUT_3D_SIZE 300\n", 1, "outside 2..256")]
    [InlineData("LUT_3D_SIZE abc\n", 1, "integer")]
    [InlineData("# nothing\n", 0, "no LUT_3D_SIZE")]
    [InlineData("LUT_3D_SIZE 2\nLUT_3D_SIZE 2\n", 2, "twice")]
    [InlineData("LUT_3D_SIZE 2\nDOMAIN_MIN 0 0\n", 2, "DOMAIN_MIN")]
    [InlineData("LUT_3D_SIZE 2\nDOMAIN_MIN 1 0 0\nDOMAIN_MAX 1 1 1\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n", 0, "domain")]
    [InlineData("LUT_3D_SIZE 2\n\"quoted\" words\n", 2, "cannot read")]
    [InlineData("LUT_3D_SIZE 2\nUnknown_Keyword 3\n", 2, "too few data lines")]
    public void RejectsBadHeaders(string text, int line, string fragment)
    {
        var ex = Assert.Throws<CubeFormatException>(() => ParseText(text, "bad.cube"));
        Assert.IsAssignableFrom<FormatException>(ex);
        Assert.Equal(line, ex.LineNumber);
        Assert.Contains("bad.cube", ex.Message);
        Assert.Contains(fragment, ex.Message, StringComparison.OrdinalIgnoreCase);
        if (line > 0) Assert.Contains($"line {line}", ex.Message);
    }

    [Fact]
    public void TooFewDataLinesNamesFileAndCount()
    {
        var lines = Body(3).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var text = "LUT_3D_SIZE 3\n" + string.Join('\n', lines.Take(26)) + "\n";
        var ex = Assert.Throws<CubeFormatException>(() => ParseText(text, "short.cube"));
        Assert.Contains("short.cube", ex.Message);
        Assert.Contains("needs 27, found 26", ex.Message);
    }

    [Fact]
    public void TooManyDataLinesNamesLine()
    {
        var text = "TITLE \"x\"\nLUT_3D_SIZE 2\n" + Body(2) + "0 0 0\n";
        var ex = Assert.Throws<CubeFormatException>(() => ParseText(text, "long.cube"));
        Assert.Equal(11, ex.LineNumber);
        Assert.Contains("too many", ex.Message);
    }

    [Theory]
    [InlineData("0.5 abc 0.5", "not a number")]
    [InlineData("0.5 NaN 0.5", "finite")]
    [InlineData("NaN 0.5 0.5", "finite")]
    [InlineData("0.5 Infinity 0.5", "finite")]
    [InlineData("0.5 0.5", "expected 3 values, got 2")]
    [InlineData("0.5 0.5 0.5 0.5", "expected 3 values, got 4")]
    [InlineData("0,5 0,5 0,5", "not a number")]
    public void RejectsBadDataLineWithLineNumber(string bad, string fragment)
    {
        var lines = Body(2).Split('\n', StringSplitOptions.RemoveEmptyEntries).ToList();
        lines[4] = bad; // file line 2 + 4 + 1 = 7
        var text = "# c\nLUT_3D_SIZE 2\n" + string.Join('\n', lines) + "\n";
        var ex = Assert.Throws<CubeFormatException>(() => ParseText(text, "data.cube"));
        Assert.Equal(7, ex.LineNumber);
        Assert.Contains("data.cube, line 7", ex.Message);
        Assert.Contains(fragment, ex.Message);
    }

    [Fact]
    public void KeywordAfterDataIsRejected()
    {
        var text = "LUT_3D_SIZE 2\n0 0 0\nDOMAIN_MIN 0 0 0\n" + string.Join('\n', Body(2).Split('\n').Skip(1));
        var ex = Assert.Throws<CubeFormatException>(() => ParseText(text));
        Assert.Equal(3, ex.LineNumber);
    }

    [Fact]
    public void MissingFileThrowsFileNotFoundNamingPath()
    {
        var ex = Assert.Throws<FileNotFoundException>(() => CubeFile.Read("/nonexistent/x.cube"));
        Assert.Contains("/nonexistent/x.cube", ex.Message);
    }

    [Fact]
    public void RoundTripsThroughFile()
    {
        var dir = TestPaths.TempDir("cube");
        try
        {
            var src = CubeFile.Read(Path.Combine(TestPaths.ArtisticLuts, "LUT_BROWN__Era.cube"));
            var lut = new Lut3D(src.Size, src.Data) { DomainMin = [0f, -0.5f, 0f], DomainMax = [1f, 1.5f, 2f] };
            string path = Path.Combine(dir, "out.cube");
            File.WriteAllText(path, "old content");
            CubeFile.Write(path, lut, "Round \"trip\"", ["made by a test", "two\nlines"]);
            Assert.Equal(["out.cube"], Directory.GetFiles(dir).Select(Path.GetFileName));
            var back = CubeFile.Read(path);
            Assert.Equal(lut.Size, back.Size);
            Assert.Equal("Round 'trip'", back.Title);
            Assert.Equal(lut.DomainMin, back.DomainMin);
            Assert.Equal(lut.DomainMax, back.DomainMax);
            for (int i = 0; i < lut.Data.Length; i++)
                Assert.True(Math.Abs(lut.Data[i] - back.Data[i]) <= 5.01e-7f, $"entry {i}: {lut.Data[i]} vs {back.Data[i]}");
            var text = File.ReadAllText(path);
            Assert.StartsWith("# made by a test\n# two\n# lines\nTITLE", text);
            Assert.DoesNotContain("\r", text);
            Assert.DoesNotContain(",", text);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void WriteUsesInvariantCultureUnderCommaLocale()
    {
        var dir = TestPaths.TempDir("cube-culture");
        var old = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("de-DE");
            string path = Path.Combine(dir, "id.cube");
            CubeFile.Write(path, Lut3D.Identity(3));
            Assert.Contains("0.500000 0.000000 0.000000", File.ReadAllText(path));
            var back = CubeFile.Read(path);
            Assert.Equal(Lut3D.Identity(3).Data, back.Data);
        }
        finally { CultureInfo.CurrentCulture = old; Directory.Delete(dir, true); }
    }

    [Fact]
    public void WriteToMissingFolderFailsClearly()
    {
        var ex = Assert.Throws<DirectoryNotFoundException>(() => CubeFile.Write("/nonexistent-dir/x.cube", Lut3D.Identity(2)));
        Assert.Contains("/nonexistent-dir", ex.Message);
    }
}
