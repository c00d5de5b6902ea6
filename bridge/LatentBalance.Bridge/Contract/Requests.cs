namespace LatentBalance.Bridge.Contract;

/// <summary>
/// Balance one image file. Paths must be absolute (the daemon's working directory is not the caller's);
/// the bundled clients make relative paths absolute before sending.
/// D-Bus: Balance(s input_path, s output_path, s filter_id, a{ss} parameters, s lut_path, b overwrite) -> (s job_id).
/// </summary>
public sealed record BalanceRequest
{
    public string InputPath { get; init; } = "";
    public string OutputPath { get; init; } = "";
    /// <summary>Filter to run; "" or null on the wire means <see cref="FilterIds.LatentBalance"/>.</summary>
    public string FilterId { get; init; } = FilterIds.LatentBalance;
    /// <summary>Filter parameters as invariant-culture text, keyed by <see cref="ParameterDescriptor.Name"/>.</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();
    /// <summary>Optional: also write the per-image 3D LUT (.cube) here. "" on D-Bus means none.</summary>
    public string? LutPath { get; init; }
    /// <summary>Replace existing output files; otherwise an existing output is an IoError.</summary>
    public bool Overwrite { get; init; }
}

/// <summary>
/// Compute the per-image LUT for an input and write it as a .cube file (no balanced image).
/// D-Bus: ExportCube(s input_path, s cube_path, s filter_id, a{ss} parameters, i lut_size, b overwrite) -> (s job_id).
/// </summary>
public sealed record ExportCubeRequest
{
    public string InputPath { get; init; } = "";
    public string CubePath { get; init; } = "";
    public string FilterId { get; init; } = FilterIds.LatentBalance;
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();
    /// <summary>Edge length of the cube (e.g. 33); 0 means the engine's default.</summary>
    public int LutSize { get; init; }
    public bool Overwrite { get; init; }
}

/// <summary>Handle of an accepted job. D-Bus: the single "s job_id" out argument.</summary>
public sealed record JobTicket
{
    public string JobId { get; init; } = "";
}
