using System.CommandLine;

namespace LatentBalance.Cli.Commands;

/// <summary>Subcommands beyond balance and models (training, evaluation, the daemon, the cluster).</summary>
static class CommandRegistry
{
    /// <param name="args">the command line: the train command, whose options come from the training assembly's
    /// recipe, is built whole only when it is the command run (any other command never loads that assembly).</param>
    public static IEnumerable<Command> Extra(string[] args)
    {
        yield return args.FirstOrDefault() == "train" ? TrainCommand.Create() : new Command("train", TrainCommand.Summary);
        yield return DaemonCommand.Create();
        yield return EvalCommand.Create();
        // Orleans is loaded only by the cluster command itself
        yield return args.FirstOrDefault() == "cluster" ? ClusterCommand.Create() : new Command("cluster", ClusterCommand.Summary);
    }
}
