using OpenQA.Selenium.Chrome;

namespace AnomalySharp.Tests.Serving;

/// <summary>Debian's chromium and chromium-driver, headless (nothing is downloaded): the browser every browser test drives.</summary>
internal static class HeadlessChromium
{
    public static ChromeDriver Start()
    {
        Assert.True(File.Exists("/usr/bin/chromium") && File.Exists("/usr/bin/chromedriver"),
            "headless browser missing: apt-get install chromium chromium-driver (build/test.sh installs them)");
        var service = ChromeDriverService.CreateDefaultService("/usr/bin", "chromedriver");
        service.HideCommandPromptWindow = true;
        service.SuppressInitialDiagnosticInformation = true;
        var options = new ChromeOptions { BinaryLocation = "/usr/bin/chromium" };
        options.AddArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage");
        return new ChromeDriver(service, options, TimeSpan.FromSeconds(60));
    }
}
