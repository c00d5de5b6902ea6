using LatentBalance.Bridge.Contract;
using LatentBalance.Daemon.Tests.Support;
using LatentBalance.Engine.Imaging;
using LatentBalance.Engine.ModelFiles;

namespace LatentBalance.Daemon.Tests.Service;

/// <summary>The daemon's small parts: error mapping, the idle monitor, the JSON log.</summary>
public sealed class DaemonPartsTests : IDisposable
{
    private readonly TempDir _dir = new("parts");

    [Theory]
    [InlineData("input-missing", BridgeErrorCode.NotFound)]
    [InlineData("input-missing-reworded", BridgeErrorCode.NotFound)]
    [InlineData("input-corrupt", BridgeErrorCode.BadImage)]
    [InlineData("output-directory", BridgeErrorCode.InvalidArgument)]
    [InlineData("output-disk", BridgeErrorCode.IoError)]
    [InlineData("model", BridgeErrorCode.Unavailable)]
    [InlineData("argument", BridgeErrorCode.InvalidArgument)]
    [InlineData("bug", BridgeErrorCode.Internal)]
    public void Engine_exceptions_map_to_bridge_codes_keeping_the_message(string kind, BridgeErrorCode code)
    {
        Exception e = kind switch
        {
            "input-missing" => new ImageInputException("/x.jpg", FileErrorKind.NotFound, "file not found"),
            "input-missing-reworded" => new ImageInputException("/x.jpg", FileErrorKind.NotFound, "no such photo"), // the code comes from the kind, not the wording
            "input-corrupt" => new ImageInputException("/x.jpg", "corrupt or unreadable image header: bad marker"),
            "output-directory" => new ImageOutputException("/out", FileErrorKind.InvalidPath, "it is an existing directory; give a file name"),
            "output-disk" => new ImageOutputException("/out.jpg", "No space left on device", new IOException("ENOSPC")),
            "model" => new ModelFileException("taef2_encoder.pth: sha256 mismatch"),
            "argument" => new ArgumentException("iterations must be 1..10, got 11"),
            _ => new NullReferenceException("oops"),
        };
        var b = EngineErrors.ToBridge(e);
        Assert.Equal(code, b.Code);
        Assert.Contains(e.Message, b.Message);
    }

    [Fact]
    public async Task The_idle_monitor_fires_only_after_the_quiet_time_and_never_while_busy()
    {
        bool busy = true;
        using var m = new IdleMonitor(TimeSpan.FromMilliseconds(300), () => busy);
        await Task.Delay(700);
        Assert.False(m.Idle.IsCompleted);
        busy = false;
        m.Touch();
        await m.Idle.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Log_lines_are_single_json_objects()
    {
        var w = new StringWriter();
        new DaemonLog(w).Warn("job_failed", ("job", "job-1"), ("ms", 12.3456), ("list", new[] { "a", "b" }), ("msg", "line\nbreak \"quoted\""));
        var line = Assert.Single(w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries));
        using var doc = System.Text.Json.JsonDocument.Parse(line);
        Assert.Equal("warn", doc.RootElement.GetProperty("level").GetString());
        Assert.Equal("job_failed", doc.RootElement.GetProperty("event").GetString());
        Assert.Equal(12.346, doc.RootElement.GetProperty("ms").GetDouble());
        Assert.Equal("line\nbreak \"quoted\"", doc.RootElement.GetProperty("msg").GetString());
    }

    public void Dispose() => _dir.Dispose();
}
