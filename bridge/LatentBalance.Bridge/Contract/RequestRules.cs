namespace LatentBalance.Bridge.Contract;

/// <summary>
/// Shared request checks. Engines call <see cref="Validate(BalanceRequest)"/> before queueing; clients call
/// <see cref="WithAbsolutePaths(BalanceRequest)"/> before sending (the daemon's working directory is not theirs).
/// </summary>
public static class RequestRules
{
    /// <summary>LUT sizes a request may ask for (0: the engine's default); the engine bakes 2..129.</summary>
    public const int MinLutSize = 2, MaxLutSize = 129;

    public static BalanceRequest Validate(BalanceRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        RequireAbsolute(request.InputPath, "inputPath");
        RequireAbsolute(request.OutputPath, "outputPath");
        if (!string.IsNullOrEmpty(request.LutPath)) RequireAbsolute(request.LutPath, "lutPath");
        CheckParameterNames(request.Parameters);
        return request with
        {
            FilterId = string.IsNullOrEmpty(request.FilterId) ? FilterIds.LatentBalance : request.FilterId,
            LutPath = string.IsNullOrEmpty(request.LutPath) ? null : request.LutPath,
            Parameters = request.Parameters ?? new Dictionary<string, string>(),
        };
    }

    public static ExportCubeRequest Validate(ExportCubeRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        RequireAbsolute(request.InputPath, "inputPath");
        RequireAbsolute(request.CubePath, "cubePath");
        if (request.LutSize != 0 && (request.LutSize < MinLutSize || request.LutSize > MaxLutSize))
            throw new BridgeException(BridgeErrorCode.InvalidArgument, $"lutSize must be 0 (default) or {MinLutSize}..{MaxLutSize}, got {request.LutSize}");
        if (!request.CubePath.EndsWith(".cube", StringComparison.OrdinalIgnoreCase))
            throw new BridgeException(BridgeErrorCode.InvalidArgument, $"cubePath must name a .cube file, got '{request.CubePath}'");
        CheckParameterNames(request.Parameters);
        return request with
        {
            FilterId = string.IsNullOrEmpty(request.FilterId) ? FilterIds.LatentBalance : request.FilterId,
            Parameters = request.Parameters ?? new Dictionary<string, string>(),
        };
    }

    public static void ValidateJobId(string? jobId)
    {
        if (string.IsNullOrWhiteSpace(jobId))
            throw new BridgeException(BridgeErrorCode.InvalidArgument, "jobId must not be empty");
    }

    public static BalanceRequest WithAbsolutePaths(BalanceRequest request) => request with
    {
        InputPath = Absolute(request.InputPath),
        OutputPath = Absolute(request.OutputPath),
        LutPath = string.IsNullOrEmpty(request.LutPath) ? null : Absolute(request.LutPath),
    };

    public static ExportCubeRequest WithAbsolutePaths(ExportCubeRequest request) => request with
    {
        InputPath = Absolute(request.InputPath),
        CubePath = Absolute(request.CubePath),
    };

    private static string Absolute(string path) => string.IsNullOrEmpty(path) ? path : Path.GetFullPath(path);

    private static void RequireAbsolute(string? path, string field)
    {
        if (string.IsNullOrWhiteSpace(path))
            throw new BridgeException(BridgeErrorCode.InvalidArgument, $"{field} must not be empty");
        if (path.Contains('\0'))
            throw new BridgeException(BridgeErrorCode.InvalidArgument, $"{field} contains a NUL character");
        if (!Path.IsPathFullyQualified(path))
            throw new BridgeException(BridgeErrorCode.InvalidArgument, $"{field} must be an absolute path, got '{path}'");
    }

    private static void CheckParameterNames(IReadOnlyDictionary<string, string>? parameters)
    {
        if (parameters is null) return;
        foreach (var key in parameters.Keys)
            if (string.IsNullOrWhiteSpace(key))
                throw new BridgeException(BridgeErrorCode.InvalidArgument, "parameter names must not be empty");
    }
}
