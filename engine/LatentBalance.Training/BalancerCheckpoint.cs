using LatentBalance.Engine.Imaging;
using System.Text.Json;
using LatentBalance.Engine.Balancer;
using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Training;

/// <summary>Training checkpoints: the balancer folder layout plus <c>state.json</c> (step, loss history).</summary>
public static class BalancerCheckpoint
{
    const string StateFile = "state.json";
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static void Save(string dir, BalancerNet net, CheckpointState state)
    {
        var last = Path.Combine(dir, "last");
        net.Save(last, new Dictionary<string, string> { ["step"] = state.Step.ToString() });
        var path = Path.Combine(last, StateFile);
        OutputFiles.Write(Path.GetFullPath(path), staged => File.WriteAllText(staged, JsonSerializer.Serialize(state, Json)));
        LossPlot.Write(Path.Combine(dir, "loss.png"), state.History);
    }

    public static bool TryLoad(string dir, BalancerNet net, out CheckpointState state)
    {
        state = new CheckpointState(0, []);
        var last = Path.Combine(dir, "last");
        var statePath = Path.Combine(last, StateFile);
        if (!File.Exists(statePath)) return false;
        using (var saved = BalancerNet.Load(last))
        {
            if (Pretrained.ToJson(saved.Config) != Pretrained.ToJson(net.Config))
                throw new InvalidOperationException($"{last}: the checkpoint's balancer config differs from the one asked for; use a new checkpoint folder");
            Pretrained.LoadInto(net, saved.state_dict(), last);
        }
        state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(statePath)) ?? state;
        return true;
    }
}
