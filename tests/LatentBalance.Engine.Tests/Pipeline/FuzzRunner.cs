using System.Diagnostics;
using LatentBalance.Bridge.Contract;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.Pipeline;
using LatentBalance.Engine.Tests.Imaging;
using NetVips;

namespace LatentBalance.Engine.Tests.Pipeline;

/// <summary>What one fuzz case got, and which rule it broke (<see cref="Problem"/>, null when none).</summary>
public sealed record FuzzResult(FuzzCase Case, string Outcome, string? Message, double Ms, string? Problem)
{
    public override string ToString() =>
        $"{Case.FileName}: {Outcome} in {Ms:F0} ms{(Message == null ? "" : ": " + Message)}{(Problem == null ? "" : "  <-- " + Problem)}";
}

/// <summary>
/// Runs fuzz cases through the engine service (<see cref="ServiceBalance"/>) and checks the rules: each case
/// either balances to a complete, readable output, or fails with an input error (code BadImage, NotFound
/// or InvalidArgument, from the engine's <see cref="FileErrorKind"/>) whose message is one line naming the file;
/// nothing else is thrown, each case ends within a time bound, and the output folder holds nothing but
/// a complete output afterwards. Shared by the engine fuzz test and the fuzz benchmark.
/// </summary>
public static class FuzzRunner
{
    /// <summary>Outcome names: balanced; refused:CODE (an input error of that code); output-error; other:CODE; hang.</summary>
    public static FuzzResult Run(BalanceEngine engine, FuzzCase c, string inputDir, string outputDir, TimeSpan bound)
    {
        var input = Path.Combine(inputDir, c.FileName);
        File.WriteAllBytes(input, c.Bytes);
        var output = Path.Combine(outputDir, Path.GetFileNameWithoutExtension(c.FileName) + ".out" + Path.GetExtension(c.FileName));
        var sw = Stopwatch.StartNew();
        var job = Task.Run(() => engine.BalanceFile(input, output, new BalanceOptions()));
        if (Task.WhenAny(job, Task.Delay(bound)).Result != job)
            return new FuzzResult(c, "hang", null, sw.Elapsed.TotalMilliseconds, $"still running after {bound.TotalSeconds:F0} s");
        double ms = sw.Elapsed.TotalMilliseconds;

        string outcome;
        string? message = null, problem = null;
        if (job.IsCompletedSuccessfully)
        {
            outcome = "balanced";
            problem = Readable(output, job.Result);
        }
        else
        {
            var e = job.Exception!.InnerExceptions[0];
            message = e.Message;
            bool refused = e is BridgeException { Code: BridgeErrorCode.BadImage or BridgeErrorCode.NotFound or BridgeErrorCode.InvalidArgument };
            (outcome, var named) = e switch
            {
                BridgeException b when refused => ("refused:" + b.Code, input),
                BridgeException { Code: BridgeErrorCode.IoError } => ("output-error", output),
                BridgeException b => ("other:" + b.Code, input),
                _ => ("other:" + e.GetType().Name, input),
            };
            if (!refused) problem = $"{outcome} for a bad input";
            else if (message.Contains('\n') || message.Contains('\r')) problem = "the error has more than one line";
            else if (!message.Contains(Path.GetFileName(named))) problem = "the error does not name the file";
            if (problem != null) message = e.ToString();
            if (File.Exists(output)) problem ??= "failed, but an output file was left";
        }

        var left = Directory.EnumerateFileSystemEntries(outputDir).Where(p => p != output || outcome != "balanced").ToList();
        if (left.Count > 0) problem ??= "left behind: " + string.Join(", ", left.Select(Path.GetFileName));
        foreach (var p in Directory.EnumerateFiles(outputDir)) File.Delete(p);
        File.Delete(input);
        return new FuzzResult(c, outcome, message, ms, problem);
    }

    /// <summary>Null when <paramref name="output"/> decodes completely at the photo's size (either way up).</summary>
    static string? Readable(string output, Balanced r)
    {
        try
        {
            using var img = Image.NewFromFile(output, access: Enums.Access.Sequential, failOn: Enums.FailOn.Error);
            _ = img.Avg();
            bool size = (img.Width, img.Height) == (r.Width, r.Height) || (img.Width, img.Height) == (r.Height, r.Width);
            return size ? null : $"output is {img.Width}x{img.Height}, the photo {r.Width}x{r.Height}";
        }
        catch (Exception e) { return "output not readable: " + e.Message.Split('\n')[0]; }
    }

    /// <summary>Counts per outcome, and per format and outcome, as printable lines.</summary>
    public static IEnumerable<string> Summary(IReadOnlyCollection<FuzzResult> results)
    {
        yield return $"{results.Count} cases, {results.Count(r => r.Problem != null)} broke a rule, total {results.Sum(r => r.Ms) / 1000:F1} s, " +
                     $"median {Median(results.Select(r => r.Ms)):F0} ms, max {results.Max(r => r.Ms):F0} ms ({results.MaxBy(r => r.Ms)!.Case.FileName})";
        foreach (var g in results.GroupBy(r => r.Outcome).OrderByDescending(g => g.Count()))
            yield return $"  {g.Key,-24} {g.Count(),5}  median {Median(g.Select(r => r.Ms)),6:F0} ms  max {g.Max(r => r.Ms),6:F0} ms";
        foreach (var f in results.GroupBy(r => r.Case.Format).OrderBy(g => g.Key))
            yield return $"  {f.Key,-5} {f.Count(),5}: " + string.Join(", ", f.GroupBy(r => r.Outcome).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}"));
        foreach (var k in results.GroupBy(r => r.Case.Class).OrderBy(g => g.Key))
            yield return $"  {k.Key,-9} {k.Count(),5}: " + string.Join(", ", k.GroupBy(r => r.Outcome).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}"));
    }

    static double Median(IEnumerable<double> xs)
    {
        var s = xs.Order().ToList();
        return s.Count == 0 ? 0 : s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }
}
