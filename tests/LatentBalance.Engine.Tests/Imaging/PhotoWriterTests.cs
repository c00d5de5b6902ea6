using LatentBalance.Engine.Imaging;
using NetVips;

namespace LatentBalance.Engine.Tests.Imaging;

public class PhotoWriterTests
{
    static void Save(Image im, string path)
    {
        switch (Path.GetExtension(path))
        {
            case ".jpg": im.Jpegsave(path, q: 95); break;
            case ".webp": im.Webpsave(path, q: 95); break;
            case ".tif": im.Tiffsave(path); break;
            default: im.Pngsave(path); break;
        }
    }

    [Theory]
    [InlineData(".png", ".png", WriterMode.Streamed)]
    [InlineData(".png", ".png", WriterMode.InMemory)]
    [InlineData(".tif", ".tif", WriterMode.Streamed)]
    [InlineData(".jpg", ".jpg", WriterMode.Streamed)]
    [InlineData(".jpg", ".jpg", WriterMode.InMemory)]
    [InlineData(".webp", ".webp", WriterMode.Streamed)]
    [InlineData(".png", ".jpg", WriterMode.Streamed)]
    [InlineData(".jpg", ".tif", WriterMode.Streamed)]
    public void Round_trip_applies_the_transform(string inExt, string outExt, WriterMode mode)
    {
        var dir = TestPaths.TempDir("imaging-rt");
        var input = Path.Combine(dir, "in" + inExt);
        var output = Path.Combine(dir, "out" + outExt);
        using (var im = TestImages.Rgb8(301, 203)) Save(im, input);

        var src = PhotoReader.Open(input);
        Assert.Equal(Enums.BandFormat.Uchar, src.WorkingFormat);
        new PhotoWriter(new PhotoWriterOptions { Mode = mode }).Write(src, new SwapRedBlue(), output);

        using var decodedIn = TestImages.Load(input);
        using var expected = TestImages.SwapRb(decodedIn);
        using var got = TestImages.Load(output);
        Assert.Equal((301, 203, 3), (got.Width, got.Height, got.Bands));
        Assert.Equal(Enums.BandFormat.Uchar, got.Format);
        bool lossless = outExt is ".png" or ".tif";
        if (lossless) Assert.Equal(0, TestImages.MaxAbsDiff(expected, got));
        else Assert.True(TestImages.MeanAbsDiff(expected, got) < 2.0, $"mean diff {TestImages.MeanAbsDiff(expected, got)}");
        // the swap is really there: R and B differ a lot in this gradient
        using var notSwapped = decodedIn.Copy();
        Assert.True(TestImages.MeanAbsDiff(notSwapped, got) > 20);
        Assert.Equal(new[] { "in" + inExt, "out" + outExt }.Order(), Directory.GetFiles(dir).Select(Path.GetFileName).Order());
    }

    /// <summary>Found by the engine fuzz test with the streamed mode as the default: a photo under 8 rows
    /// (there, a tiled TIFF whose IFD height was edited to 1) made the strip height Math.Clamp(x, 8, h)
    /// with h &lt; 8, an ArgumentException instead of a photo.</summary>
    [Theory]
    [InlineData(WriterMode.Streamed, 1)]
    [InlineData(WriterMode.Streamed, 7)]
    [InlineData(WriterMode.InMemory, 1)]
    public void A_photo_of_a_few_rows_is_written_in_either_mode(WriterMode mode, int rows)
    {
        var dir = TestPaths.TempDir("imaging-rows");
        var input = Path.Combine(dir, "in.png");
        var output = Path.Combine(dir, "out.png");
        using (var im = TestImages.Rgb8(301, rows)) im.Pngsave(input);
        new PhotoWriter(new PhotoWriterOptions { Mode = mode }).Write(PhotoReader.Open(input), new SwapRedBlue(), output);
        using var decodedIn = TestImages.Load(input);
        using var expected = TestImages.SwapRb(decodedIn);
        using var got = TestImages.Load(output);
        Assert.Equal((301, rows), (got.Width, got.Height));
        Assert.Equal(0, TestImages.MaxAbsDiff(expected, got));
    }

    [Theory]
    [InlineData(WriterMode.Streamed)]
    [InlineData(WriterMode.InMemory)]
    public void Sixteen_bit_png_stays_16_bit_with_exact_values(WriterMode mode)
    {
        var dir = TestPaths.TempDir("imaging-16");
        var input = Path.Combine(dir, "in.png");
        var output = Path.Combine(dir, "out.png");
        using (var im = TestImages.Rgb16(257, 129)) im.Pngsave(input);

        var src = PhotoReader.Open(input);
        Assert.Equal(Enums.BandFormat.Ushort, src.FileFormat);
        Assert.Equal(Enums.BandFormat.Ushort, src.WorkingFormat);
        new PhotoWriter(new PhotoWriterOptions { Mode = mode }).Write(src, new InvertRgb(), output);

        using var inp = TestImages.Load(input);
        using var got = TestImages.Load(output);
        Assert.Equal(Enums.BandFormat.Ushort, got.Format);
        Assert.Equal(Enums.Interpretation.Rgb16, got.Interpretation);
        using var expected = inp.Linear([-1, -1, -1], [65535, 65535, 65535]);
        Assert.Equal(0, TestImages.MaxAbsDiff(expected, got));
        // values that are not multiples of 257 survive (no 8-bit detour)
        var px = got.Getpoint(100, 50);
        var pin = inp.Getpoint(100, 50);
        Assert.Equal(65535 - pin[0], px[0]);
        Assert.NotEqual(0, pin[0] % 257);
    }

    /// <summary>An identity transform gives the pixels libvips alone gives at the same quality. (Speed
    /// against libvips is a benchmark, not a test: <c>dotnet cake --target=benchmark --bench=writer</c>.)</summary>
    [Theory]
    [InlineData(WriterMode.Streamed)]
    [InlineData(WriterMode.InMemory)]
    public void Identity_jpeg_write_gives_the_pixels_of_libvips_alone(WriterMode mode)
    {
        var dir = TestPaths.TempDir("imaging-identity");
        var input = Path.Combine(dir, "photo.jpg");
        var viaVips = Path.Combine(dir, "vips.jpg");
        var ours = Path.Combine(dir, "ours.jpg");
        using (var im = TestImages.PhotoLike(1536, 1024)) im.Jpegsave(input, q: 92);
        using (var im = Image.NewFromFile(input, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error))
            im.Jpegsave(viaVips, q: 95, keep: Enums.ForeignKeep.All);
        new PhotoWriter(new PhotoWriterOptions { JpegQuality = 95, Mode = mode }).Write(PhotoReader.Open(input), new IdentityTransform(), ours);
        using var expected = TestImages.Load(viaVips);
        using var actual = TestImages.Load(ours);
        Assert.Equal(0, TestImages.MaxAbsDiff(expected, actual));
    }

    [Fact]
    public void Sixteen_bit_to_jpeg_is_8_bit()
    {
        var dir = TestPaths.TempDir("imaging-16j");
        var input = Path.Combine(dir, "in.tif");
        var output = Path.Combine(dir, "out.jpg");
        using (var im = TestImages.Rgb16(200, 100)) im.Tiffsave(input);
        new PhotoWriter().Write(PhotoReader.Open(input), new IdentityTransform(), output);
        using var inp = TestImages.Load(input);
        using var got = TestImages.Load(output);
        Assert.Equal(Enums.BandFormat.Uchar, got.Format);
        using var in8 = inp.Cast(Enums.BandFormat.Uchar, shift: true);
        Assert.True(TestImages.MeanAbsDiff(in8, got) < 1.5);
    }

    [Theory]
    [InlineData(WriterMode.Streamed, false)]
    [InlineData(WriterMode.InMemory, false)]
    [InlineData(WriterMode.Streamed, true)]
    public void Alpha_passes_through_untouched(WriterMode mode, bool sixteen)
    {
        var dir = TestPaths.TempDir("imaging-alpha");
        var input = Path.Combine(dir, "in.png");
        var output = Path.Combine(dir, "out.png");
        using (var rgb = sixteen ? TestImages.Rgb16(123, 77) : TestImages.Rgb8(123, 77))
        using (var xyz = Image.Xyz(123, 77))
        using (var x = xyz[0])
        using (var alpha = x.Linear([(sixteen ? 65535.0 : 255.0) / 122], [0]).Cast(rgb.Format))
        using (var rgba = rgb.Bandjoin(alpha))
            rgba.Pngsave(input);

        var src = PhotoReader.Open(input);
        Assert.True(src.HasAlpha);
        Assert.Equal(4, src.WorkingBands);
        new PhotoWriter(new PhotoWriterOptions { Mode = mode }).Write(src, new InvertRgb(), output);

        using var inp = TestImages.Load(input);
        using var got = TestImages.Load(output);
        Assert.Equal(4, got.Bands);
        using var aIn = inp[3];
        using var aOut = got[3];
        Assert.Equal(0, TestImages.MaxAbsDiff(aIn, aOut));
        using var rgbIn = inp.ExtractBand(0, n: 3);
        using var rgbOut = got.ExtractBand(0, n: 3);
        double max = sixteen ? 65535 : 255;
        using var expected = rgbIn.Linear([-1, -1, -1], [max, max, max]);
        Assert.Equal(0, TestImages.MaxAbsDiff(expected, rgbOut));
    }

    [Theory]
    [InlineData(WriterMode.InMemory)]
    [InlineData(WriterMode.Streamed)]
    public void Exif_orientation_6_comes_out_upright_with_orientation_1(WriterMode mode)
    {
        var dir = TestPaths.TempDir("imaging-orient");
        var input = Path.Combine(dir, "in.jpg");
        var output = Path.Combine(dir, "out.jpg");
        // stored 160x96 with a red block at the stored top-left; orientation 6 = rotate 90 degrees clockwise to view
        using (var grey = Image.Black(160, 96, bands: 3).Linear([1, 1, 1], [128, 128, 128]).Cast(Enums.BandFormat.Uchar))
        using (var red = Image.Black(40, 24, bands: 3).Linear([1, 1, 1], [230, 20, 20]).Cast(Enums.BandFormat.Uchar))
        using (var marked = grey.Insert(red, 0, 0).Copy(interpretation: Enums.Interpretation.Srgb))
        using (var tagged = marked.Mutate(m => m.Set(GValue.GIntType, "orientation", 6)))
            tagged.Jpegsave(input, q: 95);

        var src = PhotoReader.Open(input);
        Assert.Equal(6, src.Orientation);
        Assert.Equal((96, 160), (src.Width, src.Height));
        new PhotoWriter(new PhotoWriterOptions { Mode = mode }).Write(src, new IdentityTransform(), output);

        using var got = TestImages.Load(output);
        Assert.Equal((96, 160), (got.Width, got.Height));
        Assert.Equal(1, (int)got.Get("orientation"));
        // after a clockwise turn the stored top-left lands at the top-right
        var topRight = got.Getpoint(90, 5);
        var topLeft = got.Getpoint(5, 5);
        Assert.True(topRight[0] > 200 && topRight[1] < 60, $"top-right {string.Join(",", topRight)}");
        Assert.InRange(topLeft[0], 110, 145);
        // and a reader sees it upright without rotating again
        var reopened = PhotoReader.Open(output);
        Assert.Equal(1, reopened.Orientation);
    }

    [Theory]
    [InlineData(".png", false, WriterMode.InMemory)]
    [InlineData(".png", true, WriterMode.InMemory)]
    [InlineData(".jpg", false, WriterMode.InMemory)]
    [InlineData(".tif", true, WriterMode.InMemory)]
    [InlineData(".png", true, WriterMode.Streamed)]
    [InlineData(".jpg", false, WriterMode.Streamed)]
    public void Non_srgb_icc_profile_is_converted_back_and_embedded(string ext, bool sixteen, WriterMode mode)
    {
        var writer = new PhotoWriter(new PhotoWriterOptions { Mode = mode });
        var dir = TestPaths.TempDir("imaging-icc");
        var input = Path.Combine(dir, "in" + ext);
        var output = Path.Combine(dir, "out" + ext);
        byte[] p3;
        using (var srgb = sixteen ? TestImages.Rgb16(150, 100) : TestImages.Rgb8(150, 100))
        using (var inP3 = srgb.IccTransform("p3", inputProfile: "srgb", embedded: false, depth: sixteen ? 16 : 8))
        {
            p3 = (byte[])inP3.Get("icc-profile-data");
            Save(inP3, input);
        }
        var src = PhotoReader.Open(input);
        Assert.NotNull(src.Profile);
        Assert.False(src.Profile!.IsSrgb);
        Assert.True(src.ConvertsThroughIcc);
        Assert.Equal(Enums.BandFormat.Ushort, src.WorkingFormat);

        writer.Write(src, new SwapRedBlue(), output);

        using var inp = TestImages.Load(input);
        using var got = TestImages.Load(output);
        Assert.Equal(p3, (byte[])got.Get("icc-profile-data"));
        Assert.Equal(sixteen ? Enums.BandFormat.Ushort : Enums.BandFormat.Uchar, got.Format);
        // expected: into sRGB, swap there, back to P3
        using var inSrgb = inp.IccTransform("srgb", embedded: true, depth: 16);
        using var swapped = TestImages.SwapRb(inSrgb);
        using var expected = swapped.IccTransform("p3", inputProfile: "srgb", embedded: false, depth: sixteen ? 16 : 8);
        double tol = (sixteen ? 256 : 1) * (ext == ".jpg" ? 2.5 : 1.01);
        double mean = TestImages.MeanAbsDiff(expected, got);
        Assert.True(mean < tol, $"mean diff {mean}");
        // identity must come back to the same pixels (within rounding)
        var idOut = Path.Combine(dir, "id" + ext);
        writer.Write(src, new IdentityTransform(), idOut);
        using var id = TestImages.Load(idOut);
        Assert.True(TestImages.MeanAbsDiff(inp, id) < tol, $"identity mean diff {TestImages.MeanAbsDiff(inp, id)}");
    }

    [Fact]
    public void Exif_and_xmp_metadata_are_kept()
    {
        var dir = TestPaths.TempDir("imaging-meta");
        var input = Path.Combine(dir, "in.jpg");
        var output = Path.Combine(dir, "out.jpg");
        var xmp = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\" dc:format=\"lb-test-marker\"/></rdf:RDF></x:xmpmeta>"u8.ToArray();
        using (var im = TestImages.Rgb8(64, 48))
        using (var tagged = im.Mutate(m =>
               {
                   m.Set(GValue.GStrType, "exif-ifd0-Artist", "LB Tester");
                   m.Set(GValue.BlobType, "xmp-data", xmp);
               }))
            tagged.Jpegsave(input);
        using (var check = TestImages.Load(input)) Assert.Contains("LB Tester", (string)check.Get("exif-ifd0-Artist"));

        new PhotoWriter().Write(PhotoReader.Open(input), new InvertRgb(), output);
        using var got = TestImages.Load(output);
        Assert.Contains("LB Tester", (string)got.Get("exif-ifd0-Artist"));
        Assert.Contains("lb-test-marker", System.Text.Encoding.UTF8.GetString((byte[])got.Get("xmp-data")));
    }

    [Theory]
    [InlineData(".png", false, WriterMode.InMemory)]
    [InlineData(".jpg", false, WriterMode.InMemory)]
    [InlineData(".png", true, WriterMode.InMemory)]
    [InlineData(".png", false, WriterMode.Streamed)]
    [InlineData(".png", true, WriterMode.Streamed)]
    public void Greyscale_is_processed_and_saved_as_grey(string ext, bool sixteen, WriterMode mode)
    {
        var dir = TestPaths.TempDir("imaging-grey");
        var input = Path.Combine(dir, "in" + ext);
        var output = Path.Combine(dir, "out" + ext);
        using (var rgb = sixteen ? TestImages.Rgb16(100, 80) : TestImages.Rgb8(100, 80))
        using (var g = rgb.Colourspace(sixteen ? Enums.Interpretation.Grey16 : Enums.Interpretation.Bw))
            Save(g, input);
        var src = PhotoReader.Open(input);
        Assert.Equal(PhotoColourKind.Grey, src.ColourKind);
        new PhotoWriter(new PhotoWriterOptions { Mode = mode }).Write(src, new InvertRgb(), output);
        using var inp = TestImages.Load(input);
        using var got = TestImages.Load(output);
        Assert.Equal(1, got.Bands);
        Assert.Equal(inp.Format, got.Format);
        double max = sixteen ? 65535 : 255;
        using var expected = inp.Linear([-1], [max]);
        double mean = TestImages.MeanAbsDiff(expected, got);
        Assert.True(mean < max / 255 * (ext == ".png" ? 1.01 : 2.5), $"mean diff {mean}");
    }

    [Theory]
    [InlineData(WriterMode.InMemory)]
    [InlineData(WriterMode.Streamed)]
    public void Cmyk_goes_through_its_profile_and_back(WriterMode mode)
    {
        var writer = new PhotoWriter(new PhotoWriterOptions { Mode = mode });
        var dir = TestPaths.TempDir("imaging-cmyk");
        var input = Path.Combine(dir, "in.jpg");
        var output = Path.Combine(dir, "out.jpg");
        var outPng = Path.Combine(dir, "out.png");
        using (var rgb = TestImages.Rgb8(120, 90))
        using (var cmyk = rgb.IccTransform("cmyk", inputProfile: "srgb", embedded: false))
            cmyk.Jpegsave(input, q: 95);
        var src = PhotoReader.Open(input);
        Assert.Equal(PhotoColourKind.Cmyk, src.ColourKind);
        writer.Write(src, new IdentityTransform(), output);
        using var got = TestImages.Load(output);
        Assert.Equal(Enums.Interpretation.Cmyk, got.Interpretation);
        using var inp = TestImages.Load(input);
        // CMYK -> RGB -> CMYK need not give the same inks (black generation), but must look the same
        using var inLooks = inp.IccTransform("srgb", embedded: true, inputProfile: "cmyk");
        using var outLooks = got.IccTransform("srgb", embedded: true, inputProfile: "cmyk");
        Assert.True(TestImages.MeanAbsDiff(inLooks, outLooks) < 2, $"cmyk identity diff {TestImages.MeanAbsDiff(inLooks, outLooks)}");
        // PNG cannot hold CMYK: sRGB
        writer.Write(src, new IdentityTransform(), outPng);
        using var png = TestImages.Load(outPng);
        Assert.Equal(3, png.Bands);
        using var asSrgb = inp.IccTransform("srgb", embedded: true);
        Assert.True(TestImages.MeanAbsDiff(asSrgb, png) < 2, $"png diff {TestImages.MeanAbsDiff(asSrgb, png)} {string.Join(",", asSrgb.Getpoint(60, 45))} vs {string.Join(",", png.Getpoint(60, 45))}");
    }

    [Fact]
    public void An_untagged_cmyk_jpeg_stays_untagged_and_about_its_size()
    {
        // issue 13 item 9: it gained libvips' built-in CMYK profile (962 KB; 279 KB -> 1.49 MB)
        var dir = TestPaths.TempDir("imaging-cmyk-untagged");
        var input = Path.Combine(dir, "in.jpg");
        var output = Path.Combine(dir, "out.jpg");
        using (var rgb = TestImages.PhotoLike(800, 600))
        using (var cmyk = rgb.IccTransform("cmyk", inputProfile: "srgb", embedded: false))
        using (var untagged = cmyk.Mutate(m => m.Remove("icc-profile-data")))
            untagged.Jpegsave(input, q: PhotoWriterOptions.Default.JpegQuality); // sizes compare at the writer's quality
        var src = PhotoReader.Open(input);
        Assert.Equal(PhotoColourKind.Cmyk, src.ColourKind);
        Assert.Null(src.Profile);
        new PhotoWriter().Write(src, new IdentityTransform(), output);
        using var got = TestImages.Load(output);
        Assert.Equal(Enums.Interpretation.Cmyk, got.Interpretation);
        Assert.Equal(IntPtr.Zero, got.GetTypeOf("icc-profile-data"));
        long inBytes = new FileInfo(input).Length, outBytes = new FileInfo(output).Length;
        Assert.True(outBytes < inBytes * 1.3 + 20_000, $"{inBytes} -> {outBytes} bytes");
        using var inp = TestImages.Load(input);
        using var inLooks = inp.IccTransform("srgb", inputProfile: "cmyk");
        using var outLooks = got.IccTransform("srgb", inputProfile: "cmyk");
        Assert.True(TestImages.MeanAbsDiff(inLooks, outLooks) < 2, $"cmyk identity diff {TestImages.MeanAbsDiff(inLooks, outLooks)}");
    }

    [Fact]
    public void Float_tiff_stays_float()
    {
        var dir = TestPaths.TempDir("imaging-float");
        var input = Path.Combine(dir, "in.tif");
        var output = Path.Combine(dir, "out.tif");
        using (var rgb = TestImages.Rgb8(90, 60))
        using (var f = rgb.Linear([1 / 255.0], [0]))
            f.Copy(interpretation: Enums.Interpretation.Srgb).Tiffsave(input);
        var src = PhotoReader.Open(input);
        Assert.Equal(Enums.BandFormat.Float, src.WorkingFormat);
        new PhotoWriter().Write(src, new InvertRgb(), output);
        using var inp = TestImages.Load(input);
        using var got = TestImages.Load(output);
        Assert.Equal(Enums.BandFormat.Float, got.Format);
        using var expected = inp.Linear([-1, -1, -1], [1, 1, 1]);
        Assert.True(TestImages.MaxAbsDiff(expected, got) < 1e-6);
    }

    [Fact]
    public void Unsupported_extension_is_refused()
    {
        var dir = TestPaths.TempDir("imaging-ext");
        var input = Path.Combine(dir, "in.png");
        using (var im = TestImages.Rgb8(50, 40)) im.Pngsave(input);
        var src = PhotoReader.Open(input);
        var e = Assert.Throws<ImageOutputException>(() => new PhotoWriter().Write(src, new InvertRgb(), Path.Combine(dir, "out.bmp")));
        Assert.Contains("out.bmp", e.Message);
        Assert.Empty(TestImages.OtherFiles(dir, "in.png"));
    }

    [Theory]
    [InlineData(WriterMode.Streamed)]
    [InlineData(WriterMode.InMemory)]
    public void Truncated_jpeg_fails_at_write_with_input_error_and_no_output(WriterMode mode)
    {
        var dir = TestPaths.TempDir("imaging-trunc");
        var full = Path.Combine(dir, "full.jpg");
        var input = Path.Combine(dir, "cut.jpg");
        var output = Path.Combine(dir, "out.jpg");
        using (var im = TestImages.PhotoLike(640, 480)) im.Jpegsave(full, q: 90);
        var bytes = File.ReadAllBytes(full);
        File.WriteAllBytes(input, bytes[..(bytes.Length * 6 / 10)]);

        var src = PhotoReader.Open(input); // the header is fine
        // written as every job writes: staged, then renamed (OutputFiles)
        var e = Assert.Throws<ImageInputException>(() => OutputFiles.Write(output, p => new PhotoWriter(new PhotoWriterOptions { Mode = mode }).Write(src, new InvertRgb(), p)));
        Assert.Contains("cut.jpg", e.Message);
        Assert.False(File.Exists(output));
        Assert.Empty(TestImages.OtherFiles(dir, "full.jpg", "cut.jpg"));
    }

    [Theory]
    [InlineData(WriterMode.Streamed)]
    [InlineData(WriterMode.InMemory)]
    public void Failing_transform_leaves_no_output(WriterMode mode)
    {
        var dir = TestPaths.TempDir("imaging-throw");
        var input = Path.Combine(dir, "in.png");
        var output = Path.Combine(dir, "out.jpg");
        using (var im = TestImages.Rgb8(300, 200)) im.Pngsave(input);
        var e = Assert.Throws<ImageOutputException>(() => OutputFiles.Write(output, p =>
            new PhotoWriter(new PhotoWriterOptions { Mode = mode }).Write(PhotoReader.Open(input), new ThrowingTransform(), p)));
        Assert.Contains("out.jpg", e.Message);
        Assert.Contains("boom", e.Message);
        Assert.Empty(TestImages.OtherFiles(dir, "in.png"));
    }

    [Fact]
    public void Streamed_and_in_memory_modes_give_identical_files_on_many_strips()
    {
        var dir = TestPaths.TempDir("imaging-modes");
        var input = Path.Combine(dir, "in.jpg");
        using (var im = TestImages.PhotoLike(1500, 1001)) im.Jpegsave(input, q: 90);
        var src = PhotoReader.Open(input);
        var a = Path.Combine(dir, "a.png");
        var b = Path.Combine(dir, "b.png");
        // small strips: many IDAT chunks, deflate blocks crossing rows, a short last strip
        new PhotoWriter(new PhotoWriterOptions { Mode = WriterMode.Streamed, StripBytes = 100_000 }).Write(src, new InvertRgb(), a);
        new PhotoWriter(new PhotoWriterOptions { Mode = WriterMode.InMemory }).Write(src, new InvertRgb(), b);
        using var ia = TestImages.Load(a);
        using var ib = TestImages.Load(b);
        Assert.Equal(0, TestImages.MaxAbsDiff(ia, ib));
    }

    /// <summary>Issue 16's overlap: a photo decoded into memory ahead (while the networks run) is written with the
    /// same bytes as one read from the file at write time, rotated or not, in either mode; a truncated one still fails
    /// with the input's one-line error and leaves nothing behind.</summary>
    [Theory]
    [InlineData(WriterMode.Streamed)]
    [InlineData(WriterMode.InMemory)]
    public void A_photo_decoded_ahead_is_written_as_one_read_at_write_time(WriterMode mode)
    {
        var dir = TestPaths.TempDir("imaging-ahead");
        var upright = Path.Combine(dir, "in.jpg");
        var rotated = Path.Combine(dir, "rot.jpg");
        using (var im = TestImages.PhotoLike(640, 480))
        {
            im.Jpegsave(upright, q: 90);
            using var tagged = im.Mutate(m => m.Set(GValue.GIntType, "orientation", 6));
            tagged.Jpegsave(rotated, q: 90);
        }
        var writer = new PhotoWriter(new PhotoWriterOptions { Mode = mode });
        Assert.Equal(6, PhotoReader.Open(rotated).Orientation);
        foreach (var input in new[] { upright, rotated })
        {
            var plain = Path.Combine(dir, "plain.png");
            var ahead = Path.Combine(dir, "ahead.png");
            writer.Write(PhotoReader.Open(input), new InvertRgb(), plain);
            // decoded from a copy that is gone by write time: the pixels can only come from memory
            var copy = Path.Combine(dir, "copy" + Path.GetExtension(input));
            File.Copy(input, copy, overwrite: true);
            var src = PhotoReader.Open(copy);
            src.StartDecoding();
            Assert.True(src.IsDecodedInMemory);
            File.Delete(copy);
            try { writer.Write(src, new InvertRgb(), ahead); }
            finally { src.ReleaseDecoded(); }
            Assert.False(src.IsDecodedInMemory);
            Assert.Equal(File.ReadAllBytes(plain), File.ReadAllBytes(ahead));
        }

        var bytes = File.ReadAllBytes(upright);
        var cut = Path.Combine(dir, "cut.jpg");
        File.WriteAllBytes(cut, bytes[..(bytes.Length * 6 / 10)]);
        var output = Path.Combine(dir, "out.jpg");
        var truncated = PhotoReader.Open(cut);
        truncated.StartDecoding();
        Assert.False(truncated.IsDecodedInMemory);   // left to fail where the file is read, with its usual error
        var e = Assert.Throws<ImageInputException>(() => OutputFiles.Write(output, p => writer.Write(truncated, new InvertRgb(), p)));
        truncated.ReleaseDecoded();
        Assert.Contains("cut.jpg", e.Message);
        Assert.False(File.Exists(output));
    }
}
