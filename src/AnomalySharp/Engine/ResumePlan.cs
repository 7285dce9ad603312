using System.Globalization;
using AnomalySharp.Configuration;
using AnomalySharp.Data;
using AnomalySharp.Training;

namespace AnomalySharp.Engine;

/// <summary>
/// An interrupted training run to continue (<see cref="AnomalyEngine.Resume"/>): its checkpoint's header, read once,
/// gives the configuration, the dataset and the output folder the run had. Only how long the run trains and how it
/// reports may change (<see cref="ChangeableKeys"/>), never what it learns.
/// </summary>
public sealed class ResumePlan
{
    /// <summary>Keys a resumed run may change.</summary>
    public static readonly IReadOnlyList<string> ChangeableKeys =
        new[] { "training.max_epochs", "training.validate_every", "training.patience", "visualization.save_images" };

    internal Checkpoint Header { get; }

    /// <summary>The checkpoint (OUTPUT.training/last.ckpt).</summary>
    public string CheckpointPath { get; }

    /// <summary>The run's configuration with the allowed changes.</summary>
    public ConfigTree Config { get; }

    /// <summary>The output folder the run was writing, when recorded.</summary>
    public string? Output => Header.Output;

    ResumePlan(string path, Checkpoint header, ConfigTree config) => (CheckpointPath, Header, Config) = (path, header, config);

    /// <summary>
    /// Reads the checkpoint's header and applies <paramref name="sets"/> (KEY=VALUE, only <see cref="ChangeableKeys"/>)
    /// and <paramref name="threads"/>.
    /// </summary>
    /// <exception cref="AnomalySharpException">The file is not a checkpoint, or a change is not allowed.</exception>
    public static ResumePlan Read(string checkpoint, IEnumerable<string>? sets = null, int? threads = null)
    {
        var header = Checkpoint.ReadHeader(checkpoint);
        var config = ConfigTree.FromYaml(header.ConfigYaml, checkpoint);
        foreach (string s in sets ?? Array.Empty<string>())
        {
            if (!ChangeableKeys.Any(k => s.StartsWith(k + "=", StringComparison.Ordinal)))
                throw new AnomalySharpException(
                    $"{OptionText.Name("set")} {s}: with {OptionText.Name("resume")} only {string.Join(", ", ChangeableKeys)} can change");
            config.Set(s);
        }
        if (threads is { } t) config.Set($"runtime.threads={t.ToString(CultureInfo.InvariantCulture)}");
        return new ResumePlan(checkpoint, header, config);
    }

    /// <summary>The dataset the run trained on, from its recorded MVTec root.</summary>
    /// <exception cref="AnomalySharpException">The recorded dataset is not on this machine.</exception>
    public IAnomalyDataset Dataset() =>
        Header.DatasetRoot != null && Directory.Exists(Header.DatasetRoot) ? new MvtecDataset(Header.DatasetRoot)
            : throw new AnomalySharpException($"{CheckpointPath}: the checkpoint's dataset ({Header.DatasetDescription}) is not "
                + $"here; give {OptionText.Name("data")} or the Folder options");
}
