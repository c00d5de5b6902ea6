using System.Runtime.InteropServices;
using System.Text;
using Google.Protobuf;
using LatentBalance.Engine.ModelFiles;
using Onnx;

namespace LatentBalance.Onnx;

/// <summary>
/// Builds one ONNX graph (opset <see cref="Opset"/>) node by node, taking its weights from a <see cref="StateDict"/>
/// as initializers named by their state-dict keys. As strict as the engine's <c>Pretrained.LoadInto</c>:
/// every key the graph needs present with its shape, finite, and none left over, or one error listing the problems.
/// When one file holds several graphs' weights, <paramref name="owns"/> says which keys must be used by this one.
/// </summary>
internal sealed class GraphBuilder(string name, StateDict weights, Func<string, bool>? owns = null)
{
    public const int Opset = 17;
    readonly GraphProto _graph = new() { Name = name };
    readonly List<string> _missing = [], _shapes = [], _nonFinite = [];
    readonly HashSet<string> _used = new(StringComparer.Ordinal);
    int _next;

    /// <summary>A float32 NCHW input with <paramref name="channels"/> channels; batch, height and width are free.</summary>
    public string Input(string input, int channels)
    {
        _graph.Input.Add(Nchw(input, channels));
        return input;
    }

    public string Node(string op, string[] inputs, params AttributeProto[] attributes) => Nodes(op, 1, inputs, attributes)[0];

    /// <summary>A node with <paramref name="outputs"/> outputs (TopK: values and indices).</summary>
    public string[] Nodes(string op, int outputs, string[] inputs, params AttributeProto[] attributes)
    {
        var name = $"{op}_{_next++}";
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(Enumerable.Range(0, outputs).Select(i => i == 0 ? name : $"{name}:{i}"));
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return [.. node.Output];
    }

    /// <summary>The state dict's <paramref name="key"/>, which must have <paramref name="shape"/>; stored as <paramref name="storedShape"/> (same size) when given.</summary>
    public string Weight(string key, long[] shape, long[]? storedShape = null)
    {
        _used.Add(key);
        if (!weights.Tensors.TryGetValue(key, out var w)) { _missing.Add(key); return key; }
        if (!w.Shape.SequenceEqual(shape)) { _shapes.Add($"{key} (file [{string.Join(",", w.Shape)}], model [{string.Join(",", shape)}])"); return key; }
        if (!w.Data.All(float.IsFinite)) { _nonFinite.Add(key); return key; }
        _graph.Initializer.Add(Tensor(key, TensorProto.Types.DataType.Float, storedShape ?? shape, MemoryMarshal.AsBytes(w.Data.AsSpan())));
        return key;
    }

    public string Constant(float[] values, params long[] shape) =>
        AddConstant(TensorProto.Types.DataType.Float, shape, MemoryMarshal.AsBytes(values.AsSpan()));

    public string Constant(long[] values) =>
        AddConstant(TensorProto.Types.DataType.Int64, [values.Length], MemoryMarshal.AsBytes(values.AsSpan()));

    public string Constant(double[] values) =>
        AddConstant(TensorProto.Types.DataType.Double, [values.Length], MemoryMarshal.AsBytes(values.AsSpan()));

    string AddConstant(TensorProto.Types.DataType type, long[] shape, ReadOnlySpan<byte> bytes)
    {
        var key = $"const_{_next++}";
        _graph.Initializer.Add(Tensor(key, type, shape, bytes));
        return key;
    }

    /// <summary>The model with <paramref name="value"/> as its output <paramref name="output"/> (<paramref name="channels"/> channels, NCHW).</summary>
    /// <exception cref="ModelFileException">the weights do not fit the graph; the message names the file.</exception>
    public ModelProto Build(string value, string output, int channels)
    {
        Output(value, output, channels);
        return Build();
    }

    /// <summary>Names <paramref name="value"/> as the graph output <paramref name="output"/>: NCHW with <paramref name="channels"/> channels, or [N] when null.</summary>
    public void Output(string value, string output, int? channels)
    {
        var identity = new NodeProto { OpType = "Identity", Name = output };
        identity.Input.Add(value);
        identity.Output.Add(output);
        _graph.Node.Add(identity);
        _graph.Output.Add(channels is { } c ? Nchw(output, c) : Batch(output));
    }

    /// <summary>The model with the outputs named so far.</summary>
    /// <exception cref="ModelFileException">the weights do not fit the graph; the message names the file.</exception>
    public ModelProto Build()
    {
        var unexpected = weights.Tensors.Keys.Where(k => !_used.Contains(k) && (owns is null || owns(k))).Order(StringComparer.Ordinal).ToList();
        if (_missing.Count + _shapes.Count + _nonFinite.Count + unexpected.Count > 0)
        {
            var sb = new StringBuilder($"{weights.Source}: weights do not fit the model");
            void List(string what, List<string> keys) { if (keys.Count > 0) sb.Append($"; {what} {keys.Count}: ").AppendJoin(", ", keys.Take(20)); }
            List("missing", _missing);
            List("unexpected", unexpected);
            List("shape mismatch", _shapes);
            List("NaN or infinite values in", _nonFinite);
            throw new ModelFileException(sb.ToString());
        }
        var model = new ModelProto { IrVersion = 8, ProducerName = "LatentBalance", Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    static TensorProto Tensor(string key, TensorProto.Types.DataType type, long[] shape, ReadOnlySpan<byte> bytes)
    {
        var t = new TensorProto { Name = key, DataType = (int)type, RawData = ByteString.CopyFrom(bytes) };
        t.Dims.AddRange(shape);
        return t;
    }

    static ValueInfoProto Nchw(string name, int channels) => FloatValue(name,
        new() { DimParam = "batch" }, new() { DimValue = channels }, new() { DimParam = name + "_height" }, new() { DimParam = name + "_width" });

    static ValueInfoProto Batch(string name) => FloatValue(name, new TensorShapeProto.Types.Dimension { DimParam = "batch" });

    static ValueInfoProto FloatValue(string name, params TensorShapeProto.Types.Dimension[] dims)
    {
        var shape = new TensorShapeProto();
        shape.Dim.AddRange(dims);
        var tensor = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape };
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
    }
}
