using AnomalySharp.Workers;

namespace AnomalySharp.Tests.Workers;

public class WorkerOptionsTests
{
    static readonly WorkerOptions Good = new() { Url = "nats://127.0.0.1:4222", Model = "m.onnx" };

    [Fact]
    public void TheDefaultsAreValid() => Good.Validate();

    [Fact]
    public void EachSettingOutOfRangeIsRefusedNamingItsOption()
    {
        (WorkerOptions Options, string Message)[] bad =
        {
            (Good with { Sessions = 0 }, "--sessions must be 1..64, got 0"),
            (Good with { ThreadsPerSession = -1 }, "--threads must be positive, got -1"),
            (Good with { Durable = "two words" }, "--durable two words: letters, digits"),
            (Good with { Durable = new string('d', 65) }, "--durable ddd"),
            (Good with { Subject = "frames..x" }, "--subject: "),
            (Good with { Limits = new StreamLimits { AckWait = TimeSpan.FromMilliseconds(100) } }, "--ack-wait must be 0.5..86400 seconds"),
            (Good with { Limits = new StreamLimits { AckWait = TimeSpan.FromDays(2) } },
                "--ack-wait must be 0.5..86400 seconds, got 172800"),
            (Good with { Limits = new StreamLimits { MaxDeliver = 0 } }, "--max-deliver must be 1..100, got 0"),
            (Good with { Limits = new StreamLimits { Replicas = 6 } }, "--replicas must be 1..5, got 6"),
        };
        foreach (var (options, message) in bad)
            Assert.StartsWith(message, Assert.Throws<ScaleOutException>(options.Validate).Message);
    }
}
