using System.Runtime.InteropServices;
using LatentBalance.Engine.Runtime;

namespace LatentBalance.Engine.Tests.Runtime;

public class NativeRetryTests
{
    static ExternalException Spurious() => new("Expected false to be true, but got false.  (Could this error message be improved?)");

    [Fact]
    public void BothMessagesOfAnInvalidScalarAreSpurious()
    {
        Assert.True(NativeRetry.IsSpurious(Spurious()));
        Assert.True(NativeRetry.IsSpurious(new ExternalException("Unknown scalar type.\nException raised from type at /pytorch/c10/core/Scalar.h")));
        Assert.False(NativeRetry.IsSpurious(new ExternalException("Unknown builtin op: aten::foo")));
    }

    [Fact]
    public void TheSpuriousCheckIsRetriedAndWhatTheFailedAttemptLeftIsUndone()
    {
        int calls = 0, undone = 0;
        long retriesBefore = NativeRetry.Retries;
        var result = NativeRetry.Run(() => ++calls < 3 ? throw Spurious() : calls * 10, beforeRetry: () => undone++);
        Assert.Equal(30, result);
        Assert.True(NativeRetry.Retries >= retriesBefore + 2, "retries are counted");
        Assert.Equal(3, calls);
        Assert.Equal(2, undone);
    }

    [Fact]
    public void AfterTheLastAttemptTheSpuriousCheckReachesTheCaller()
    {
        int calls = 0;
        var e = Assert.Throws<ExternalException>(() => NativeRetry.Run<int>(() => { calls++; throw Spurious(); }, attempts: 2));
        Assert.Contains(NativeRetry.SpuriousMessages[0], e.Message);
        Assert.Equal(2, calls);
    }

    [Fact]
    public void OtherFailuresAreNotRetried()
    {
        int calls = 0;
        Assert.Throws<ExternalException>(() => NativeRetry.Run<int>(() => { calls++; throw new ExternalException("shape '[2, 3]' is invalid for input of size 5"); }));
        Assert.Throws<InvalidOperationException>(() => NativeRetry.Run<int>(() => { calls++; throw new InvalidOperationException(NativeRetry.SpuriousMessages[0]); }));
        Assert.Equal(2, calls);
        Assert.Throws<ArgumentOutOfRangeException>(() => NativeRetry.Run(() => 1, attempts: 0));
    }

    /// <summary>What <see cref="NativeRetry.IsSpurious"/> relies on, from the real library: TorchSharp
    /// reports libtorch's errors as ExternalException with libtorch's message; an ordinary one is not
    /// taken for the spurious check.</summary>
    [Fact]
    public void TorchSharpErrorsAreExternalExceptionsWithLibtorchsMessage()
    {
        using var t = TorchSharp.torch.zeros(2, 3);
        var e = Assert.ThrowsAny<ExternalException>(() => t.reshape(4, 4));
        Assert.False(NativeRetry.IsSpurious(e));
        Assert.Contains("invalid for input of size 6", e.Message);
    }
}
