using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalySharp.Training;

/// <summary>
/// A training checkpoint file: "ASCKPT1\n", a length-prefixed JSON header (format, model, configuration, dataset,
/// <see cref="TrainingState"/>), then the network's state and the optimizer's state in TorchSharp's binary formats.
/// Written to a temporary file and renamed, so a crash never leaves a torn checkpoint.
/// </summary>
internal sealed class Checkpoint
{
    static readonly byte[] Magic = Encoding.ASCII.GetBytes("ASCKPT1\n");
    const int FormatVersion = 1;

    /// <summary>The model name.</summary>
    public required string Model { get; init; }
    /// <summary>The full configuration (YAML) the run was started with.</summary>
    public required string ConfigYaml { get; init; }
    /// <summary>The dataset the run trains on (description and MVTec root when there is one).</summary>
    public required string DatasetDescription { get; init; }
    /// <summary>The MVTec-layout dataset root, or null.</summary>
    public string? DatasetRoot { get; init; }
    /// <summary>Training images in the dataset (checked on resume).</summary>
    public int TrainCount { get; init; }
    /// <summary>The output folder the run was started for.</summary>
    public string? Output { get; init; }
    /// <summary>Where the run stands.</summary>
    public required TrainingState State { get; init; }

    JsonObject Header() => new()
    {
        ["format"] = FormatVersion,
        ["model"] = Model,
        ["config"] = ConfigYaml,
        ["dataset"] = DatasetDescription,
        ["dataset_root"] = DatasetRoot,
        ["n_train"] = TrainCount,
        ["output"] = Output,
        ["state"] = JsonSerializer.SerializeToNode(State),
    };

    /// <summary>Writes the checkpoint with the network's and optimizer's current state.</summary>
    public void Save(string path, nn.Module network, OptimizerHelper optimizer)
    {
        string tmp = path + ".tmp";
        using var pending = IO.PendingOutputs.RegisterFile(tmp);
        using (var stream = IO.LargeFile.Create(tmp))
        using (var writer = new BinaryWriter(stream))
        {
            writer.Write(Magic);
            byte[] header = Encoding.UTF8.GetBytes(Header().ToJsonString());
            writer.Write(header.Length);
            writer.Write(header);
            network.save(writer);
            optimizer.save_state_dict(writer);
        }
        IO.PendingOutputs.Commit(() => File.Move(tmp, path, overwrite: true));
    }

    /// <summary>
    /// Keeps checkpoint <paramref name="from"/> as <paramref name="to"/> through a temporary name, so a stop leaves the old
    /// <paramref name="to"/> whole. A hard link where the file system has them: a checkpoint file is only ever replaced
    /// by a rename, never rewritten, so the two names keep the same bytes until <paramref name="from"/> is saved again
    /// (a 738 MB copy per improving validation otherwise). A copy elsewhere.
    /// </summary>
    public static void Keep(string from, string to)
    {
        string tmp = to + ".tmp";
        using var pending = IO.PendingOutputs.RegisterFile(tmp);
        File.Delete(tmp);
        if (!IO.HardLink.TryCreate(from, tmp)) File.Copy(from, tmp, overwrite: true);
        IO.PendingOutputs.Commit(() => File.Move(tmp, to, overwrite: true));
    }

    /// <summary>Reads only the header (model, configuration, dataset, state).</summary>
    public static Checkpoint ReadHeader(string path) => Read(path, null, null);

    /// <summary>Reads a checkpoint; with a network and an optimizer, loads their state too.</summary>
    public static Checkpoint Read(string path, nn.Module? network, OptimizerHelper? optimizer)
    {
        if (!File.Exists(path)) throw new AnomalySharpException($"checkpoint not found: {path}");
        try
        {
            using var stream = IO.LargeFile.OpenRead(path);
            using var reader = new BinaryReader(stream);
            if (!reader.ReadBytes(Magic.Length).AsSpan().SequenceEqual(Magic))
                throw new AnomalySharpException($"{path}: not an AnomalySharp training checkpoint");
            int length = reader.ReadInt32();
            if (length <= 0 || length > 64 << 20) throw new AnomalySharpException($"{path}: damaged checkpoint header");
            var header = JsonNode.Parse(Encoding.UTF8.GetString(reader.ReadBytes(length)))!.AsObject();
            int format = header["format"]!.GetValue<int>();
            if (format != FormatVersion) throw new AnomalySharpException($"{path}: checkpoint format {format} is not supported (this "
                + $"version reads {FormatVersion})");
            var checkpoint = new Checkpoint
            {
                Model = header["model"]!.GetValue<string>(),
                ConfigYaml = header["config"]!.GetValue<string>(),
                DatasetDescription = header["dataset"]!.GetValue<string>(),
                DatasetRoot = header["dataset_root"]?.GetValue<string>(),
                TrainCount = header["n_train"]!.GetValue<int>(),
                Output = header["output"]?.GetValue<string>(),
                State = header["state"].Deserialize<TrainingState>()!,
            };
            if (network != null)
            {
                network.load(reader);
                optimizer?.load_state_dict(reader);
            }
            return checkpoint;
        }
        catch (Exception e) when (e is EndOfStreamException or JsonException or ArgumentException or InvalidOperationException
            or NullReferenceException)
        {
            throw new AnomalySharpException($"{path}: damaged or incompatible checkpoint ({e.Message})");
        }
    }
}
