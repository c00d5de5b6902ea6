using LatentBalance.Engine.Imaging;

namespace LatentBalance.Engine.Tests.Imaging;

/// <summary>The one check of an output path and the one staging of output files.</summary>
public class OutputFilesTests
{
    [Fact]
    public void Staged_outputs_appear_only_on_commit_and_are_discarded_otherwise()
    {
        var dir = TestPaths.TempDir("staging");
        var final = Path.Combine(dir, "photo.out.jpg");
        File.WriteAllText(final, "original");
        using (var s = new StagedOutputs(overwrite: true))
        {
            var staged = s.Stage(final)!;
            Assert.Equal(".jpg", Path.GetExtension(staged));
            Assert.StartsWith(".", Path.GetFileName(staged));
            Assert.Contains(staged, UnfinishedFiles.Paths);
            File.WriteAllText(staged, "new");
            Assert.Contains(final, s.Explain($"cannot write '{staged}'"));
        } // not committed
        Assert.Equal("original", File.ReadAllText(final));
        Assert.Single(Directory.GetFiles(dir));

        var keep = new StagedOutputs(overwrite: false);
        File.WriteAllText(keep.Stage(final)!, "new");
        var ex = Assert.Throws<ImageOutputException>(keep.Commit);
        Assert.Equal(FileErrorKind.AccessFailed, ex.Kind);
        keep.Dispose();
        Assert.Equal("original", File.ReadAllText(final));

        var nothing = new StagedOutputs(overwrite: true);
        nothing.Stage(Path.Combine(dir, "never.jpg"));
        Assert.Contains("never.jpg", Assert.Throws<ImageOutputException>(nothing.Commit).Message);
        nothing.Dispose();

        using var ok = new StagedOutputs(overwrite: true);
        var okStaged = ok.Stage(final)!;
        File.WriteAllText(okStaged, "new");
        ok.Commit();
        Assert.Equal("new", File.ReadAllText(final));
        Assert.DoesNotContain(okStaged, UnfinishedFiles.Paths);
        Assert.Single(Directory.GetFiles(dir));
    }

    [Fact]
    public void An_output_path_is_checked_once_for_every_mistake()
    {
        var dir = TestPaths.TempDir("output-check");
        var input = Path.Combine(dir, "photo.png");
        File.WriteAllText(input, "x");
        var existing = Path.Combine(dir, "old.jpg");
        File.WriteAllText(existing, "x");
        void Refused(FileErrorKind kind, string path, string because, bool image = true, bool overwrite = false)
        {
            var e = Assert.Throws<ImageOutputException>(() => OutputFiles.Check(path, input, "output", image, overwrite));
            Assert.Equal(kind, e.Kind);
            Assert.Contains(because, e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        Refused(FileErrorKind.InvalidPath, dir, "directory");
        Refused(FileErrorKind.NotFound, Path.Combine(dir, "nope", "out.jpg"), "does not exist");
        Refused(FileErrorKind.InvalidPath, input, "input photo itself", overwrite: true);
        Refused(FileErrorKind.InvalidPath, Path.Combine(dir, ".", "photo.png"), "input photo itself", overwrite: true);
        Refused(FileErrorKind.InvalidPath, Path.Combine(dir, "out.bmp"), "unknown image type");
        Refused(FileErrorKind.AccessFailed, existing, "exists");
        Assert.Equal(existing, OutputFiles.Check(existing, input, "output", image: true, overwrite: true));
        Assert.Equal(input, OutputFiles.Check(input, input, "output", image: true, overwrite: false, allowInput: true));
        Assert.Equal(Path.Combine(dir, "fix.cube"), OutputFiles.Check(Path.Combine(dir, "fix.cube"), input, "lutPath", image: false, overwrite: false));
    }
}
