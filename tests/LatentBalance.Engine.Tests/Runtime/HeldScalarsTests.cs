using System.Reflection;
using System.Reflection.Emit;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;
using LatentBalance.Onnx;

namespace LatentBalance.Engine.Tests.Runtime;

public class HeldScalarsTests
{
    /// <summary>
    /// The cause of libtorch's "Expected false to be true" / "Unknown scalar type" (issue 13, item 13):
    /// a Scalar made for one call is finalized, and its native c10::Scalar freed, while libtorch still
    /// reads it, whenever another thread collects at that moment. Under continuous collections on
    /// another thread most corrections failed (2026-11-26: 28 of 100 even after three attempts each).
    /// With every Scalar held, none does, and each LUT is the one computed alone.
    /// </summary>
    [Fact]
    public void TheCorrectionSurvivesCollectionsOnAnotherThread()
    {
        using var engine = EngineRuntime.Load(TestPack.Directory, EngineRuntime.Torch, "cpu", TestPack.Store());
        var photo = Directory.GetFiles(Path.Combine(TestPaths.Photos, "bsds500")).Where(p => !p.EndsWith(".md")).OrderBy(p => p, StringComparer.Ordinal).First();
        ModelTile tile;
        using (var image = NetVips.Image.NewFromFile(photo)) tile = ThumbnailFit.FromImage(image);
        var alone = engine.EstimateCorrection(tile, new BalanceOptions());
        using var stop = new CancellationTokenSource();
        long collections = 0;
        var collector = Task.Run(() =>
        {
            while (!stop.IsCancellationRequested) { GC.Collect(); GC.WaitForPendingFinalizers(); collections++; }
        });
        var failures = new List<string>();
        try
        {
            for (int i = 0; i < 24; i++)
            {
                try
                {
                    var lut = engine.EstimateCorrection(tile, new BalanceOptions());
                    if (!lut.Data.AsSpan().SequenceEqual(alone.Data)) failures.Add($"call {i}: another LUT");
                }
                catch (Exception e) { failures.Add($"call {i}: {e.GetType().Name}: {e.Message.Split('\n')[0]}"); }
            }
        }
        finally { stop.Cancel(); collector.Wait(); }
        Assert.True(collections > 100, $"the other thread collected only {collections} times");
        Assert.True(failures.Count == 0, $"{failures.Count} of 24 corrections failed under {collections} collections on another thread: {string.Join("; ", failures.Take(3))}");
    }

    /// <summary>
    /// No engine code makes a Scalar that nothing holds: no implicit conversion to
    /// <see cref="Scalar"/>, no <c>ToScalar</c> outside <see cref="HeldScalars"/>, and no call to a
    /// TorchSharp member that makes one inside (found in TorchSharp's own code, so a TorchSharp
    /// update is checked too). The one exception: TorchSharp's optimisers' steps in training code,
    /// which runs them on its own thread (the colour-map fit runs no libtorch since 2026-12-01).
    /// </summary>
    [Fact]
    public void NoEngineCodeMakesAScalarThatNothingHolds()
    {
        var makers = ScalarMakers();
        Assert.Contains(makers, m => m.Name == "add" && m.GetParameters().Length == 1);   // add(Tensor) is add(Tensor, 1)
        var found = new List<string>();
        // the engine and the training assembly (its optimiser steps aside, see IsTraining)
        foreach (var method in MethodsOf(typeof(BalanceEngine).Assembly).Concat(MethodsOf(typeof(LatentBalance.Training.Evaluator).Assembly)))
        {
            if (method.DeclaringType == typeof(HeldScalars)) continue;
            foreach (var callee in Callees(method))
                if (MakesScalar(callee) || makers.Contains(callee) && !(IsOptimiserStep(callee) && IsTraining(method)))
                    found.Add($"{method.DeclaringType!.FullName}.{method.Name} calls {callee.DeclaringType!.Name}.{callee.Name}({string.Join(", ", callee.GetParameters().Select(p => p.ParameterType.Name))})");
        }
        Assert.True(found.Count == 0, $"{found.Count} calls make a Scalar that nothing holds (use HeldScalars / HeldArithmetic):\n" + string.Join("\n", found.Distinct().Take(40)));
    }

    static bool IsTraining(MethodBase m) => m.DeclaringType!.Namespace!.StartsWith("LatentBalance.Training", StringComparison.Ordinal);

    static bool IsOptimiserStep(MethodBase m) => m.Name == "step" && typeof(optim.Optimizer).IsAssignableFrom(m.DeclaringType);

    static bool MakesScalar(MethodBase m) =>
        m.DeclaringType == typeof(Scalar) && m.Name == "op_Implicit" ||
        m.DeclaringType == typeof(ScalarExtensionMethods) && m.Name.StartsWith("To", StringComparison.Ordinal) && m.Name.EndsWith("Scalar", StringComparison.Ordinal);

    /// <summary>TorchSharp's methods that make a Scalar, directly or through another of its methods.</summary>
    static HashSet<MethodBase> ScalarMakers()
    {
        var methods = MethodsOf(typeof(Scalar).Assembly).Where(m => !MakesScalar(m)).ToList();
        var callees = methods.ToDictionary(m => m, m => Callees(m).ToList());
        var makers = new HashSet<MethodBase>();
        for (bool grew = true; grew;)
        {
            grew = false;
            foreach (var m in methods)
                if (!makers.Contains(m) && callees[m].Any(c => MakesScalar(c) || makers.Contains(c))) grew = makers.Add(m) | grew;
        }
        return makers;
    }

    const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    static IEnumerable<MethodBase> MethodsOf(Assembly assembly)
    {
        Type[] types;
        try { types = assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { types = e.Types.OfType<Type>().ToArray(); }
        return types.SelectMany(t => t.GetMethods(All).Cast<MethodBase>().Concat(t.GetConstructors(All)));
    }

    static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!).ToDictionary(o => o.Value);

    /// <summary>The methods <paramref name="method"/>'s IL calls (call, callvirt, newobj, ldftn).</summary>
    static IEnumerable<MethodBase> Callees(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (FileNotFoundException) { yield break; }   // a TorchSharp method using an assembly not deployed here
        if (il is null) yield break;
        for (int i = 0; i < il.Length;)
        {
            short value = il[i] == 0xFE ? (short)(0xFE00 | il[i + 1]) : il[i];
            i += il[i] == 0xFE ? 2 : 1;
            var op = OpCodesByValue[value];
            if (op.OperandType == OperandType.InlineMethod)
            {
                MethodBase? callee = null;
                try
                {
                    callee = method.Module.ResolveMethod(BitConverter.ToInt32(il, i),
                        method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null,
                        method.IsGenericMethod ? method.GetGenericArguments() : null);
                }
                catch (Exception e) when (e is ArgumentException or FileNotFoundException or TypeLoadException) { }
                if (callee != null) yield return callee;
            }
            i += op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
        }
    }
}
