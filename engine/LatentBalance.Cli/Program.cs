using System.CommandLine;
using LatentBalance.Cli.Commands;
using LatentBalance.Engine.Runtime;

NativeSetup.EnsureInitialized();
var root = new RootCommand("LatentBalance: machine-learning colour balance for photos (latent space colour balance).")
{
    BalanceCommand.Create(),
    ModelsCommand.Create(),
};
foreach (var extra in CommandRegistry.Extra(args)) root.Subcommands.Add(extra);
// SIGTERM / Ctrl-C: the commands see the token cancelled; after 1.5 s the process exits anyway,
// deleting the output files it had not finished (a libvips write cannot be interrupted)
using var stop = new StopSignals(TimeSpan.FromSeconds(1.5));
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, stop.Token);
