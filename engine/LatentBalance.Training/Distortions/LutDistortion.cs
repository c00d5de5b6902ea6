using System.Globalization;
using LatentBalance.Engine.Color;
using LatentBalance.Engine.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace LatentBalance.Training.Distortions;

/// <summary>
/// An artistic 3D LUT blended with the input: out = x + strength (lut(x) - x). The LUT is sampled
/// trilinearly with grid_sample on a [1,3,S,S,S] volume (align_corners = true, border padding); inputs
/// are mapped from the LUT's domain onto the grid.
/// </summary>
public sealed class LutDistortion : IDistortion
{
    public const string OpName = "lut";

    /// <param name="lut">the table</param>
    /// <param name="lutIndex">its index in <see cref="DistortionOptions.Luts"/> (recorded in the recipe)</param>
    /// <param name="strength">blend strength in [0, 1]</param>
    public LutDistortion(Lut3D lut, int lutIndex, double strength)
    {
        ArgumentNullException.ThrowIfNull(lut);
        if (!(strength >= 0 && strength <= 1))
            throw new ArgumentOutOfRangeException(nameof(strength), $"lut strength {strength} is outside [0, 1]");
        for (int c = 0; c < 3; c++)
            if (!(lut.DomainMax[c] > lut.DomainMin[c]))
                throw new ArgumentException($"LUT '{lut.Title ?? "(untitled)"}' has an empty domain on channel {c}: [{lut.DomainMin[c]}, {lut.DomainMax[c]}]");
        Lut = lut;
        LutIndex = lutIndex;
        Strength = strength;
    }

    public Lut3D Lut { get; }
    public int LutIndex { get; }
    public double Strength { get; }
    public DistortionFamily Family => DistortionFamily.Lut;

    internal static LutDistortion Sample(Random rng, DistortionOptions o)
    {
        int i = rng.Next(o.Luts.Count);
        return new LutDistortion(o.Luts[i], i, Math.Round(o.LutStrength.Sample(rng), 4));
    }

    internal static LutDistortion FromStep(DistortionStep s, IReadOnlyList<Lut3D> luts)
    {
        double idx = s.Get("index");
        if (idx != Math.Floor(idx) || idx < 0 || idx >= luts.Count)
            throw new ArgumentException($"recipe step '{s}' refers to LUT #{idx}, but the generator has {luts.Count} LUT(s)");
        var lut = luts[(int)idx];
        if (s.Label != null && lut.Title != null && s.Label != lut.Title)
            throw new ArgumentException($"recipe step '{s}' expects LUT '{s.Label}' at index {idx}, but the generator's LUT there is '{lut.Title}'");
        return new LutDistortion(lut, (int)idx, s.Get("strength"));
    }

    /// <summary>The LUT as a [1,3,S(blue),S(green),S(red)] float32 volume: grid_sample's (x,y,z) = (r,g,b).</summary>
    public static Tensor ToVolume(Lut3D lut, Device device)
    {
        long s = lut.Size;
        // Data is [b][g][r][c] with red fastest: reshape then move channels first.
        return tensor(lut.Data, new[] { s, s, s, 3L }, dtype: ScalarType.Float32, device: device)
            .permute(3, 0, 1, 2).unsqueeze(0).contiguous();
    }

    /// <summary>Samples the LUT at every pixel of an [N,3,H,W] float32 image (no blending, no clamping).</summary>
    public static Tensor Sample(Lut3D lut, Tensor x)
    {
        using var scope = NewDisposeScope();
        var volume = ToVolume(lut, x.device);
        var min = ColorMath.ChannelVector(x, lut.DomainMin[0], lut.DomainMin[1], lut.DomainMin[2]);
        var max = ColorMath.ChannelVector(x, lut.DomainMax[0], lut.DomainMax[1], lut.DomainMax[2]);
        var coords = ((x - min) / (max - min)).Times(2.0).Minus(1.0);       // [N,3,H,W], channel order r,g,b = x,y,z
        var grid = coords.permute(0, 2, 3, 1).unsqueeze(0);                 // [1,N,H,W,3]
        var outp = nn.functional.grid_sample(volume, grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Border, align_corners: true);
        return outp.squeeze(0).permute(1, 0, 2, 3).contiguous().MoveToOuterDisposeScope(); // [1,3,N,H,W] -> [N,3,H,W]
    }

    public Tensor Apply(Tensor image) => DistortionTensor.Run(image, x => x.Plus((Sample(Lut, x) - x).Times(Strength)));

    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{OpName}('{Lut.Title ?? "#" + LutIndex}', x{Strength:0.###})");

    public DistortionStep ToStep() => new(OpName, new Dictionary<string, double> { ["index"] = LutIndex, ["strength"] = Strength }, Lut.Title);
}
