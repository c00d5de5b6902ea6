using LatentBalance.Engine.Imaging;
using NetVips;

namespace LatentBalance.Engine.Tests.Imaging;

public class ComparePictureTests
{
    [Fact]
    public void Writes_side_by_side_scaled_to_max_height()
    {
        var dir = TestPaths.TempDir("imaging-compare");
        var before = Path.Combine(dir, "before.jpg");
        var after = Path.Combine(dir, "after.png");
        var cmp = Path.Combine(dir, "compare.jpg");
        using (var im = TestImages.Rgb8(3000, 2000)) im.Jpegsave(before);
        new PhotoWriter().Write(PhotoReader.Open(before), new InvertRgb(), after);

        ComparePicture.Write(before, after, cmp, new ComparePictureOptions { MaxHeight = 400, Gap = 10 });
        using var got = TestImages.Load(cmp);
        Assert.Equal(400, got.Height);
        Assert.Equal(600 + 10 + 600, got.Width);
        // right half is the inverse of the left half (away from the label corner)
        var l = got.Getpoint(450, 300);
        var r = got.Getpoint(610 + 450, 300);
        Assert.InRange(l[0] + r[0], 245, 265);
        Assert.Empty(TestImages.OtherFiles(dir, "before.jpg", "after.png", "compare.jpg"));
    }

    [Fact]
    public void Refuses_to_overwrite_either_photo()
    {
        var dir = TestPaths.TempDir("imaging-compare2");
        var before = Path.Combine(dir, "before.jpg");
        var after = Path.Combine(dir, "after.jpg");
        using (var im = TestImages.Rgb8(100, 80)) { im.Jpegsave(before); im.Jpegsave(after); }
        Assert.Throws<ImageOutputException>(() => ComparePicture.Write(before, after, after));
        Assert.Throws<ImageOutputException>(() => ComparePicture.Write(before, after, before));
    }
}
