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

    TinyAutoencoder(TinyAutoencoderConfig config)
    {
        config.Validate();
        Config = config;
        _encoder = TinyAutoencoderNetworks.Encoder(config);
        _decoder = TinyAutoencoderNetworks.Decoder(config);
        _encoder.eval();
        _decoder.eval();
    }

    /// <summary>
    /// Builds the model and loads encoder and decoder weights from PyTorch checkpoints (.pth/.pt), strictly.
    /// </summary>
    /// <exception cref="ModelFileException">unreadable file, or keys/shapes that do not fit <paramref name="config"/>.</exception>
    public static TinyAutoencoder Load(TinyAutoencoderConfig config, string encoderPath, string decoderPath)
    {
        var enc = ReadStateDict(encoderPath);
        try
        {
            var dec = ReadStateDict(decoderPath);
            try { return Load(config, enc, dec, encoderPath, decoderPath); }
            finally { foreach (var t in dec.Values) t.Dispose(); }
        }
        finally { foreach (var t in enc.Values) t.Dispose(); }
    }

    /// <summary>
    /// Builds the model from state dicts already in memory (e.g. read from safetensors). The tensors are copied;
    /// the caller keeps ownership. <paramref name="encoderSource"/>/<paramref name="decoderSource"/> name them in errors.
    /// </summary>
    public static TinyAutoencoder Load(TinyAutoencoderConfig config,
        IReadOnlyDictionary<string, Tensor> encoderWeights, IReadOnlyDictionary<string, Tensor> decoderWeights,
        string encoderSource = "encoder weights", string decoderSource = "decoder weights")
    {
        var vae = new TinyAutoencoder(config);
        try
        {
            TinyAutoencoderWeights.LoadStrict(vae._encoder, encoderWeights, encoderSource);
            TinyAutoencoderWeights.LoadStrict(vae._decoder, decoderWeights, decoderSource);
            return vae;
        }
        catch
        {
            vae.Dispose();
            throw;
        }
    }

    /// <summary>Reads a state dict by file extension.</summary>
    static Dictionary<string, Tensor> ReadStateDict(string path)
    {
        var ext = Path.GetExtension(path).ToLowerInvariant();
        return ext switch
        {
            ".pth" or ".pt" or ".ckpt" or ".bin" => PthReader.Read(path),
            ".safetensors" => SafeTensors.Read(path),
            _ => throw new ModelFileException($"{path}: unsupported weight file type '{ext}' (expected a PyTorch .pth checkpoint or .safetensors; for other formats read the state dict yourself and use the dictionary overload)"),
        };
    }

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
