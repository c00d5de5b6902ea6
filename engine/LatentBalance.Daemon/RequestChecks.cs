using LatentBalance.Engine.Imaging;
using LatentBalance.Filters;

namespace LatentBalance.Daemon;

/// <summary>What one queued job does: which filter, which files (checked, absolute).</summary>
public sealed record FilterJobSpec
{
    public required IFilter Filter { get; init; }
    public required string InputPath { get; init; }
    public string? OutputPath { get; init; }
    public string? CubePath { get; init; }
    public int LutSize { get; init; }
    public bool Overwrite { get; init; }
    public required FilterParameters Parameters { get; init; }
}

/// <summary>
/// The one boundary between a request and a job: the input's header is read (missing, unreadable,
/// not an image, absurd header) and every output path checked (<see cref="OutputFiles.Check"/>) once,
/// before anything is queued, so the common mistakes come back as an error reply at once and the job
/// itself checks nothing again.
/// </summary>
public static class RequestChecks
{
    public static FilterJobSpec Job(IFilter filter, FilterParameters parameters, string input, string? output, string? cube, int lutSize, bool overwrite)
    {
        // the reader checks the path's kind first (a named pipe would block this thread for good), then
        // that it opens, then the header
        _ = PhotoReader.Open(input);
        output = output is null ? null : OutputFiles.Check(output, input, "outputPath", image: true, overwrite);
        cube = cube is null ? null : OutputFiles.Check(cube, input, output is null ? "cubePath" : "lutPath", image: false, overwrite);
        if (cube != null && output != null && OutputFiles.SameFile(cube, output))
            throw new ImageOutputException(cube, FileErrorKind.InvalidPath, "lutPath must differ from outputPath");
        return new FilterJobSpec
        {
            Filter = filter, InputPath = input, OutputPath = output, CubePath = cube, LutSize = lutSize, Overwrite = overwrite, Parameters = parameters,
        };
    }
}
