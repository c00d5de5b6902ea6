using LatentBalance.Engine.Color;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Cli.Commands;

/// <summary>Turns an exception into the one line a user reads, naming the file.</summary>
static class CliErrors
{
    public static string Describe(Exception e, string? file = null)
    {
        var msg = e switch
        {
            ImageFileException or ModelFileException or CubeFormatException => e.Message,
            FileNotFoundException f => $"{f.FileName ?? file}: file not found",
            DirectoryNotFoundException => e.Message,
            UnauthorizedAccessException => e.Message,
            IOException => e.Message,
            ArgumentException or FormatException or InvalidOperationException => e.Message,
            OperationCanceledException => "cancelled",
            _ => $"internal error ({e.GetType().Name}): {e.Message}",
        };
        msg = msg.ReplaceLineEndings(" ").Trim();
        if (file != null && !msg.Contains(file) && !msg.Contains(Path.GetFileName(file))) msg = $"{file}: {msg}";
        return msg;
    }

    public static void Print(Exception e, string? file = null) => Console.Error.WriteLine("latentbalance: error: " + Describe(e, file));
}
