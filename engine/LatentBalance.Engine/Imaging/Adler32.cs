using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace LatentBalance.Engine.Imaging;

/// <summary>The zlib Adler-32 checksum (needed to frame raw pixels as a valid PNG stream), with an AVX2 path.</summary>
internal static class Adler32
{
    const uint Mod = 65521;

    public static uint Update(uint adler, ReadOnlySpan<byte> data)
    {
        ulong a = adler & 0xFFFF, b = adler >> 16;
        int i = 0;
        if (Avx2.IsSupported && data.Length >= 64) i = UpdateAvx2(ref a, ref b, data);
        // scalar tail (and whole buffer without AVX2), reduced every 4096 bytes: far below overflow
        while (i < data.Length)
        {
            int end = Math.Min(data.Length, i + 4096);
            for (; i < end; i++) { a += data[i]; b += a; }
            a %= Mod; b %= Mod;
        }
        return (uint)(b << 16 | a);
    }

    /// <summary>Processes whole 32-byte blocks; returns how many bytes were consumed.</summary>
    static unsafe int UpdateAvx2(ref ulong a, ref ulong b, ReadOnlySpan<byte> data)
    {
        // For a block of bytes d[0..31] entered with sums (a, b):
        //   a' = a + sum(d),   b' = b + 32 a + sum((32 - j) d[j]).
        // Over k blocks, b gains 32 k a0 + 32 * (sum of per-block running a before each block) + weighted sums.
        var weights = Vector256.Create((sbyte)32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, 18, 17,
            16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1);
        var ones = Vector256.Create((short)1);
        int blocks = data.Length / 32;
        int done = 0;
        fixed (byte* p0 = data)
        {
            while (done < blocks)
            {
                int k = Math.Min(blocks - done, 128); // keeps every 32-bit lane far from overflow
                var vA = Vector256<ulong>.Zero;  // running byte sum (4 lanes from SAD)
                var vPrev = Vector256<ulong>.Zero; // sum over blocks of vA before the block
                var vB = Vector256<int>.Zero;    // weighted sums
                byte* p = p0 + done * 32;
                for (int j = 0; j < k; j++, p += 32)
                {
                    var d = Avx.LoadVector256(p);
                    vPrev = Avx2.Add(vPrev, vA);
                    vA = Avx2.Add(vA, Avx2.SumAbsoluteDifferences(d, Vector256<byte>.Zero).AsUInt64());
                    var m = Avx2.MultiplyAddAdjacent(d, weights);        // 16 x int16
                    vB = Avx2.Add(vB, Avx2.MultiplyAddAdjacent(m, ones)); // 8 x int32
                }
                ulong sumA = Vector256.Sum(vA);
                ulong sumPrev = Vector256.Sum(vPrev);
                long sumB = 0;
                for (int l = 0; l < 8; l++) sumB += vB.GetElement(l);
                b = (b + 32UL * (ulong)k * a + 32UL * sumPrev + (ulong)sumB) % Mod;
                a = (a + sumA) % Mod;
                done += k;
            }
        }
        return blocks * 32;
    }

    /// <summary>Checksum of A followed by B, from the checksums of A and of B and B's length.</summary>
    public static uint Combine(uint adlerA, uint adlerB, long lengthB)
    {
        ulong rem = (ulong)(lengthB % Mod);
        ulong a1 = adlerA & 0xFFFF, b1 = adlerA >> 16, a2 = adlerB & 0xFFFF, b2 = adlerB >> 16;
        ulong a = (a1 + a2 + Mod - 1) % Mod;
        ulong b = (b1 + b2 + rem * a1 % Mod + Mod - rem) % Mod;
        return (uint)(b << 16 | a);
    }
}
