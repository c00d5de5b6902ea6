using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Vae;

namespace LatentBalance.Onnx;

/// <summary>
/// The engine's <see cref="TinyAutoencoder"/> (TAESD family, shaped by its <see cref="TinyAutoencoderConfig"/>) through
/// ONNX Runtime: the encoder and decoder graphs are built from the same weight files at load time, one session each.
/// Images are NCHW in [0, 1]; heights and widths must be multiples of the config's downscale factor.
/// </summary>
public sealed class OnnxTinyAutoencoder : IDisposable
{
    readonly OnnxNetwork _encoder, _decoder;

    public TinyAutoencoderConfig Config { get; }

    OnnxTinyAutoencoder(TinyAutoencoderConfig config, OnnxNetwork encoder, OnnxNetwork decoder) =>
        (Config, _encoder, _decoder) = (config, encoder, decoder);

    /// <summary>Reads the config file and builds both sessions from the weight files (.pth or .safetensors), strictly.</summary>
    /// <exception cref="ModelFileException">unreadable file, unknown config field, or weights that do not fit the config.</exception>
    public static OnnxTinyAutoencoder Load(string configPath, string encoderPath, string decoderPath, int? threads = null, OnnxDevice? device = null) =>
        Load(Pretrained.ReadConfig<TinyAutoencoderConfig>(configPath), encoderPath, decoderPath, threads, device);

    public static OnnxTinyAutoencoder Load(TinyAutoencoderConfig config, string encoderPath, string decoderPath, int? threads = null, OnnxDevice? device = null)
    {
        var settings = OnnxSessionSettings.Default with { IntraOpThreads = threads };
        return Load(config, encoderPath, decoderPath, settings, settings, device: device);
    }

    public static OnnxTinyAutoencoder Load(TinyAutoencoderConfig config, string encoderPath, string decoderPath,
        OnnxSessionSettings encoderSettings, OnnxSessionSettings decoderSettings, OnnxDevice? device = null)
    {
        config.Validate();
        var encoderGraph = TinyEncoderGraph.Build(config, StateDict.Read(encoderPath));
        var decoderGraph = TinyDecoderGraph.Build(config, StateDict.Read(decoderPath));
        var encoder = new OnnxNetwork(encoderGraph, TinyEncoderGraph.Input, TinyEncoderGraph.Output, encoderSettings, device);
        try { return new(config, encoder, new OnnxNetwork(decoderGraph, TinyDecoderGraph.Input, TinyDecoderGraph.Output, decoderSettings, device)); }
        catch { encoder.Dispose(); throw; }
    }

    public NchwTensor Encode(NchwTensor image)
    {
        int f = Config.DownscaleFactor;
        if (image.Channels != Config.ImageChannels || image.Height % f != 0 || image.Width % f != 0)
            throw new ArgumentException($"{Config.Name}: image must have {Config.ImageChannels} channels and a height and width that are multiples of {f}, got [{string.Join(",", image.Shape)}]");
        return _encoder.Run(image);
    }

    /// <summary>Latent to image, roughly [0, 1], not clamped.</summary>
    public NchwTensor Decode(NchwTensor latent)
    {
        if (latent.Channels != Config.LatentChannels)
            throw new ArgumentException($"{Config.Name}: latent must have {Config.LatentChannels} channels, got [{string.Join(",", latent.Shape)}]");
        return _decoder.Run(latent);
    }

    public void Dispose()
    {
        _encoder.Dispose();
        _decoder.Dispose();
    }
}
