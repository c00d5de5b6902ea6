using LatentBalance.Engine.Color;
using LatentBalance.Engine.Imaging;

namespace LatentBalance.Engine.Pipeline;

/// <summary>
/// Step 6b and the .cube: the one place where a correction LUT meets files, for the latent balance
/// and for every filter alike. The photo is read through the LUT at the strength and written by
/// <see cref="PhotoWriter"/>; the .cube holds the same correction (the LUT blended in LUT space,
/// <see cref="Lut3D.Blend"/>). Each file is written to a temporary name and renamed into place.
/// </summary>
public static class CorrectionFiles
{
    /// <param name="source">the photo; may be null when no <paramref name="output"/> is written.</param>
    /// <param name="output">the corrected photo, or null for none.</param>
    /// <param name="cube">the .cube file, or null for none.</param>
    public static void Write(SourceImage? source, Lut3D lut, double strength, string? output, string? cube,
        PhotoWriterOptions writer, string cubeTitle, IEnumerable<string> cubeComments, CancellationToken cancel = default)
    {
        // cancellation is honoured before anything is written, not between the files: a photo that was
        // written whole gets its .cube too (a stop signal mid-write is StopSignals' and UnfinishedFiles' part)
        cancel.ThrowIfCancellationRequested();
        if (output != null)
            new PhotoWriter(writer).Write(source ?? throw new ArgumentNullException(nameof(source), "a photo is written from its source"),
                new LutTransform(lut, (float)strength), output);
        if (cube != null)
            CubeFile.Write(cube, lut.Blend(strength), cubeTitle, cubeComments);
    }
}
