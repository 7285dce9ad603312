using AnomalySharp.Runtime;
using Onnx;
using Version = System.Version;

namespace AnomalySharp.Tests.Runtime;

/// <summary>The oldest ONNX Runtime a file needs, from its IR version and imported opsets (issue 39).</summary>
public class RuntimeRequirementTests
{
    static ModelProto Model(long ir, params (string Domain, long Version)[] imports)
    {
        var model = new ModelProto { IrVersion = ir, Graph = new GraphProto() };
        foreach (var (d, v) in imports) model.OpsetImport.Add(new OperatorSetIdProto { Domain = d, Version = v });
        return model;
    }

    [Theory]
    [InlineData(8, 17, "1.12")]   // every AnomalySharp export
    [InlineData(7, 13, "1.6")]
    [InlineData(8, 18, "1.14")]
    [InlineData(9, 17, "1.15")]   // IR 9 arrived with ONNX 1.14, in ONNX Runtime 1.15
    [InlineData(9, 20, "1.17")]
    [InlineData(10, 21, "1.18")]
    [InlineData(11, 23, "1.23")]
    public void TheOldestReleaseIsTheFirstWhoseIrAndOpsetCoverTheFile(long ir, long opset, string oldest)
    {
        var needs = RuntimeRequirement.Of(Model(ir, ("", opset)));
        Assert.Equal(oldest, needs.OldestText);
        Assert.True(needs.RunsIn(needs.Oldest));
        Assert.True(needs.RunsIn(new Version(needs.Oldest.Major, needs.Oldest.Minor, 9)));
        Assert.False(needs.RunsIn(new Version(needs.Oldest.Major, needs.Oldest.Minor - 1, 9)));
        Assert.Contains($"ONNX Runtime {oldest} or later (IR {ir}, opset {opset})", needs.Describe());
    }

    [Fact]
    public void OtherDomainsAreNamedAndCustomOnesRunNowhere()
    {
        var ort = RuntimeRequirement.Of(Model(8, ("", 17), ("com.microsoft", 1)));
        Assert.Equal(new[] { "com.microsoft" }, ort.OnnxRuntimeOnlyDomains);
        Assert.True(ort.RunsIn(new Version(1, 17, 3)));
        Assert.Contains("ONNX Runtime only", ort.Describe());
        var custom = RuntimeRequirement.Of(Model(8, ("", 17), ("org.example.ops", 1)));
        Assert.False(custom.RunsIn(new Version(1, 31, 1)));
        Assert.Contains("org.example.ops", custom.Describe());
        Assert.Equal("1.14", RuntimeRequirement.Of(Model(8, ("", 17), ("ai.onnx.ml", 3), ("ai.onnx", 18))).OldestText);
    }

    [Theory]
    [InlineData("1.16", 1, 16)]
    [InlineData("v1.17.3", 1, 17)]
    [InlineData(" 2 ", 2, 0)]
    public void ReleasesParse(string text, int major, int minor)
    {
        var v = RuntimeRequirement.ParseRelease(text)!;
        Assert.Equal((major, minor), (v.Major, v.Minor));
    }

    [Theory]
    [InlineData("latest")]
    [InlineData("1.x")]
    [InlineData("")]
    public void NonReleasesAreNull(string text) => Assert.Null(RuntimeRequirement.ParseRelease(text));
}
