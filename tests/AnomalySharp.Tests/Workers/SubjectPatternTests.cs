using AnomalySharp.Tests.Cli;
using AnomalySharp.Tests.Export;
using AnomalySharp.Workers;

namespace AnomalySharp.Tests.Workers;

public class SubjectPatternTests
{
    [Theory]
    [InlineData("frames.>", "frames.line1.cam1", true)]
    [InlineData("frames.>", "frames", false)]
    [InlineData("frames.line2.>", "frames.line1.cam1", false)]
    [InlineData("frames.*.cam1", "frames.line9.cam1", true)]
    [InlineData("frames.*.cam1", "frames.line9.cam1.x", false)]
    [InlineData("frames.line1.cam1", "frames.line1.cam1", true)]
    [InlineData("frames.line1.cam1", "frames.line1", false)]
    public void MatchesAsNatsDoes(string pattern, string subject, bool matches) =>
        Assert.Equal(matches, new SubjectPattern(pattern).Matches(subject));

    [Theory]
    [InlineData("frames..cam1")]
    [InlineData("frames.>.cam1")]
    [InlineData("frames. x")]
    public void RefusesMalformedPatterns(string pattern) => Assert.Throws<ArgumentException>(() => new SubjectPattern(pattern));

    [Fact]
    public void UserMistakesAreOneLineErrorsWithExitCodeTwo()
    {
        CliRunner.AssertUserError(CliRunner.Run("worker", "--nats", "http://example", "--model", ExportedSynthetic.Onnx), "--nats",
            "not a NATS URL");
        CliRunner.AssertUserError(CliRunner.Run("worker", "--nats", "nats://127.0.0.1:9", "--model", "missing.onnx"), "missing.onnx");
        CliRunner.AssertUserError(CliRunner.Run("worker", "--nats", "nats://127.0.0.1:9", "--model", ExportedSynthetic.Onnx,
            "--model-for", "frames.a.>"), "--model-for", "PATTERN=MODEL.onnx");
        CliRunner.AssertUserError(CliRunner.Run("worker", "--nats", "nats://127.0.0.1:9", "--model", ExportedSynthetic.Onnx),
            "cannot connect to NATS");
        CliRunner.AssertUserError(CliRunner.Run("publish", "--nats", "nats://127.0.0.1:9", "--subject", "frames.*", "x.png"),
            "--subject", "concrete");
        CliRunner.AssertUserError(CliRunner.Run("publish", "--nats", "nats://127.0.0.1:9", "--subject", "cams.line1", "x.png"), "frames.>");
    }
}
