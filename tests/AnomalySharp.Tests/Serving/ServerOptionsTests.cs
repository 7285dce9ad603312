using AnomalySharp.Serving;

namespace AnomalySharp.Tests.Serving;

public class ServerOptionsTests
{
    static readonly ServerOptions Good = new() { ModelPath = "m.onnx" };

    [Fact]
    public void TheDefaultsAreValid() => Good.Validate();

    [Fact]
    public void EachSettingOutOfRangeIsRefusedNamingItsOption()
    {
        (ServerOptions Options, string Message)[] bad =
        {
            (Good with { Host = "localhost" }, "--host: 'localhost' is not an IP address"),
            (Good with { Port = 70000 }, "--port: 70000"),
            (Good with { Sessions = 65 }, "--sessions must be 1..64, got 65"),
            (Good with { ThreadsPerSession = -1 }, "--threads must be positive, got -1"),
            (Good with { MaxRequestBytes = 0 }, "--max-request-mb must be positive, got 0"),
            (Good with { QueueLength = -1 }, "--queue must be 0..100000, got -1"),
            (Good with { Uploads = 0 }, "--uploads must be 1..10000, got 0"),
            (Good with { MinUploadBytesPerSecond = 0 }, "--min-upload-kbps must be positive, got 0"),
            (Good with { BodyTimeout = TimeSpan.FromDays(2) }, "--body-timeout must be 0..86400 seconds, got 172800"),
        };
        foreach (var (options, message) in bad)
            Assert.StartsWith(message, Assert.Throws<ArgumentException>(options.Validate).Message);
    }
}
