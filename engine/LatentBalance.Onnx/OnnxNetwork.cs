using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Onnx;

namespace LatentBalance.Onnx;

/// <summary>
/// One network in one ONNX Runtime session, created once and reused (one NCHW input; NCHW outputs, or others through <see cref="RunAll"/>).
/// Session settings: <see cref="OnnxSessionSettings"/> (intra-op threads: the cores this process may use unless set). Device:
/// <see cref="OnnxDevice"/> (the CPU, or a CUDA device through ONNX Runtime's CUDA execution provider in a -p:OnnxBackend=cuda
/// build). <see cref="Run"/> may be called from several threads at once (ONNX Runtime sessions take concurrent runs; each run
/// then uses its own thread plus the session's intra-op pool, so give such a session 1 intra-op thread).
/// </summary>
public sealed class OnnxNetwork : IDisposable
{
    readonly InferenceSession _session;
    readonly RunOptions _run = new();
    readonly string[] _input, _output;

    public int Threads { get; }

    public OnnxSessionSettings Settings { get; }

    public OnnxDevice Device { get; }

    internal OnnxNetwork(ModelProto model, string input, string output, int? threads = null, OnnxDevice? device = null) : this(model, input, [output], threads, device) { }

    internal OnnxNetwork(ModelProto model, string input, string output, OnnxSessionSettings settings, OnnxDevice? device = null) : this(model, input, [output], settings, device) { }

    internal OnnxNetwork(ModelProto model, string input, string[] outputs, int? threads = null, OnnxDevice? device = null)
        : this(model, input, outputs, OnnxSessionSettings.Default with { IntraOpThreads = threads }, device) { }

    internal OnnxNetwork(ModelProto model, string input, string[] outputs, OnnxSessionSettings settings, OnnxDevice? device = null)
    {
        Device = device ?? OnnxDevice.Cpu;
        Settings = settings;
        Threads = settings.Threads;
        using var options = settings.ToOptions();
        // the CPU provider stays as the fallback for any node the CUDA provider does not take
        if (Device.IsCuda) options.AppendExecutionProvider_CUDA(Device.Index);
        _session = new InferenceSession(model.ToByteArray(), options);
        (_input, _output) = ([input], outputs);
    }

    /// <summary>The first output, NCHW.</summary>
    public NchwTensor Run(NchwTensor input)
    {
        var (data, shape) = RunAll(input)[0];
        return new NchwTensor(data, (int)shape[0], (int)shape[1], (int)shape[2], (int)shape[3]);
    }

    /// <summary>Every output, in the order named, as float32 values and shape.</summary>
    public (float[] Data, long[] Shape)[] RunAll(NchwTensor input)
    {
        // The input is copied into memory ONNX Runtime allocates (64-byte aligned) rather than handed over in place: a managed
        // array's address varies run to run, and the CPU kernels' vectorised reductions (the balancer's ReduceMean over
        // the latent) start their aligned blocks at a different element for a different address, so the same latent gave
        // results a few ULP apart from run to run, and LUTs and output photos that differed by a level or two.
        using var value = OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, TensorElementType.Float, input.Shape);
        input.Data.AsSpan().CopyTo(value.GetTensorMutableDataAsSpan<float>());
        using var results = _session.Run(_run, _input, [value], _output);
        return [.. results.Select(r => (r.GetTensorDataAsSpan<float>().ToArray(), r.GetTensorTypeAndShape().Shape))];
    }

    public void Dispose()
    {
        _session.Dispose();
        _run.Dispose();
    }
}
