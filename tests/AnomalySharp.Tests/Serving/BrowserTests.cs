using AnomalySharp.Serving;
using AnomalySharp.Tests.Export;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;

namespace AnomalySharp.Tests.Serving;

/// <summary>The web page in headless Chromium (Debian's chromium and chromium-driver; nothing is downloaded).</summary>
[Collection(IsolatedCollection.Name)]
[Trait(IsolatedCollection.Trait, IsolatedCollection.Value)]
public class BrowserTests
{
    [Fact]
    public async Task UploadingAnImageThroughThePageShowsScoreLabelAndOverlay()
    {
        await using var server = await AnomalyServer.StartAsync(new ServerOptions { ModelPath = ExportedSynthetic.Onnx, Port = 0 });
        using var driver = HeadlessChromium.Start();
        driver.Navigate().GoToUrl(server.Address);
        var wait = new WebDriverWait(driver, TimeSpan.FromSeconds(30));
        wait.Until(d => d.FindElement(By.Id("model")).Text.Contains("padim"));

        // Nothing is shown before an image is scored (the flex layout once overrode the hidden attribute).
        Assert.False(driver.FindElement(By.Id("result")).Displayed);
        var (defective, _) = ExportedSynthetic.Images;
        driver.FindElement(By.Id("file")).SendKeys(defective);
        wait.Until(d => d.FindElement(By.Id("result")).Displayed);
        var js = (IJavaScriptExecutor)driver;
        wait.Until(_ => (bool)js.ExecuteScript("const i = document.getElementById('overlay'); return i.complete && i.naturalWidth > 0;")!);
        Assert.Equal("anomalous", driver.FindElement(By.Id("label")).Text);
        double score = double.Parse(driver.FindElement(By.Id("score")).Text, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(score, 0.5, 1.0);
        string src = driver.FindElement(By.Id("overlay")).GetAttribute("src") ?? "";
        Assert.StartsWith("data:image/png;base64,", src);
        // The browser decoded the overlay: its natural size is the model's input size.
        Assert.Equal(128L, (long)js.ExecuteScript("return document.getElementById('overlay').naturalWidth")!);

        // A non-image shows the server's message on the page.
        string junk = Path.Combine(TestPaths.TempDir("browser"), "notes.txt");
        File.WriteAllText(junk, "not an image");
        driver.FindElement(By.Id("file")).SendKeys(junk);
        wait.Until(d => d.FindElement(By.Id("error")).Text.Length > 0);
        Assert.Contains("Error 400", driver.FindElement(By.Id("error")).Text);
    }
}
