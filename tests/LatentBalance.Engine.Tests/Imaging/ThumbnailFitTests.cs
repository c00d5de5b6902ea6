using System.Diagnostics;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Imaging;
using NetVips;
using Xunit.Abstractions;

namespace LatentBalance.Engine.Tests.Imaging;

public class ThumbnailFitTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Landscape_photo_fits_whole_frame_with_padding_outside_the_mask(bool shrinkOnLoad)
    {
        var path = Path.Combine(TestPaths.TempDir("imaging-tile"), "land.jpg");
        using (var im = TestImages.Rgb8(1200, 800)) im.Jpegsave(path, q: 95);
        var tile = ThumbnailFit.FromSource(PhotoReader.Open(path), new ThumbnailFitOptions { ShrinkOnLoad = shrinkOnLoad });

        Assert.Equal(224, tile.Size);
        Assert.Equal((224, 149), (tile.ContentWidth, tile.ContentHeight));
        Assert.Equal((0, 37), (tile.ContentX, tile.ContentY));
        Assert.Equal(224 * 149, tile.ValidCount);
        Assert.False(tile.Mask[0]);
        Assert.True(tile.Mask[(37 + 10) * 224 + 10]);
        Assert.All(tile.Chw, v => Assert.InRange(v, 0f, 1f));
        // red grows left to right (20..240 of 255), green top to bottom
        Assert.InRange(tile[0, 112, 2], 0.06f, 0.14f);
        Assert.InRange(tile[0, 112, 221], 0.85f, 0.95f);
        Assert.True(tile[1, 37 + 140, 100] > tile[1, 37 + 5, 100] + 0.5f);
        // edge replicate: the pad above repeats the first photo row
        Assert.Equal(tile[0, 37, 50], tile[0, 0, 50], 3);

        using var t = tile.ToTensor();
        Assert.Equal(new long[] { 1, 3, 224, 224 }, t.shape);
        using var m = tile.MaskTensor();
        Assert.Equal(new long[] { 1, 1, 224, 224 }, m.shape);
        Assert.Equal(224 * 149, m.sum().item<long>());
    }

    [Fact]
    public void Channel_means_skip_the_padding_and_are_also_taken_in_linear_light()
    {
        // a 2x2 tile: pixels 0 and 3 are the photo, 1 and 2 padding with values that would move the means
        float[] chw = [0.2f, 1, 1, 0.6f, 0, 1, 1, 1, 0.5f, 0, 0, 0.5f];
        var (srgb, linear, n) = new ModelTile(2, chw, [true, false, false, true], 0, 0, 2, 2).ChannelMeans();
        Assert.Equal(2, n);
        Assert.Equal([0.4, 0.5, 0.5], srgb.Select(v => Math.Round(v, 6)));
        Assert.Equal((ColorSpaces.SrgbToLinear(0.2f) + ColorSpaces.SrgbToLinear(0.6f)) / 2, linear[0], 12);
        Assert.Equal(0.5, linear[1], 12);
        Assert.Equal(ColorSpaces.SrgbToLinear(0.5), linear[2], 12);
    }

    [Fact]
    public void Float_tiff_gives_the_same_tile_as_the_8_bit_photo()
    {
        // GIMP hands float layers over as float TIFF (sRGB-encoded values, which libvips tags scRGB):
        // the tile must see the same colours as for the 8-bit file, or the correction differs
        var dir = TestPaths.TempDir("imaging-float-tile");
        var png = Path.Combine(dir, "photo.png");
        var tif = Path.Combine(dir, "photo.tif");
        using (var im = TestImages.Rgb8(900, 600)) im.Pngsave(png);
        using (var im = Image.NewFromFile(png))
        using (var f = im.Cast(Enums.BandFormat.Float).Linear([1 / 255.0], [0]))
            f.Tiffsave(tif);
        var t8 = ThumbnailFit.FromSource(PhotoReader.Open(png));
        var tf = ThumbnailFit.FromSource(PhotoReader.Open(tif));
        double mean = t8.Chw.Zip(tf.Chw, (a, b) => Math.Abs(a - b)).Average();
        output.WriteLine($"mean |8-bit tile - float tile| = {mean:F5}");
        Assert.True(mean < 0.004, $"tiles differ by {mean}");
    }

    [Fact]
    public void Non_finite_samples_of_a_float_photo_do_not_spread_into_the_tile()
    {
        // issue 13 item 1: one NaN sample made the whole tile (and so the LUT and every output pixel) NaN
        var dir = TestPaths.TempDir("imaging-nan-tile");
        var clean = Path.Combine(dir, "clean.tif");
        var holes = Path.Combine(dir, "holes.tif");
        using (var im = TestImages.Rgb8(900, 600))
        using (var f = im.Cast(Enums.BandFormat.Float).Linear([1 / 255.0], [0]))
        {
            f.Tiffsave(clean);
            TestImages.WithSamples(f, [(100, 100, 0, float.NaN), (400, 300, 1, float.PositiveInfinity), (700, 500, 2, float.NegativeInfinity)]).Tiffsave(holes);
        }
        var tc = ThumbnailFit.FromSource(PhotoReader.Open(clean));
        var th = ThumbnailFit.FromSource(PhotoReader.Open(holes));
        Assert.All(th.Chw, v => Assert.True(float.IsFinite(v)));
        var diff = tc.Chw.Zip(th.Chw, (a, b) => Math.Abs(a - b)).ToArray();
        output.WriteLine($"|clean tile - tile with NaN/inf samples|: largest {diff.Max():F5}, mean {diff.Average():E2}, values moved {diff.Count(d => d > 1e-6)}");
        // a replaced sample is one of about 16 behind a tile value: it moves its own few tile values a little
        Assert.True(diff.Max() < 0.1, $"three replaced samples moved a tile value by {diff.Max()}");
        // and only within the resize kernel's reach: at most an 8x8 patch of tile values in its band each
        Assert.True(diff.Count(d => d > 1e-6) <= 3 * 64, $"{diff.Count(d => d > 1e-6)} tile values moved: the replacement spread");
    }

    [Fact]
    public void Portrait_orientation_and_mid_grey_padding()
    {
        var path = Path.Combine(TestPaths.TempDir("imaging-tile-o"), "rot.jpg");
        using (var im = TestImages.Rgb8(600, 300))
        using (var tagged = im.Mutate(m => m.Set(GValue.GIntType, "orientation", 6)))
            tagged.Jpegsave(path, q: 95);
        var tile = ThumbnailFit.FromSource(PhotoReader.Open(path), new ThumbnailFitOptions { Padding = TilePadding.MidGrey });
        Assert.Equal((112, 224), (tile.ContentWidth, tile.ContentHeight)); // upright: portrait
        Assert.Equal(56, tile.ContentX);
        Assert.Equal(0.5f, tile[0, 100, 3], 3);
        Assert.Equal(0.5f, tile[2, 100, 220], 3);
    }

    [Fact]
    public void Transparent_pixels_are_outside_the_mask()
    {
        var path = Path.Combine(TestPaths.TempDir("imaging-tile-a"), "alpha.png");
        using (var rgb = TestImages.Rgb8(448, 448))
        using (var xyz = Image.Xyz(448, 448))
        using (var x = xyz[0])
        using (var alpha = (x > 224).Cast(Enums.BandFormat.Uchar)) // 0 or 255: left half transparent
        using (var rgba = rgb.Bandjoin(alpha))
            rgba.Pngsave(path);
        var tile = ThumbnailFit.FromSource(PhotoReader.Open(path));
        Assert.False(tile.Mask[100 * 224 + 50]);
        Assert.True(tile.Mask[100 * 224 + 170]);
        Assert.InRange(tile.ValidCount, 224 * 100, 224 * 124);
    }

    [Fact]
    public void A_fully_transparent_photo_is_refused_by_name()
    {
        // issue 13 item 6: it failed deep in the fit as an index error (code Internal in the daemon)
        var path = Path.Combine(TestPaths.TempDir("imaging-tile-clear"), "clear.png");
        using (var rgb = TestImages.Rgb8(300, 200))
        using (var alpha = Image.Black(300, 200).Cast(Enums.BandFormat.Uchar))
        using (var rgba = rgb.Bandjoin(alpha))
            rgba.Pngsave(path);
        var e = Assert.Throws<ImageInputException>(() => ThumbnailFit.FromSource(PhotoReader.Open(path)));
        Assert.Equal(FileErrorKind.BadImage, e.Kind);
        Assert.Contains("clear.png", e.Message);
        Assert.Contains("transparent", e.Message);
    }

    [Fact]
    public void Shrink_on_load_agrees_with_full_decode_and_is_faster()
    {
        var path = Path.Combine(TestPaths.TempDir("imaging-tile-t"), "big.jpg");
        using (var im = TestImages.PhotoLike(6000, 4000)) im.Jpegsave(path, q: 92);
        var src = PhotoReader.Open(path);
        ModelTile fast = null!, slow = null!;
        var tFast = Time(() => fast = ThumbnailFit.FromSource(src));
        var tSlow = Time(() => slow = ThumbnailFit.FromSource(src, new ThumbnailFitOptions { ShrinkOnLoad = false }));
        double mean = fast.Chw.Zip(slow.Chw, (a, b) => Math.Abs(a - b)).Average();
        output.WriteLine($"24 MP JPEG -> 224 tile: shrink-on-load {tFast:F0} ms, full decode + resize {tSlow:F0} ms; mean |diff| {mean:F4}");
        Assert.True(mean < 0.02, $"mean diff {mean}");
        Assert.Equal(fast.ContentHeight, slow.ContentHeight);
    }

    static double Time(Action a)
    {
        a(); // warm
        var best = double.MaxValue;
        for (int i = 0; i < 3; i++)
        {
            var sw = Stopwatch.StartNew();
            a();
            best = Math.Min(best, sw.Elapsed.TotalMilliseconds);
        }
        return best;
    }
}
