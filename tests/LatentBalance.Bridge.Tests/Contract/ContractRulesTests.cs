using LatentBalance.Bridge.Contract;

namespace LatentBalance.Bridge.Tests.Contract;

public sealed class ContractRulesTests
{
    private static readonly FilterDescriptor Filter = new()
    {
        Id = "f",
        Parameters =
        [
            new ParameterDescriptor { Name = "d", Type = ParameterType.Double, Default = "0.5", Min = 0, Max = 1 },
            new ParameterDescriptor { Name = "i", Type = ParameterType.Int, Default = "3" },
            new ParameterDescriptor { Name = "b", Type = ParameterType.Bool, Default = "false" },
            new ParameterDescriptor { Name = "p", Type = ParameterType.Path, Default = "" },
        ],
    };

    [Fact]
    public void Binder_applies_defaults_and_parses_invariant_text()
    {
        var bound = ParameterBinder.Bind(Filter, new Dictionary<string, string> { ["d"] = "0.25", ["b"] = "1", ["p"] = "/ref.jpg" });
        Assert.Equal(0.25, bound.GetDouble("d"));
        Assert.Equal(3, bound.GetInt("i"));
        Assert.True(bound.GetBool("b"));
        Assert.Equal("/ref.jpg", bound.GetString("p"));
    }

    [Theory]
    [InlineData("d", "0,5")]     // a comma decimal is not invariant text
    [InlineData("d", "NaN")]
    [InlineData("d", "-0.1")]
    [InlineData("i", "1e3")]
    [InlineData("p", "relative.jpg")]
    public void Binder_rejects_bad_values_as_InvalidArgument(string name, string value)
    {
        var ex = Assert.Throws<BridgeException>(() => ParameterBinder.Bind(Filter, new Dictionary<string, string> { [name] = value }));
        Assert.Equal(BridgeErrorCode.InvalidArgument, ex.Code);
        Assert.Contains($"'{name}'", ex.Message);
    }

    [Fact]
    public void Validate_defaults_the_filter_and_rejects_relative_paths()
    {
        var ok = RequestRules.Validate(new BalanceRequest { InputPath = "/a.jpg", OutputPath = "/b.jpg", FilterId = "", LutPath = "" });
        Assert.Equal(FilterIds.LatentBalance, ok.FilterId);
        Assert.Null(ok.LutPath);
        Assert.Equal(BridgeErrorCode.InvalidArgument, Assert.Throws<BridgeException>(() =>
            RequestRules.Validate(new BalanceRequest { InputPath = "a.jpg", OutputPath = "/b.jpg" })).Code);
        // an output that is the input (however spelt, links included) is the engine service's one output check's
        // to refuse (Engine/Imaging/OutputFiles.Check), not a string comparison here
        Assert.Equal(BridgeErrorCode.InvalidArgument, Assert.Throws<BridgeException>(() =>
            RequestRules.Validate(new BalanceRequest { InputPath = "/a.jpg", OutputPath = "" })).Code);
    }

    [Fact]
    public void Every_code_round_trips_through_dbus_names_and_jsonrpc_codes()
    {
        foreach (var code in Enum.GetValues<BridgeErrorCode>())
        {
            Assert.Equal($"org.latentbalance.Engine1.Error.{code}", BridgeErrors.ToDBusName(code));
            Assert.Equal(code, BridgeErrors.FromDBusName(BridgeErrors.ToDBusName(code)));
            Assert.Equal(code, BridgeErrors.FromJsonRpcCode(BridgeErrors.ToJsonRpcCode(code), null));
            Assert.Equal(code, BridgeErrors.FromJsonRpcCode(-1, BridgeErrors.ToWire(code)));
        }
        Assert.Equal(1001, BridgeErrors.ToJsonRpcCode(BridgeErrorCode.InvalidArgument));
        Assert.Equal(1010, BridgeErrors.ToJsonRpcCode(BridgeErrorCode.Internal));
        Assert.Equal(BridgeErrorCode.InvalidArgument, BridgeErrors.FromDBusName("org.freedesktop.DBus.Error.InvalidArgs"));
        Assert.Equal(BridgeErrorCode.Unavailable, BridgeErrors.FromDBusName("org.freedesktop.DBus.Error.ServiceUnknown"));
        Assert.Equal(BridgeErrorCode.Timeout, BridgeErrors.FromDBusName("org.freedesktop.DBus.Error.NoReply"));
        Assert.Equal(BridgeErrorCode.Unsupported, BridgeErrors.FromJsonRpcCode(-32601, null));
        Assert.Equal(BridgeErrorCode.Internal, BridgeErrors.FromDBusName("org.example.Whatever"));
    }
}
