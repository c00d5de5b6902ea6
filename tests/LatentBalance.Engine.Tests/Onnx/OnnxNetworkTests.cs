using System.Runtime.InteropServices;
using LatentBalance.Engine.Imaging;
using LatentBalance.Onnx;
using Xunit.Abstractions;

namespace LatentBalance.Engine.Tests.Onnx;

/// <summary>
/// A network gives the same bytes for the same input, wherever the caller's array lies in memory. The balancer's
/// vectorised reductions once started their aligned blocks at an element that depended on the input's address, so
/// one latent gave balanced latents a few ULP apart from run to run, and the same photo came out a level or two
/// different from the CLI and from a cluster silo (issue 14's host test).
/// </summary>
public class OnnxNetworkTests(ITestOutputHelper output)
{
    [Fact]
    public void TheBalancerGivesTheSameLatentWhereverItsInputLies()
    {
        using var store = TestPack.Store();
        using var vae = OnnxTinyAutoencoder.Load(TestPack.Taef2Config, store.Resolve("taef2/taef2_encoder.pth"), store.Resolve("taef2/taef2_decoder.pth"));
        using var balancer = OnnxBalancer.Load(Path.Combine(TestPaths.RepoRoot, "models", "default", "balancer"));
        var photos = Directory.GetFiles(Path.Combine(TestPaths.Photos, "bsds500"), "*.jpg").Order(StringComparer.Ordinal).ToArray();
        foreach (var photo in new[] { photos[3], photos[18], photos[48] })
        {
            var tile = ThumbnailFit.FromSource(PhotoReader.Open(photo), new ThumbnailFitOptions { Size = 224 }).Chw.ToArray();
            var z = vae.Encode(new NchwTensor(tile, 1, 3, 224, 224));
            // copies of the latent at each 8-byte offset from a 64-byte boundary (.NET aligns arrays to 8) (pinned, so the address holds)
            var copies = new Dictionary<long, float[]>();
            for (int tries = 0; copies.Count < 8 && tries < 10_000; tries++)
            {
                var a = GC.AllocateArray<float>(z.Data.Length, pinned: true);
                long offset = (long)Marshal.UnsafeAddrOfPinnedArrayElement(a, 0) % 64;
                if (copies.ContainsKey(offset)) continue;
                z.Data.CopyTo(a, 0);
                copies[offset] = a;
                _ = new byte[24 + tries % 40]; // move the next allocation along
            }
            Assert.True(copies.Count >= 4, $"only {copies.Count} alignments reached");
            var results = copies.ToDictionary(c => c.Key, c => balancer.BalanceWithStrength(new NchwTensor(c.Value, 1, z.Channels, z.Height, z.Width)).Balanced.Data);
            var first = results.First().Value;
            var differ = results.Where(r => !r.Value.AsSpan().SequenceEqual(first)).Select(r => r.Key).ToList();
            output.WriteLine($"{Path.GetFileName(photo)}: {results.Count} input addresses (offsets {string.Join(",", results.Keys.Order())} mod 64), {differ.Count} gave other bytes");
            Assert.Empty(differ);
        }
    }
}
