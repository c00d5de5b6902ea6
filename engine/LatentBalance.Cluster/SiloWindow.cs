using System.Diagnostics;
using Orleans.Runtime;

namespace LatentBalance.Cluster;

/// <summary>How many photos a batch keeps in flight: every active silo's job slots plus one queued per silo
/// (so a silo never waits for the next photo), re-read from the membership every few seconds so silos that
/// join or die change it.</summary>
sealed class SiloWindow(IGrainFactory grains, int jobsPerSilo)
{
    readonly Stopwatch _age = new();
    int _size;

    public async Task<int> SizeAsync()
    {
        if (_size > 0 && _age.Elapsed < TimeSpan.FromSeconds(3)) return _size;
        int silos;
        try { silos = Math.Max(1, (await grains.GetGrain<IManagementGrain>(0).GetHosts(onlyActive: true)).Count); }
        catch (Exception e) when (e is not OutOfMemoryException) { silos = Math.Max(1, _size / (jobsPerSilo + 1)); }
        _size = silos * (jobsPerSilo + 1);
        _age.Restart();
        return _size;
    }
}
