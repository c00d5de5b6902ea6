namespace LatentBalance.Engine.Pipeline;

/// <summary>
/// Steps 2 to 4 of the method on one runtime: encode a tile, balance its latent, decode both latents.
/// Two runtimes implement it from the same pack files: ONNX Runtime (LatentBalance.Onnx, what the
/// serving path uses by default) and <see cref="TorchNetworks"/> on libtorch (training, <c>eval</c>,
/// <c>--runtime torch</c>). One call at a time: <see cref="BalanceEngine"/> locks around it.
/// </summary>
public interface ICorrectionNetworks : IDisposable
{
    /// <summary>"onnx" or "torch".</summary>
    string Runtime { get; }
    /// <summary>Where the networks run ("cpu", "cuda", ...).</summary>
    string Device { get; }
    /// <summary>The VAE's name (its config's).</summary>
    string VaeName { get; }
    /// <summary>The tile side the balancer was trained on (balancer.json's <c>tile_size</c>).</summary>
    int TileSize { get; }

    /// <param name="tile">CHW [3, <paramref name="size"/>, <paramref name="size"/>], values in [0, 1].</param>
    /// <param name="timing">Receives milliseconds for "encode", "balance" and "decode".</param>
    TileDecodes Decode(float[] tile, int size, Action<string, double>? timing = null);
}

/// <summary>The decode of a tile's latent (<see cref="Source"/>) and of its balanced latent (<see cref="Target"/>),
/// CHW [3, S, S] clamped to [0, 1], and the strength the balancer applied (its strength head's, else 1).</summary>
public sealed record TileDecodes(float[] Source, float[] Target, double Strength);

/// <summary>The stage timings the networks report: milliseconds since <c>t0</c>, which moves on to now.</summary>
public static class StageClock
{
    public static double Lap(ref long t0)
    {
        var now = System.Diagnostics.Stopwatch.GetTimestamp();
        var ms = System.Diagnostics.Stopwatch.GetElapsedTime(t0, now).TotalMilliseconds;
        t0 = now;
        return ms;
    }
}
