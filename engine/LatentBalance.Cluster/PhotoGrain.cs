using Orleans.Placement;
using Orleans.Runtime;

namespace LatentBalance.Cluster;

[GenerateSerializer]
public sealed class PhotoGrainState
{
    /// <summary>Engine runs started (written before each run: a second one means a silo died mid-photo).</summary>
    [Id(0)] public int Runs { get; set; }
    /// <summary>The final outcome, once there is one.</summary>
    [Id(1)] public PhotoOutcome? Outcome { get; set; }
}

/// <summary>
/// One photo, one activation, placed by Orleans on the silo with the fewest activations. The outcome is
/// written to Redis once the output is renamed into place; a call after that (the batch asking again
/// because the silo that answered died, or a restarted batch) returns it without running the photo again.
/// A silo killed mid-photo leaves no outcome: the photo is run again elsewhere into the same output name
/// (staged and renamed, so the output is never half-written and there is never a second file).
/// </summary>
[ActivationCountBasedPlacement]
public sealed class PhotoGrain(
    [PersistentState("photo", ClusterNames.Storage)] IPersistentState<PhotoGrainState> state,
    SiloEngine engine,
    ILocalSiloDetails silo) : Grain, IPhotoGrain
{
    public async Task<PhotoOutcome> Run(PhotoItem photo, IReadOnlyDictionary<string, string> parameters)
    {
        if (state.State.Outcome is { } known) return known;
        state.State.Runs++;
        await state.WriteStateAsync();
        var outcome = await engine.RunAsync(photo, parameters);
        outcome = outcome with { Silo = silo.SiloAddress.ToString(), Runs = state.State.Runs };
        state.State.Outcome = outcome;
        await state.WriteStateAsync();
        DeactivateOnIdle();
        return outcome;
    }
}
