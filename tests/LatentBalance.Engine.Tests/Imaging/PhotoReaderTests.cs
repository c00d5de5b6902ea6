using System.Buffers.Binary;
using LatentBalance.Engine.Imaging;
using NetVips;

namespace LatentBalance.Engine.Tests.Imaging;

public class PhotoReaderTests
{
    [Fact]
    public void Missing_file_is_named()
    {
        var path = Path.Combine(TestPaths.TempDir("imaging-missing"), "nothere.jpg");
        var e = Assert.Throws<ImageInputException>(() => PhotoReader.Open(path));
        Assert.Contains("nothere.jpg", e.Message);
        Assert.Contains("not found", e.Message);
    }

    [Fact]
    public void Text_file_named_jpg_is_not_an_image()
    {
        var path = Path.Combine(TestPaths.TempDir("imaging-text"), "notes.jpg");
        File.WriteAllText(path, "this is a shopping list, not a photo\n");
        var e = Assert.Throws<ImageInputException>(() => PhotoReader.Open(path));
        Assert.Contains("notes.jpg", e.Message);
        Assert.Contains("not an image", e.Message);
    }

    [Fact]
    public void Only_regular_files_are_read_and_each_other_kind_is_named()
    {
        // issue 13 items 2 and 6: a named pipe called photo.jpg blocked the reader for good; a dangling or
        // looping link was "not an image"
        var dir = TestPaths.TempDir("imaging-kinds");
        var fifo = Path.Combine(dir, "photo.jpg");
        using (var p = System.Diagnostics.Process.Start("mkfifo", [fifo])) p.WaitForExit();
        var dangling = File.CreateSymbolicLink(Path.Combine(dir, "dangling.jpg"), Path.Combine(dir, "gone.jpg")).FullName;
        var loopA = Path.Combine(dir, "loop.jpg");
        File.CreateSymbolicLink(loopA + ".b", loopA);
        File.CreateSymbolicLink(loopA, loopA + ".b");
        var good = Path.Combine(dir, "good.png");
        using (var im = TestImages.Rgb8(40, 30)) im.Pngsave(good);
        var linked = File.CreateSymbolicLink(Path.Combine(dir, "linked.png"), good).FullName;

        var open = Task.Run(() => Assert.Throws<ImageInputException>(() => PhotoReader.Open(fifo)));
        Assert.True(open.Wait(TimeSpan.FromSeconds(20)), "opening a named pipe blocked");
        Assert.Equal(FileErrorKind.InvalidPath, open.Result.Kind);
        Assert.Contains("named pipe", open.Result.Message);
        Assert.Contains("photo.jpg", open.Result.Message);

        var e = Assert.Throws<ImageInputException>(() => PhotoReader.Open(dangling));
        Assert.Equal(FileErrorKind.NotFound, e.Kind);
        Assert.Contains("symbolic link to a file that does not exist", e.Message);
        Assert.Contains("gone.jpg", e.Message);
        e = Assert.Throws<ImageInputException>(() => PhotoReader.Open(loopA));
        Assert.Equal(FileErrorKind.InvalidPath, e.Kind);
        Assert.Contains("loops", e.Message);
        e = Assert.Throws<ImageInputException>(() => PhotoReader.Open("/dev/zero"));
        Assert.Contains("device", e.Message);
        Assert.Equal(InputPathKind.RegularFile, InputPath.Inspect(linked)); // a link to a photo is read
        Assert.Equal(40, PhotoReader.Open(linked).Width);
    }

    [Fact]
    public void A_failed_loader_search_leaves_no_text_for_the_next_error()
    {
        // issue 13 item 3: "... is not a known file format" stayed in libvips' error buffer
        var dir = TestPaths.TempDir("imaging-error-buffer");
        var text = Path.Combine(dir, "shopping.jpg");
        File.WriteAllText(text, "eggs, milk\n");
        Assert.Throws<ImageInputException>(() => PhotoReader.Open(text));
        var cut = Path.Combine(dir, "cut.jpg");
        using (var im = TestImages.Rgb8(300, 200)) im.Jpegsave(cut, q: 90);
        var bytes = File.ReadAllBytes(cut);
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<ImageInputException>(() => PhotoReader.Open(cut, new PhotoReaderOptions { VerifyPixels = true }));
        Assert.Contains("cut.jpg", e.Message);
        Assert.DoesNotContain("shopping", e.Message);
    }

    [Fact]
    public void Multi_page_files_say_that_only_the_first_page_is_read()
    {
        // issue 13 item 10: a multi-page TIFF or animated GIF lost its other pages with no word to the user
        var dir = TestPaths.TempDir("imaging-pages");
        var tif = Path.Combine(dir, "scan.tif");
        var gif = Path.Combine(dir, "anim.gif");
        var one = Path.Combine(dir, "one.tif");
        using (var a = TestImages.Rgb8(60, 40, 0))
        using (var b = TestImages.Rgb8(60, 40, 30))
        using (var c = TestImages.Rgb8(60, 40, 60))
        using (var pages = Image.Arrayjoin([a, b, c], across: 1))
        using (var tagged = pages.Mutate(m => m.Set(GValue.GIntType, "page-height", 40)))
        {
            tagged.Tiffsave(tif);
            tagged.Gifsave(gif);
            a.Tiffsave(one);
        }
        foreach (var path in new[] { tif, gif })
        {
            var src = PhotoReader.Open(path);
            Assert.Equal(3, src.Pages);
            Assert.Equal(40, src.Height); // the first page
            Assert.Contains("3 pages", Assert.Single(src.Notes));
        }
        Assert.Empty(PhotoReader.Open(one).Notes);
    }

    [Fact]
    public void A_corrupt_icc_profile_in_the_input_is_blamed_on_the_input_at_open()
    {
        // issue 13 item 6: it failed in the writer and was reported as an output error
        var dir = TestPaths.TempDir("imaging-bad-icc");
        var path = Path.Combine(dir, "badicc.jpg");
        using (var im = TestImages.Rgb8(64, 48))
        using (var p3 = im.IccTransform("p3", inputProfile: "srgb", embedded: false))
        {
            var icc = (byte[])p3.Get("icc-profile-data");
            for (int i = 132; i < icc.Length; i++) icc[i] = 0xA5; // header intact, tag table and tags garbage
            using var bad = p3.Mutate(m => m.Set(GValue.BlobType, "icc-profile-data", icc));
            bad.Jpegsave(path, q: 90, keep: Enums.ForeignKeep.All);
        }
        var e = Assert.Throws<ImageInputException>(() => PhotoReader.Open(path));
        Assert.Equal(FileErrorKind.BadImage, e.Kind);
        Assert.Contains("badicc.jpg", e.Message);
        Assert.Contains("ICC profile", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void Empty_file_and_directory_are_refused()
    {
        var dir = TestPaths.TempDir("imaging-empty");
        var path = Path.Combine(dir, "empty.png");
        File.WriteAllBytes(path, []);
        Assert.Contains("empty", Assert.Throws<ImageInputException>(() => PhotoReader.Open(path)).Message);
        Assert.Contains("directory", Assert.Throws<ImageInputException>(() => PhotoReader.Open(dir)).Message);
    }

    [Fact]
    public void Truncated_jpeg_fails_when_verified_at_open_and_when_tiled()
    {
        var dir = TestPaths.TempDir("imaging-trunc-open");
        var full = Path.Combine(dir, "full.jpg");
        var cut = Path.Combine(dir, "cut.jpg");
        using (var im = TestImages.PhotoLike(640, 480)) im.Jpegsave(full, q: 90);
        var bytes = File.ReadAllBytes(full);
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);

        var e = Assert.Throws<ImageInputException>(() => PhotoReader.Open(cut, new PhotoReaderOptions { VerifyPixels = true }));
        Assert.Contains("cut.jpg", e.Message);
        var src = PhotoReader.Open(cut);
        var e2 = Assert.Throws<ImageInputException>(() => ThumbnailFit.FromSource(src));
        Assert.Contains("cut.jpg", e2.Message);
        var e3 = Assert.Throws<ImageInputException>(() => ThumbnailFit.FromSource(src, new ThumbnailFitOptions { ShrinkOnLoad = false }));
        Assert.Contains("cut.jpg", e3.Message);
        // the intact file passes the same checks
        PhotoReader.Open(full, new PhotoReaderOptions { VerifyPixels = true });
    }

    /// <summary>A PNG whose header claims <paramref name="w"/>x<paramref name="h"/> (valid CRCs), followed by a tiny IDAT.</summary>
    static byte[] PngHeader(int w, int h)
    {
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, w);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), h);
        ihdr[8] = 8; ihdr[9] = 2;
        return [137, 80, 78, 71, 13, 10, 26, 10, .. Chunk("IHDR", ihdr), .. Chunk("IDAT", [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0, 0, 0, 1]), .. Chunk("IEND", [])];
    }

    static byte[] Chunk(string type, byte[] data)
    {
        var b = new byte[12 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(b, data.Length);
        System.Text.Encoding.ASCII.GetBytes(type).CopyTo(b, 4);
        data.CopyTo(b, 8);
        BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(8 + data.Length), Crc32(b.AsSpan(4, 4 + data.Length)));
        return b;
    }

    static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint c = 0xFFFFFFFF;
        foreach (var x in data)
        {
            c ^= x;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
        }
        return ~c;
    }

    [Fact]
    public void Absurd_dimensions_are_refused_before_decoding()
    {
        var dir = TestPaths.TempDir("imaging-huge");
        var path = Path.Combine(dir, "huge.png");
        File.WriteAllBytes(path, PngHeader(100000, 100000));
        var e = Assert.Throws<ImageInputException>(() => PhotoReader.Open(path));
        Assert.Contains("huge.png", e.Message);
        Assert.Contains("megapixels", e.Message);
        Assert.Contains("100000x100000", e.Message);
    }

    [Fact]
    public void Megapixel_limit_is_configurable()
    {
        var dir = TestPaths.TempDir("imaging-limit");
        var path = Path.Combine(dir, "mid.png");
        using (var im = TestImages.Rgb8(2000, 1000)) im.Pngsave(path);
        Assert.Equal(2000, PhotoReader.Open(path).Width);
        var e = Assert.Throws<ImageInputException>(() => PhotoReader.Open(path, new PhotoReaderOptions { MaxMegapixels = 1 }));
        Assert.Contains("above the limit of 1 megapixels", e.Message);
    }

    [Fact]
    public void Zero_size_header_is_refused()
    {
        var path = Path.Combine(TestPaths.TempDir("imaging-zero"), "zero.png");
        File.WriteAllBytes(path, PngHeader(0, 100));
        var e = Assert.Throws<ImageInputException>(() => PhotoReader.Open(path));
        Assert.Contains("zero.png", e.Message);
    }

    [Fact]
    public void Unsupported_band_layout_is_refused()
    {
        var path = Path.Combine(TestPaths.TempDir("imaging-bands"), "six.tif");
        using (var im = TestImages.Rgb8(20, 10))
        using (var six = im.Bandjoin(im))
            six.Copy(interpretation: Enums.Interpretation.Multiband).Tiffsave(path);
        var e = Assert.Throws<ImageInputException>(() => PhotoReader.Open(path));
        Assert.Contains("six.tif", e.Message);
        Assert.Contains("6 bands", e.Message);
    }

    [Theory]
    [InlineData(3, 1)]
    [InlineData(4, 0)]
    [InlineData(4, 3)]
    public void A_grey_tagged_tiff_with_three_or_four_samples_is_refused(int bands, int photometric)
    {
        // found by the fuzz test (issue 13): photometric min-is-black/white or palette on an RGB(A) TIFF was
        // taken as RGB(A), the tile came out with 5 or 6 bands and BalanceFile threw an ArgumentException
        var path = Path.Combine(TestPaths.TempDir("imaging-grey-bands"), "greyish.tif");
        using (var im = TestImages.Rgb8(20, 10))
        using (var alpha = im[0])
        using (var withBands = bands == 4 ? im.Bandjoin(alpha) : im.Copy())
            withBands.Tiffsave(path, compression: Enums.ForeignTiffCompression.None);
        var b = File.ReadAllBytes(path);
        Assert.Equal((byte)'I', b[0]);
        int ifd = BinaryPrimitives.ReadInt32LittleEndian(b.AsSpan(4));
        int entries = BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(ifd));
        int e = Enumerable.Range(0, entries).Select(i => ifd + 2 + 12 * i).Single(at => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at)) == 262);
        BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(e + 8), (ushort)photometric);
        File.WriteAllBytes(path, b);

        var ex = Assert.Throws<ImageInputException>(() => PhotoReader.Open(path));
        Assert.Equal(FileErrorKind.BadImage, ex.Kind);
        Assert.Contains("greyish.tif", ex.Message);
        Assert.Contains($"grey image with {bands} bands", ex.Message);
    }

    [Fact]
    public void Describes_a_plain_srgb_jpeg()
    {
        var path = Path.Combine(TestPaths.TempDir("imaging-desc"), "p.jpg");
        using (var im = TestImages.Rgb8(64, 32)) im.Jpegsave(path);
        var s = PhotoReader.Open(path);
        Assert.Equal((64, 32, 1), (s.Width, s.Height, s.Orientation));
        Assert.Equal(PhotoColourKind.Rgb, s.ColourKind);
        Assert.Equal(Enums.BandFormat.Uchar, s.WorkingFormat);
        Assert.False(s.ConvertsThroughIcc);
        Assert.Contains("Jpeg", s.Loader);
        using var w = s.OpenWorking();
        Assert.Equal((64, 32, 3), (w.Width, w.Height, w.Bands));
    }

    [Fact]
    public void Icc_profile_descriptions_are_recognised()
    {
        using var im = TestImages.Rgb8(8, 8);
        using var p3 = im.IccTransform("p3", inputProfile: "srgb", embedded: false);
        using var srgb = im.IccTransform("srgb", inputProfile: "srgb", embedded: false);
        var p3Info = IccProfileInfo.TryParse((byte[])p3.Get("icc-profile-data"))!;
        var srgbInfo = IccProfileInfo.TryParse((byte[])srgb.Get("icc-profile-data"))!;
        Assert.True(p3Info.IsRgb);
        Assert.False(p3Info.IsSrgb);
        Assert.True(srgbInfo.IsSrgb, srgbInfo.Description);
        Assert.Null(IccProfileInfo.TryParse("not a profile"u8.ToArray()));
    }
}
