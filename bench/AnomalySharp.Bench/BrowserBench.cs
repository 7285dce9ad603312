using System.Globalization;
using AnomalySharp.Data;
using AnomalySharp.Serving;
using OpenQA.Selenium;
using OpenQA.Selenium.Chrome;
using OpenQA.Selenium.Support.UI;

namespace AnomalySharp.Bench;

/// <summary>
/// Issue 39: images/s of the in-browser inspector (`serve`'s /local page, onnxruntime-web WebAssembly, one thread) in
/// headless Chromium, for an exported model on the first test images of an MVTec-layout dataset, decode included.
/// Also the runtime's own single-image speed on the same images, one thread, for the ratio.
/// </summary>
internal static class BrowserBench
{
    public static async Task<int> Run(string onnx, string data, int count)
    {
        var images = new MvtecDataset(data).Test.Take(count).Select(s => s.ImagePath).ToList();
        // Unique names for the page (MVTec numbers each folder's images from 000).
        string dir = Directory.CreateTempSubdirectory("browser-bench").FullName;
        images = images.Select((f, i) =>
        {
            string c = Path.Combine(dir, $"{i:000}{Path.GetExtension(f)}"); File.Copy(f,
            c); return c;
        }).ToList();
        await using var server = await AnomalyServer.StartAsync(new ServerOptions
        {
            ModelPath = onnx, Port = 0, Sessions = 1,
            ThreadsPerSession = 1
        });
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage");
        using var driver = new ChromeDriver(service, options, TimeSpan.FromSeconds(120));
        var js = (IJavaScriptExecutor)driver;
        var wait = new WebDriverWait(driver, TimeSpan.FromMinutes(10));
        driver.Navigate().GoToUrl(new Uri(server.Address, "/local"));
        driver.FindElement(By.Id("model")).SendKeys(Path.GetFullPath(onnx));
        wait.Until(_ => (bool)js.ExecuteScript("return window.anomalysharp.ready || window.anomalysharp.error !== null;")!);
        driver.FindElement(By.Id("images")).SendKeys(string.Join("\n", images));
        wait.Until(_ => Convert.ToInt32(js.ExecuteScript("return window.anomalysharp.results.length;"),
            CultureInfo.InvariantCulture) == images.Count
            || js.ExecuteScript("return window.anomalysharp.error;") != null);
        if (js.ExecuteScript("return window.anomalysharp.error;") is string error) { Console.Error.WriteLine(error); return 1; }
        double browser = Convert.ToDouble(js.ExecuteScript("return window.anomalysharp.imagesPerSecond;"), CultureInfo.InvariantCulture);

        using var detector = new AnomalySharp.Runtime.OnnxAnomalyDetector(onnx,
            new AnomalySharp.Runtime.DetectorOptions { ThreadsPerSession = 1, Sessions = 1 });
        detector.PredictFiles(new[] { images[0] });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (string f in images) detector.PredictFiles(new[] { f });
        double native = images.Count / clock.Elapsed.TotalSeconds;
        Console.WriteLine(FormattableString.Invariant($"{Path.GetFileName(onnx)}: {images.Count} images, browser (onnxruntime-web ")
            + FormattableString.Invariant($"{AnomalySharp.Runtime.Browser.LocalPage.OrtWebVersion}, WebAssembly, 1 thread) ")
            + FormattableString.Invariant($"{browser:0.00} images/s; runtime (ONNX ")
                + FormattableString.Invariant($"Runtime, 1 thread, batch 1) {native:0.00} images/s; ratio {native / browser:0.0}x"));
        Directory.Delete(dir, recursive: true);
        return 0;
    }
}
