using System.Diagnostics;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.ModelFiles;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Vae;
using LatentBalance.Onnx;
using Microsoft.ML.OnnxRuntime;
using NetVips;

namespace LatentBalance.Benchmarks;

/// <summary>
/// Issue 16, the model stages' cost: ONNX Runtime session settings and decode strategies for the default pack's TAEF2 at
/// 224x224, all in one run, interleaved, medians, each against today's settings. <c>--bench=ort</c>.
/// (1) one TAEF2 per setting (intra-op threads, spinning, memory arena and pattern, optimisation level, dynamic block
/// base): encode one real photo tile, decode the pair the engine decodes (tile latent and balanced latent, batch 2, one Run);
/// (2) the pair as two Runs one after the other, and as two Runs at once on two threads with 1 intra-op thread each.
/// (Three decoder graphs with the upsample + conv pairs at the low resolution were measured here too, no faster, and
/// removed: docs/BENCHMARKS.md.)
/// </summary>
static class OrtBenchmark
{
    const int WarmUp = 2, Runs = 11;

    public static Task RunAsync()
    {
        var loadBefore = File.ReadAllText("/proc/loadavg").Trim();
        var pack = ModelPack.Open(ModelPack.DefaultDirectory());
        using var store = new ModelStore();
        var config = Pretrained.ReadConfig<TinyAutoencoderConfig>(Path.Combine(pack.Directory, pack.Manifest.Vae.Config!));
        string encoder = store.Resolve(pack.Manifest.Vae.Encoder!), decoder = store.Resolve(pack.Manifest.Vae.Decoder!);
        OnnxTinyAutoencoder Load(OnnxSessionSettings s) => OnnxTinyAutoencoder.Load(config, encoder, decoder, s, s);

        var today = OnnxSessionSettings.Default;
        var one = today with { IntraOpThreads = 1 };
        var settings = new (string Name, OnnxSessionSettings Settings)[]
        {
            ($"today ({today.Threads} intra-op threads = cores, spinning on, arena + pattern on, ORT_ENABLE_ALL)", today),
            ("intra-op threads 1", one),
            ("intra-op threads 4 (2x the cores)", today with { IntraOpThreads = 4 }),
            ("session.intra_op.allow_spinning 0", today with { IntraOpSpinning = false }),
            ("session.inter_op.allow_spinning 0", today with { InterOpSpinning = false }),
            ("memory arena off", today with { MemoryArena = false }),
            ("memory pattern off", today with { MemoryPattern = false }),
            ("ORT_ENABLE_EXTENDED (no NCHWc layout)", today with { Optimization = GraphOptimizationLevel.ORT_ENABLE_EXTENDED }),
            ("ORT_ENABLE_BASIC", today with { Optimization = GraphOptimizationLevel.ORT_ENABLE_BASIC }),
            ("session.dynamic_block_base 4", today with { DynamicBlockBase = 4 }),
        };
        var vaes = settings.Select(s => Load(s.Settings)).ToList();
        using var balancer = OnnxBalancer.Load(Path.Combine(pack.Directory, pack.Manifest.Balancer));
        try
        {
            using var img = Image.NewFromFile(Path.Combine(BenchImages.SharedPhotos(), "bsds500", "100075.jpg"));
            var tile = ThumbnailFit.FromImage(img);
            var image = new NchwTensor(tile.Chw, 1, 3, tile.Size, tile.Size);
            var z = vaes[0].Encode(image);
            var balanced = balancer.BalanceWithStrength(z).Balanced;
            var pair = new NchwTensor([.. z.Data, .. balanced.Data], 2, z.Channels, z.Height, z.Width);

            var cases = new List<(string Row, string Column, Action Run)>();
            for (int s = 0; s < settings.Length; s++)
            {
                var vae = vaes[s];
                cases.Add((settings[s].Name, "encode", () => vae.Encode(image)));
                cases.Add((settings[s].Name, "decode", () => vae.Decode(pair)));
            }
            var (two, twoThreads) = ("the pair as two Runs, one after the other", "the pair as two Runs at once on two threads, 1 intra-op thread each");
            cases.Add((two, "decode", () => { vaes[0].Decode(z); vaes[0].Decode(balanced); }));
            cases.Add((twoThreads, "decode", () => Concurrently(vaes[1], z, balanced)));

            var reference = vaes[0].Decode(pair);
            float MaxDiff(NchwTensor t) => t.Data.Zip(reference.Data, (a, b) => Math.Abs(a - b)).Max();
            var concurrent = Concurrently(vaes[1], z, balanced);
            Console.WriteLine($"largest |difference| from today's decode of the pair (image values ~[0, 1]): two Runs at once {MaxDiff(new NchwTensor([.. concurrent[0].Data, .. concurrent[1].Data], 2, 3, reference.Height, reference.Width)):E2}");
            var times = cases.Select(_ => new List<double>()).ToArray();
            var cpu = cases.Select(_ => new List<double>()).ToArray();
            using var process = Process.GetCurrentProcess();
            for (int run = 0; run < WarmUp + Runs; run++)
                for (int k = 0; k < cases.Count; k++)
                {
                    int c = (k + run) % cases.Count; // rotate the order so that no case always follows the same one
                    process.Refresh();
                    var cpu0 = process.TotalProcessorTime;
                    var sw = Stopwatch.StartNew();
                    cases[c].Run();
                    double wall = sw.Elapsed.TotalMilliseconds;
                    process.Refresh();
                    if (run >= WarmUp) { times[c].Add(wall); cpu[c].Add((process.TotalProcessorTime - cpu0).TotalMilliseconds); }
                }
            int Case(string row, string column) => cases.FindIndex(c => c.Row == row && c.Column == column);
            double Median(string row, string column) => BenchImages.Median(times[Case(row, column)]);
            double Cpu(string row, string column) => BenchImages.Median(cpu[Case(row, column)]);

            var todayName = settings[0].Name;
            double encode0 = Median(todayName, "encode"), decode0 = Median(todayName, "decode");
            Console.WriteLine($"TAEF2 224x224 through ONNX Runtime, real photo tile; {Runs} runs after {WarmUp} warm-up, every case interleaved (order rotated each run), medians; {Environment.ProcessorCount} cores; load average before {loadBefore}, after {File.ReadAllText("/proc/loadavg").Trim()}");
            double encodeCpu0 = Cpu(todayName, "encode"), decodeCpu0 = Cpu(todayName, "decode");
            Console.WriteLine("Wall: elapsed time; CPU: the process's CPU time over the same call (all its threads, spinning included: what the other work on these cores loses).");
            Console.WriteLine("| session setting / decode strategy | encode wall ms | / today | encode CPU ms | / today | decode the pair wall ms | / today | decode CPU ms | / today |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var row in cases.Select(c => c.Row).Distinct())
            {
                bool hasEncode = Case(row, "encode") >= 0;
                string enc = hasEncode ? $"{Median(row, "encode"):F1} | {Median(row, "encode") / encode0:F2} | {Cpu(row, "encode"):F0} | {Cpu(row, "encode") / encodeCpu0:F2}" : "- | - | - | -";
                Console.WriteLine($"| {row} | {enc} | {Median(row, "decode"):F1} | {Median(row, "decode") / decode0:F2} | {Cpu(row, "decode"):F0} | {Cpu(row, "decode") / decodeCpu0:F2} |");
            }
        }
        finally
        {
            foreach (var v in vaes) v.Dispose();
        }
        return Task.CompletedTask;
    }

    /// <summary>Decodes <paramref name="a"/> on this thread and <paramref name="b"/> on a pool thread, at once.</summary>
    static NchwTensor[] Concurrently(OnnxTinyAutoencoder vae, NchwTensor a, NchwTensor b)
    {
        var other = Task.Run(() => vae.Decode(b));
        var first = vae.Decode(a);
        return [first, other.Result];
    }
}
