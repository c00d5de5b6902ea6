// placeholder: the CLI is built in engine/LatentBalance.Cli (see issue 2)
return 0;
