using System.Globalization;
using AnomalySharp.Runtime;
using AnomalySharp.Serving;
using AnomalySharp.Tests.Cli;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace AnomalySharp.Tests.Serving;

/// <summary>
/// Issue 39 item 3: the in-browser inspector. `serve` gives it at /local; headless Chromium loads an exported model
/// into it (onnxruntime-web, WebAssembly) and scores real images entirely in the page, with the runtime's scores
/// within 1e-5; its one-file copy does the same opened from disk, with no server.
/// </summary>
[Collection(IsolatedCollection.Name)]
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
public class LocalPageTests
{
    /// <summary>Loads the model into the page, scores the images, and returns the page's scores by file name.</summary>
    static Dictionary<string, double> ScoreInPage(ChromeDriver driver, string model, IReadOnlyList<string> images)
    {
        var js = (IJavaScriptExecutor)driver;
        var wait = new WebDriverWait(driver, TimeSpan.FromMinutes(3));
        driver.FindElement(By.Id("model")).SendKeys(model);
        wait.Until(_ => (bool)js.ExecuteScript("return window.anomalysharp.ready || window.anomalysharp.error !== null;")!);
        Assert.True(js.ExecuteScript("return window.anomalysharp.error;") is null,
            (string?)js.ExecuteScript("return window.anomalysharp.error;"));
        driver.FindElement(By.Id("images")).SendKeys(string.Join("\n", images));
        wait.Until(_ => Convert.ToInt32(js.ExecuteScript("return window.anomalysharp.results.length;"),
            CultureInfo.InvariantCulture) == images.Count
            || js.ExecuteScript("return window.anomalysharp.error;") != null);
        Assert.True(js.ExecuteScript("return window.anomalysharp.error;") is null,
            (string?)js.ExecuteScript("return window.anomalysharp.error;"));
        var results = (IReadOnlyCollection<object>)js.ExecuteScript("return window.anomalysharp.results.map(r => [r.name, r.score, "
            + "r.anomalous]);")!;
        Assert.Equal(images.Count, driver.FindElements(By.CssSelector("#results figure")).Count); // a heat map and a verdict each
        return results.Cast<IReadOnlyCollection<object>>().ToDictionary(r => (string)r.First(), r => Convert.ToDouble(r.ElementAt(1),
            CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task TheLocalPageScoresRealImagesInTheBrowserAsTheRuntimeDoes()
    {
        string dir = TestPaths.TempDir("local-page");
        string bottle = TestPaths.SharedData("mvtec_bottle"), model = Path.Combine(dir, "m"), onnx = Path.Combine(dir, "bottle.onnx");
        var r = CliRunner.Run("train", "--data", bottle, "--set", "data.image_size=64", "--set", "visualization.save_images=false",
            "--output", model);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(0, CliRunner.Run("export", "--model-path", model, "--output", onnx).ExitCode);
        // Real PNGs (lossless: the browser and the runtime decode the same pixels), two defective and two good.
        // (Copied under names of their own: each folder numbers its images from 000.png.)
        var images = new[] { "broken_large", "contamination", "good" }
            .SelectMany(t => Directory.GetFiles(Path.Combine(bottle, "test", t)).Order(StringComparer.Ordinal).Take(t == "good" ? 2 : 1)
                .Select(f =>
                {
                    string copy = Path.Combine(dir, t + "_" + Path.GetFileName(f)); File.Copy(f,
                    copy); return copy;
                })).ToList();
        using var detector = new OnnxAnomalyDetector(onnx);
        var expected = detector.PredictFiles(images).Select((p, i) => (Name: Path.GetFileName(images[i]), p.Score)).ToList();

        await using var server = await AnomalyServer.StartAsync(new ServerOptions { ModelPath = onnx, Port = 0 });
        using (var driver = HeadlessChromium.Start())
        {
            driver.Navigate().GoToUrl(new Uri(server.Address, "/local"));
            var scores = ScoreInPage(driver, onnx, images);
            foreach (var (name, score) in expected)
                Assert.True(Math.Abs(scores[name] - score) <= 1e-5, $"{name}: {scores[name]} in the browser, {score} in the runtime");
            Assert.Contains(expected, e => e.Score >= 0.5); // the verdicts differ between images: a real check, not a constant
            Assert.Contains(expected, e => e.Score < 0.5);
        }

        // The one-file copy, opened from disk (file://): everything it needs is inside it.
        using var http = new HttpClient();
        string standalone = Path.Combine(dir, "inspect.html");
        await File.WriteAllBytesAsync(standalone, await http.GetByteArrayAsync(new Uri(server.Address, "/local/standalone.html")));
        using (var driver = HeadlessChromium.Start())
        {
            driver.Navigate().GoToUrl(new Uri(standalone));
            var scores = ScoreInPage(driver, onnx, images.Take(2).ToList());
            foreach (var (name, score) in expected.Take(2))
                Assert.True(Math.Abs(scores[name] - score) <= 1e-5,
                    $"{name} (from a file): {scores[name]} in the browser, {score} in the runtime");
        }
    }
}
