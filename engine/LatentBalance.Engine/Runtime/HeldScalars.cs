using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Engine.Runtime;

/// <summary>
/// The engine's only source of TorchSharp <see cref="Scalar"/>s: one per value, made once and held
/// for the life of the process.
/// <para>
/// Why: TorchSharp 0.107's <see cref="Scalar"/> owns a native c10::Scalar that its finalizer frees,
/// and TorchSharp hands libtorch only the native pointer. A Scalar made for one call (an implicit
/// conversion such as <c>t * 0.5</c> or <c>t.clamp_min(0)</c>, or the <c>alpha</c> = 1 that
/// <c>Tensor.add(Tensor)</c>, <c>t + u</c> and <c>square()</c> make inside TorchSharp) is garbage
/// as soon as its pointer has been read, while libtorch still reads the c10::Scalar behind it. A
/// collection on another thread (the calling thread is in native code, so it does not hold the
/// collection up) followed by the finalizer thread frees it under libtorch's feet: libtorch then
/// reads a freed tag, "Expected false to be true" (c10::Scalar::toDouble) or "Unknown scalar
/// type", and once a SIGSEGV. <c>dotnet cake --target=benchmark --bench=scalar-race</c> shows it
/// and its absence when every Scalar is held (docs/ARCHITECTURE.md has the counts).
/// </para>
/// <para>
/// A held Scalar is never garbage, so it is never finalized. <see cref="HeldArithmetic"/> is the
/// arithmetic built on them; <c>HeldScalarsTests</c> checks the engine's compiled code for any other
/// Scalar (a direct conversion, or a TorchSharp member that makes one inside).
/// </para>
/// </summary>
public static class HeldScalars
{
    static readonly ConcurrentDictionary<long, Scalar> Reals = new();   // keyed by the bit pattern: -0.0 is not 0.0
    static readonly ConcurrentDictionary<long, Scalar> Integers = new();

    /// <summary>1 as an integer Scalar: the <c>alpha</c> of additions.</summary>
    public static readonly Scalar One = Of(1L);

    /// <summary>The held floating-point Scalar of <paramref name="value"/>. Each value is held for
    /// good, so this is for constants, settings and the user's strength, never for a number computed
    /// per photo (that would grow without bound: keep such numbers in tensors).</summary>
    public static Scalar Of(double value) => Reals.GetOrAdd(BitConverter.DoubleToInt64Bits(value), MakeReal);

    /// <summary>The held integer Scalar of <paramref name="value"/> (integer tensors stay integer).</summary>
    public static Scalar Of(long value) => Integers.GetOrAdd(value, MakeInteger);

    // Methods of this class, not lambdas: a lambda's body is compiled into a nested class, which the
    // guard in HeldScalarsTests would take for engine code making a Scalar that nothing holds.
    static Scalar MakeReal(long bits) => BitConverter.Int64BitsToDouble(bits).ToScalar();
    static Scalar MakeInteger(long value) => value.ToScalar();
}

/// <summary>
/// Tensor arithmetic with <see cref="HeldScalars"/> in place of the TorchSharp operators and members
/// that make a Scalar for the call. Each gives the same result, bit for bit, as the operator it
/// replaces.
/// </summary>
public static class HeldArithmetic
{
    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, HeldScalars.One);
    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, double b) => a.add(HeldScalars.Of(b), HeldScalars.One);
    /// <summary><c>a + b</c> with an integer <paramref name="b"/> (also <c>b + a</c>).</summary>
    public static Tensor Plus(this Tensor a, long b) => a.add(HeldScalars.Of(b), HeldScalars.One);
    /// <summary><c>a - b</c>.</summary>
    public static Tensor Minus(this Tensor a, double b) => a.sub(HeldScalars.Of(b));
    /// <summary><c>a - b</c> with an integer <paramref name="b"/>.</summary>
    public static Tensor Minus(this Tensor a, long b) => a.sub(HeldScalars.Of(b));
    /// <summary><c>b - a</c>, a number less a tensor.</summary>
    public static Tensor From(this Tensor a, double b) => a.neg().add(HeldScalars.Of(b), HeldScalars.One);
    /// <summary><c>b - a</c>, an integer less a tensor.</summary>
    public static Tensor From(this Tensor a, long b) => a.neg().add(HeldScalars.Of(b), HeldScalars.One);
    /// <summary><c>a * b</c>.</summary>
    public static Tensor Times(this Tensor a, double b) => a.mul(HeldScalars.Of(b));
    /// <summary><c>a * b</c> with an integer factor (an integer tensor stays integer).</summary>
    public static Tensor Times(this Tensor a, long b) => a.mul(HeldScalars.Of(b));
    /// <summary><c>a / b</c>.</summary>
    public static Tensor Over(this Tensor a, double b) => a.div(HeldScalars.Of(b));
    /// <summary><c>a / b</c> with an integer divisor.</summary>
    public static Tensor Over(this Tensor a, long b) => a.div(HeldScalars.Of(b));
    /// <summary><c>a.square()</c> (libtorch computes pow(a, 2) as a * a).</summary>
    public static Tensor Squared(this Tensor a) => a.mul(a);
    /// <summary><c>a.clamp(min, max)</c>.</summary>
    public static Tensor ClampTo(this Tensor a, double min, double max) => a.clamp(HeldScalars.Of(min), HeldScalars.Of(max));
    /// <summary><c>a.clamp(min, max)</c> with integer bounds.</summary>
    public static Tensor ClampTo(this Tensor a, long min, long max) => a.clamp(HeldScalars.Of(min), HeldScalars.Of(max));
    /// <summary><c>a.clamp_min(min)</c>.</summary>
    public static Tensor AtLeast(this Tensor a, double min) => a.clamp_min(HeldScalars.Of(min));
    /// <summary><c>a.clamp_max(max)</c>.</summary>
    public static Tensor AtMost(this Tensor a, double max) => a.clamp_max(HeldScalars.Of(max));
    /// <summary><c>torch.arange(start, stop, dtype)</c>: [start, stop) in steps of 1 (int64 unless
    /// <paramref name="dtype"/> says otherwise; TorchSharp's two-Scalar overload makes the step itself).</summary>
    public static Tensor Arange(long start, long stop, ScalarType? dtype = null) => arange(HeldScalars.Of(start), HeldScalars.Of(stop), HeldScalars.One, dtype);
    /// <summary><c>a.pow(exponent)</c>.</summary>
    public static Tensor Power(this Tensor a, double exponent) => a.pow(HeldScalars.Of(exponent));
    /// <summary><c>a.pow(exponent)</c> with an integer exponent.</summary>
    public static Tensor Power(this Tensor a, long exponent) => a.pow(HeldScalars.Of(exponent));
}
