using LatentBalance.Engine.Imaging;
using NetVips;

namespace LatentBalance.Engine.Tests.Imaging;

/// <summary>Both writer modes give the pixels libvips alone gives. Their speed against libvips is a
/// benchmark, not a test: <c>dotnet cake --target=benchmark --bench=writer</c>.</summary>
public class WriterIdentityTests
{
    [Fact]
    public void Identity_write_gives_the_pixels_of_libvips_alone_in_both_modes()
    {
        var dir = TestPaths.TempDir("imaging-identity");
        var input = Path.Combine(dir, "photo.jpg");
        using (var im = TestImages.PhotoLike(1536, 1024)) im.Jpegsave(input, q: 92);
        var src = PhotoReader.Open(input);
        var outVips = Path.Combine(dir, "vips.jpg");
        using (var im = Image.NewFromFile(input, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error))
            im.Jpegsave(outVips, q: 95, keep: Enums.ForeignKeep.All);

        using var expected = TestImages.Load(outVips);
        foreach (var mode in new[] { WriterMode.Streamed, WriterMode.InMemory })
        {
            var output = Path.Combine(dir, $"ours-{mode}.jpg");
            new PhotoWriter(new PhotoWriterOptions { JpegQuality = 95, Mode = mode }).Write(src, new IdentityTransform(), output);
            using var actual = TestImages.Load(output);
            Assert.Equal(0, TestImages.MaxAbsDiff(expected, actual));
        }
    }
}
