using System.Runtime.InteropServices;
using NetVips;

namespace LatentBalance.Engine.Imaging;

/// <summary>
/// Applies an <see cref="IPixelTransform"/> to a photo at full resolution and saves it, format from the
/// output extension. The output is upright (orientation 1), keeps EXIF/XMP/IPTC and the ICC profile,
/// is converted back from the sRGB working space to the photo's own profile, and keeps the bit depth
/// where the format can (8 -> 8; 16 -> 16 in PNG/TIFF, 8 in JPEG/WebP; float -> float in TIFF).
/// Alpha passes through untouched. It writes to the path it is given: callers check the path once and
/// stage it (<see cref="OutputFiles"/>), so nothing is left at a final path when anything fails.
/// </summary>
public sealed class PhotoWriter
{
    public PhotoWriter(PhotoWriterOptions? options = null) => Options = options ?? PhotoWriterOptions.Default;

    public PhotoWriterOptions Options { get; }

    /// <summary>Transforms <paramref name="source"/> and saves it to <paramref name="outputPath"/> (format from
    /// its extension).</summary>
    /// <exception cref="ImageInputException">the input cannot be decoded (e.g. truncated).</exception>
    /// <exception cref="ImageOutputException">unknown extension, or encoding/writing failed.</exception>
    public void Write(SourceImage source, IPixelTransform transform, string outputPath)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(transform);
        var format = OutputFormats.FromPath(outputPath ?? "");
        Encode(source, transform, format, outputPath!);
    }

    void Encode(SourceImage source, IPixelTransform transform, OutputFormat format, string path)
    {
        bool streamed = Options.Mode == WriterMode.Streamed && source.WorkingFormat != Enums.BandFormat.Float;
        if (streamed)
        {
            Image upright;
            try { upright = source.OpenUpright(sequential: true); }
            catch (VipsException e) { throw Explain(source, path, e, decoding: true); }
            using var _ = upright;
            using var stream = new StreamedPixels(source, upright, transform, Options.StripBytes);
            Exception? saveError = null;
            try
            {
                using var transformed = stream.Start();
                SaveTransformed(source, transformed, format, path);
            }
            catch (Exception e) when (e is VipsException or IOException) { saveError = e; }
            stream.Finish();
            // the producer's failure (decode or transform) is the cause when there is one
            if (stream.ProducerError != null) throw Explain(source, path, stream.ProducerError, decoding: true);
            if (saveError != null) throw Explain(source, path, saveError, decoding: false);
        }
        else
        {
            using var working = source.OpenWorking(sequential: true);
            Array pixels;
            try { pixels = DecodeAll(working); }
            catch (VipsException e) { throw Explain(source, path, e, decoding: true); }
            try { TransformAll(pixels, working.Bands, working.Width, working.Height, transform); }
            catch (Exception e) { throw Explain(source, path, e, decoding: true); }
            using var transformed = Wrap(pixels, working.Width, working.Height, working.Bands, working.Format);
            try { SaveTransformed(source, transformed, format, path); }
            catch (VipsException e) { throw Explain(source, path, e, decoding: false); }
        }
    }

    /// <summary>libvips errors while decoding are about the input; while encoding, about the output.
    /// Anything else thrown while producing pixels came from the transform.</summary>
    static Exception Explain(SourceImage source, string path, Exception e, bool decoding) => e switch
    {
        ImageFileException => e,
        AggregateException { InnerExceptions.Count: >= 1 } a => Explain(source, path, a.InnerExceptions[0], decoding),
        VipsException v when decoding => new ImageInputException(source.FilePath, "truncated or corrupt image data: " + VipsErrors.Describe(v), v),
        VipsException v => new ImageOutputException(path, "encoding failed: " + VipsErrors.Describe(v), v),
        IOException io when !decoding => new ImageOutputException(path, io.Message, io),
        _ => new ImageOutputException(path, $"the colour transform failed: {e.GetType().Name}: {e.Message}", e),
    };

    static Array DecodeAll(Image working)
    {
        long n = (long)working.Width * working.Height * working.Bands;
        Array pixels = working.Format switch
        {
            Enums.BandFormat.Uchar => GC.AllocateUninitializedArray<byte>(checked((int)n), pinned: true),
            Enums.BandFormat.Ushort => GC.AllocateUninitializedArray<ushort>(checked((int)n), pinned: true),
            _ => GC.AllocateUninitializedArray<float>(checked((int)n), pinned: true),
        };
        using var target = Wrap(pixels, working.Width, working.Height, working.Bands, working.Format);
        working.Write(target);
        return pixels;
    }

    static Image Wrap(Array pixels, int w, int h, int bands, Enums.BandFormat f) => pixels switch
    {
        byte[] b => Image.NewFromMemory(b, w, h, bands, f),
        ushort[] u => Image.NewFromMemory(u, w, h, bands, f),
        float[] x => Image.NewFromMemory(x, w, h, bands, f),
        _ => throw new ArgumentException("unsupported pixel array", nameof(pixels)),
    };

    static void TransformAll(Array pixels, int bands, int width, int height, IPixelTransform transform)
    {
        int chunks = Math.Min(height, Environment.ProcessorCount * 8);
        long rowLen = (long)width * bands;
        Parallel.For(0, chunks, c =>
        {
            long r0 = (long)height * c / chunks, r1 = (long)height * (c + 1) / chunks;
            int off = (int)(r0 * rowLen), len = (int)((r1 - r0) * rowLen);
            switch (pixels)
            {
                case byte[] b: transform.Apply(b.AsSpan(off, len), bands); break;
                case ushort[] u: transform.Apply(u.AsSpan(off, len), bands); break;
                case float[] f: transform.Apply(f.AsSpan(off, len), bands); break;
            }
        });
    }

    void SaveTransformed(SourceImage source, Image transformed, OutputFormat format, string path)
    {
        using var prepared = OutputColour.Prepare(source, transformed, format);
        var withMeta = prepared.Image;
        switch (format)
        {
            case OutputFormat.Jpeg:
                withMeta.Jpegsave(path, q: Options.JpegQuality, keep: Enums.ForeignKeep.All);
                break;
            case OutputFormat.Png:
                withMeta.Pngsave(path, compression: Options.PngCompression, keep: Enums.ForeignKeep.All);
                break;
            case OutputFormat.Tiff:
                withMeta.Tiffsave(path, compression: Options.TiffCompression,
                    predictor: withMeta.Format == Enums.BandFormat.Float ? Enums.ForeignTiffPredictor.Float : Enums.ForeignTiffPredictor.Horizontal,
                    keep: Enums.ForeignKeep.All);
                break;
            case OutputFormat.Webp:
                withMeta.Webpsave(path, q: Options.WebpQuality, lossless: Options.WebpLossless, keep: Enums.ForeignKeep.All);
                break;
        }
    }
}
