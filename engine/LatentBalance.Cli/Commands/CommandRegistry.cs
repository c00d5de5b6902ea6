using System.CommandLine;

namespace LatentBalance.Cli.Commands;

/// <summary>Subcommands beyond balance and models (training, evaluation, the daemon).</summary>
static class CommandRegistry
{
    public static IEnumerable<Command> Extra()
    {
        yield return TrainCommand.Create();
        yield return DaemonCommand.Create();
        yield return EvalCommand.Create();
    }
}
