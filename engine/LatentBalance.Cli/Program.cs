using System.CommandLine;
using LatentBalance.Cli.Commands;
using LatentBalance.Engine.Runtime;

NativeSetup.EnsureInitialized();
var root = new RootCommand("LatentBalance: machine-learning colour balance for photos (latent space colour balance).")
{
    BalanceCommand.Create(),
    ModelsCommand.Create(),
};
foreach (var extra in CommandRegistry.Extra()) root.Subcommands.Add(extra);
return await root.Parse(args).InvokeAsync();
