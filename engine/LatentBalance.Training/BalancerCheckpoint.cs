using System.Text.Json;
using LatentBalance.Engine.Balancer;

namespace LatentBalance.Training;

/// <summary>Training checkpoints: the balancer folder layout plus <c>state.json</c> (step, loss history).</summary>
public static class BalancerCheckpoint
{
    const string StateFile = "state.json";
    static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static void Save(string dir, BalancerNet net, CheckpointState state)
    {
        var last = Path.Combine(dir, "last");
        BalancerWeights.Save(net, last, new Dictionary<string, string> { ["step"] = state.Step.ToString() });
        var path = Path.Combine(last, StateFile);
        File.WriteAllText(path + ".tmp", JsonSerializer.Serialize(state, Json));
        File.Move(path + ".tmp", path, true);
        LossPlot.Write(Path.Combine(dir, "loss.png"), state.History);
    }

    public static bool TryLoad(string dir, BalancerNet net, out CheckpointState state)
    {
        state = new CheckpointState(0, []);
        var last = Path.Combine(dir, "last");
        var statePath = Path.Combine(last, StateFile);
        if (!File.Exists(statePath)) return false;
        var saved = BalancerWeights.Load(last);
        if (saved.Config.ToJson() != net.Config.ToJson())
            throw new InvalidOperationException($"{last}: the checkpoint's balancer config differs from the one asked for; use a new checkpoint folder");
        BalancerWeights.LoadInto(net, saved.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone()), last);
        saved.Dispose();
        state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(statePath)) ?? state;
        return true;
    }
}
