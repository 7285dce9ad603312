using AnomalySharp.Runtime;
using AnomalySharp.Tests.Cli;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Onnx;

namespace AnomalySharp.Tests.Runtime;

public class ComputeThreadsTests
{
    /// <summary>
    /// The real command line, in a fresh process as a user runs it: libgomp (LibTorch's OpenMP) prints the settings it
    /// read at load when OMP_DISPLAY_ENV=VERBOSE asks. Our short spin count there (OpenMP's own default is 300,000) shows
    /// the setting reached the C environment before LibTorch loaded.
    /// </summary>
    [Fact]
    public void LibTorchThreadsSpinBrieflyUnlessSpinningIsAsked()
    {
        string dir = Directory.CreateTempSubdirectory("threads-").FullName;
        try
        {
            string[] Train(string name) => new[] { "train", "--model", "padim", "--set", "data.image_size=64", "--set",
                "visualization.save_images=false", "--threads", "2", "--output", Path.Combine(dir, name) };
            var quiet = CliRunner.Run(new Dictionary<string, string> { ["OMP_DISPLAY_ENV"] = "VERBOSE" }, Train("sleep"));
            Assert.True(quiet.ExitCode == 0, quiet.Stderr);
            Assert.Contains($"GOMP_SPINCOUNT = '{ComputeThreads.OpenMpSpinCount}'", quiet.Stderr);

            var spinning = CliRunner.Run(new Dictionary<string, string>
            {
                ["OMP_DISPLAY_ENV"] = "VERBOSE",
                [ComputeThreads.SpinVariable] = "1"
            }, Train("spin"));
            Assert.True(spinning.ExitCode == 0, spinning.Stderr);
            Assert.Contains("GOMP_SPINCOUNT = '", spinning.Stderr);
            Assert.DoesNotContain($"GOMP_SPINCOUNT = '{ComputeThreads.OpenMpSpinCount}'", spinning.Stderr);
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    [Fact]
    public void SessionsShareTheCoresAndOversubscriptionIsSaid()
    {
        int cores = ComputeThreads.Cores;
        Assert.Equal(Math.Max(1, cores / 2), ComputeThreads.PerSession(2, 0, out string? warning));
        Assert.True(cores < 2 || warning == null, warning);
        Assert.Equal(1, ComputeThreads.PerSession(cores, 0, out warning));
        Assert.Null(warning);
        // More sessions than cores, or threads asked for beyond them: served as asked, with the reason it will be slow.
        Assert.Equal(1, ComputeThreads.PerSession(cores + 1, 0, out warning));
        Assert.Contains($"on {cores} cores: oversubscribed", warning);
        Assert.Equal(cores, ComputeThreads.PerSession(2, cores, out warning));
        Assert.Contains("oversubscribed", warning);
        Assert.Equal(cores, ComputeThreads.Resolve(0));
        Assert.Equal(3, ComputeThreads.Resolve(3));
    }

    [Fact]
    public void SessionOptionsCarryTheThreadCountAndRun()
    {
        using var options = ComputeThreads.SessionOptions(1, arena: false);
        Assert.Equal(1, options.IntraOpNumThreads);
        Assert.Equal(1, options.InterOpNumThreads);
        Assert.False(options.EnableCpuMemArena);
        using var all = ComputeThreads.SessionOptions(0);
        Assert.Equal(ComputeThreads.Cores, all.IntraOpNumThreads);
        // The spinning entries are accepted by a real session, which runs with them.
        var tensor = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } };
        var graph = new GraphProto { Name = "relu" };
        graph.Input.Add(new ValueInfoProto { Name = "x", Type = tensor });
        graph.Output.Add(new ValueInfoProto { Name = "y", Type = tensor });
        graph.Node.Add(new NodeProto { OpType = "Relu", Input = { "x" }, Output = { "y" } });
        var model = new ModelProto { IrVersion = 8, Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Version = 17 });
        using var session = new InferenceSession(model.ToByteArray(), options);
        using var input = OrtValue.CreateTensorValueFromMemory(new[] { -1f, 2f }, new long[] { 2 });
        using var output = session.Run(new RunOptions(), new[] { "x" }, new[] { input }, new[] { "y" });
        Assert.Equal(new[] { 0f, 2f }, output[0].GetTensorDataAsSpan<float>().ToArray());
    }
}
