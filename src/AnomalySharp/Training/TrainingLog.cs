using System.Globalization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalySharp.Training;

/// <summary>
/// Per-epoch numbers in two forms: metrics.csv (one row per epoch; a resumed run appends) and TensorBoard event
/// files written by TorchSharp's SummaryWriter (train/loss, train/images_per_second, memory/peak_mb and
/// validation/*), so <c>tensorboard --logdir</c> on the folder shows the curves.
/// </summary>
internal sealed class TrainingLog
{
    /// <summary>The CSV columns.</summary>
    public static readonly string[] Columns = { "epoch", "train_loss", "seconds", "images_per_second", "peak_memory_mb", "rss_mb",
        "learning_rate", "image_auroc", "pixel_auroc", "holdout_loss", "monitor", "best", "synthetic_image_auroc",
            "synthetic_pixel_auroc" };

    readonly string _csv;
    readonly SummaryWriter _writer;

    /// <summary>Opens (or continues) the log in <paramref name="folder"/>.</summary>
    public TrainingLog(string folder)
    {
        Directory.CreateDirectory(folder);
        _csv = Path.Combine(folder, "metrics.csv");
        if (!File.Exists(_csv)) File.WriteAllText(_csv, string.Join(",", Columns) + "\n");
        _writer = utils.tensorboard.SummaryWriter(folder, createRunName: false);
    }

    /// <summary>One epoch's row.</summary>
    public void Epoch(int epoch, double loss, double seconds, double imagesPerSecond, double peakMb, double rssMb, double learningRate,
        IReadOnlyDictionary<string, double>? validation, double? monitor, bool best)
    {
        string F(double? v) => v is { } x && !double.IsNaN(x) ? x.ToString("G6", CultureInfo.InvariantCulture) : "";
        double? V(string key) => validation != null && validation.TryGetValue(key, out var v) ? v : null;
        File.AppendAllText(_csv, string.Join(",", epoch.ToString(CultureInfo.InvariantCulture), F(loss), F(seconds), F(imagesPerSecond),
            F(peakMb), F(rssMb), F(learningRate), F(V("image_auroc")), F(V("pixel_auroc")), F(V("holdout_loss")), F(monitor),
                best ? "1" : "0",
            F(V("synthetic_image_auroc")), F(V("synthetic_pixel_auroc"))) + "\n");
        _writer.add_scalar("train/loss", (float)loss, epoch);
        _writer.add_scalar("train/images_per_second", (float)imagesPerSecond, epoch);
        _writer.add_scalar("memory/peak_mb", (float)peakMb, epoch);
        _writer.add_scalar("memory/rss_mb", (float)rssMb, epoch);
        if (validation != null)
            foreach (var (key, value) in validation)
                if (!double.IsNaN(value)) _writer.add_scalar("validation/" + key, (float)value, epoch);
    }
}
