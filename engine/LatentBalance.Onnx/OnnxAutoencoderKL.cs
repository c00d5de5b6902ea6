using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Vae;

namespace LatentBalance.Onnx;

/// <summary>
/// The engine's <see cref="AutoencoderKL"/> (diffusers layout, shaped by its <see cref="AutoencoderKLConfig"/>) through
/// ONNX Runtime: the encoder and decoder graphs are built from the one diffusers safetensors file at load time, one session
/// each. Images are NCHW in [0, 1]; latents are the deterministic ones <see cref="AutoencoderKL.Encode"/> gives (the mean,
/// shifted and scaled as the config says).
/// </summary>
public sealed class OnnxAutoencoderKL : IDisposable
{
    readonly OnnxNetwork _encoder, _decoder;

    public AutoencoderKLConfig Config { get; }
    public int LatentChannels => Config.LatentChannels;
    public int DownscaleFactor => Config.DownscaleFactor;

    OnnxAutoencoderKL(AutoencoderKLConfig config, OnnxNetwork encoder, OnnxNetwork decoder) =>
        (Config, _encoder, _decoder) = (config, encoder, decoder);

    /// <summary>Loads a diffusers folder (or its <c>vae/</c> subfolder), as <see cref="AutoencoderKL.LoadDirectory"/> does.</summary>
    /// <exception cref="ModelFileException">a missing or unreadable file, an unknown config field, or weights that do not fit the config.</exception>
    public static OnnxAutoencoderKL LoadDirectory(string dir, int? threads = null, OnnxDevice? device = null)
    {
        var (config, weights) = AutoencoderKL.DirectoryFiles(dir);
        return Load(weights, Pretrained.ReadConfig<AutoencoderKLConfig>(config), threads, device);
    }

    /// <summary>Builds both sessions from one diffusers safetensors file, strictly: every key used by one of the graphs.</summary>
    public static OnnxAutoencoderKL Load(string weightsPath, AutoencoderKLConfig config, int? threads = null, OnnxDevice? device = null)
    {
        config.Validate();
        var weights = StateDict.Read(weightsPath);
        var encoderGraph = AutoencoderKLEncoderGraph.Build(config, weights);
        var decoderGraph = AutoencoderKLDecoderGraph.Build(config, weights);
        var encoder = new OnnxNetwork(encoderGraph, AutoencoderKLEncoderGraph.Input, AutoencoderKLEncoderGraph.Output, threads, device);
        try { return new(config, encoder, new OnnxNetwork(decoderGraph, AutoencoderKLDecoderGraph.Input, AutoencoderKLDecoderGraph.Output, threads, device)); }
        catch { encoder.Dispose(); throw; }
    }

    public NchwTensor Encode(NchwTensor image)
    {
        int f = DownscaleFactor;
        if (image.Channels != Config.InChannels || image.Height % f != 0 || image.Width % f != 0)
            throw new ArgumentException($"{Config.Name}: image must have {Config.InChannels} channels and a height and width that are multiples of {f}, got [{string.Join(",", image.Shape)}]");
        return _encoder.Run(image);
    }

    /// <summary>Latent to image, roughly [0, 1], not clamped.</summary>
    public NchwTensor Decode(NchwTensor latent)
    {
        if (latent.Channels != LatentChannels)
            throw new ArgumentException($"{Config.Name}: latent must have {LatentChannels} channels, got [{string.Join(",", latent.Shape)}]");
        return _decoder.Run(latent);
    }

    public void Dispose()
    {
        _encoder.Dispose();
        _decoder.Dispose();
    }
}
