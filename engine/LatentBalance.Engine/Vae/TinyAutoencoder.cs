using LatentBalance.Engine.ModelFiles;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Vae;

/// <summary>
/// A tiny autoencoder of the TAESD family (TAEF2, TAESD, ...) shaped by a <see cref="TinyAutoencoderConfig"/>.
/// Deterministic: <see cref="EncodeDistribution"/> gives the latent and a null log-variance. Images are NCHW in [0, 1];
/// heights and widths must be multiples of <see cref="DownscaleFactor"/>. Results come back on the input's device,
/// computed in float32 on the model's device under no_grad. Not thread-safe: use one instance per thread.
/// </summary>
public sealed class TinyAutoencoder : IVae
{
    readonly Sequential _encoder;
    readonly Sequential _decoder;
    bool _disposed;

    public TinyAutoencoderConfig Config { get; }
    public string Name => Config.Name;
    public int LatentChannels => Config.LatentChannels;
    public int DownscaleFactor => Config.DownscaleFactor;
    public bool IsProbabilistic => false;

    /// <summary>The device the weights are on.</summary>
    public Device Device { get; private set; } = CPU;

    /// <summary>The network of <paramref name="config"/>, untrained (load weights with <see cref="Load(TinyAutoencoderConfig, string, string)"/>).</summary>
    public TinyAutoencoder(TinyAutoencoderConfig config)
    {
        config.Validate();
        Config = config;
        _encoder = TinyAutoencoderNetworks.Encoder(config);
        _decoder = TinyAutoencoderNetworks.Decoder(config);
        _encoder.eval();
        _decoder.eval();
    }

    /// <summary>Reads the config file and loads encoder and decoder weights (.pth or .safetensors), strictly.</summary>
    /// <exception cref="ModelFileException">unreadable file, unknown config field, or keys/shapes that do not fit the config.</exception>
    public static TinyAutoencoder Load(string configPath, string encoderPath, string decoderPath) =>
        Load(Pretrained.ReadConfig<TinyAutoencoderConfig>(configPath), encoderPath, decoderPath);

    /// <summary>Builds the model and loads encoder and decoder weights (.pth or .safetensors), strictly.</summary>
    public static TinyAutoencoder Load(TinyAutoencoderConfig config, string encoderPath, string decoderPath) =>
        Pretrained.Build(() => new TinyAutoencoder(config), vae =>
        {
            Pretrained.LoadInto(vae._encoder, encoderPath);
            Pretrained.LoadInto(vae._decoder, decoderPath);
        });

    /// <summary>
    /// Builds the model from state dicts already in memory. The tensors are copied; the caller keeps ownership.
    /// <paramref name="encoderSource"/>/<paramref name="decoderSource"/> name them in errors.
    /// </summary>
    public static TinyAutoencoder Load(TinyAutoencoderConfig config,
        IReadOnlyDictionary<string, Tensor> encoderWeights, IReadOnlyDictionary<string, Tensor> decoderWeights,
        string encoderSource = "encoder weights", string decoderSource = "decoder weights") =>
        Pretrained.Build(() => new TinyAutoencoder(config), vae =>
        {
            Pretrained.LoadInto(vae._encoder, encoderWeights, encoderSource);
            Pretrained.LoadInto(vae._decoder, decoderWeights, decoderSource);
        });

    public Tensor Encode(Tensor image)
    {
        CheckImage(image);
        return Run(_encoder, image);
    }

    public (Tensor Mean, Tensor? LogVar) EncodeDistribution(Tensor image) => (Encode(image), null);

    public Tensor Decode(Tensor latent)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (latent.dim() != 4 || latent.shape[1] != LatentChannels)
            throw new ArgumentException($"{Name}: latent must be NCHW with {LatentChannels} channels, got [{string.Join(",", latent.shape)}]");
        return Run(_decoder, latent);
    }

    Tensor Run(Sequential net, Tensor input)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var x = input.to(ScalarType.Float32, Device);
        var y = net.forward(x);
        return scope.MoveToOuter(y.to(input.device));
    }

    void CheckImage(Tensor image)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (image.dim() != 4 || image.shape[1] != Config.ImageChannels)
            throw new ArgumentException($"{Name}: image must be NCHW with {Config.ImageChannels} channels, got [{string.Join(",", image.shape)}]");
        if (image.shape[2] % DownscaleFactor != 0 || image.shape[3] % DownscaleFactor != 0)
            throw new ArgumentException($"{Name}: image height and width must be multiples of {DownscaleFactor}, got {image.shape[2]}x{image.shape[3]}");
    }

    public void MoveTo(Device device)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _encoder.to(device);
        _decoder.to(device);
        Device = device;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _encoder.Dispose();
        _decoder.Dispose();
    }
}
