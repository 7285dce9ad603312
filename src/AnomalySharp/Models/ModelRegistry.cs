using AnomalySharp.Configuration;
using AnomalySharp.Models.Cfa;
using AnomalySharp.Models.Dfm;
using AnomalySharp.Models.FastFlow;
using AnomalySharp.Models.Fre;
using AnomalySharp.Models.Padim;
using AnomalySharp.Models.PatchCore;
using AnomalySharp.Models.ReverseDistillation;
using AnomalySharp.Models.Stfpm;

namespace AnomalySharp.Models;

/// <summary>The models known by name. A new model is one folder and one <see cref="Register"/> call.</summary>
public static class ModelRegistry
{
    static readonly Dictionary<string, ModelDefinition> Models = new(StringComparer.Ordinal);

    static ModelRegistry()
    {
        Register(new ModelDefinition("padim", PadimModel.DefaultsYaml, c => new PadimModel(c)));
        Register(new ModelDefinition("patchcore", PatchCoreModel.DefaultsYaml, c => new PatchCoreModel(c)));
        Register(new ModelDefinition("stfpm", StfpmModel.DefaultsYaml, c => new StfpmModel(c)));
        Register(new ModelDefinition("fastflow", FastFlowModel.DefaultsYaml, c => new FastFlowModel(c)));
        Register(new ModelDefinition("reverse_distillation", ReverseDistillationModel.DefaultsYaml, c => new ReverseDistillationModel(c)));
        Register(new ModelDefinition("dfm", DfmModel.DefaultsYaml, c => new DfmModel(c)));
        Register(new ModelDefinition("fre", FreModel.DefaultsYaml, c => new FreModel(c)));
        Register(new ModelDefinition("cfa", CfaModel.DefaultsYaml, c => new CfaModel(c)));
        BuiltInNames = Names;
    }

    /// <summary>The models that ship with the library (each has a configs/NAME.yaml).</summary>
    public static IReadOnlyList<string> BuiltInNames { get; }

    /// <summary>Adds (or replaces) a model definition.</summary>
    public static void Register(ModelDefinition definition)
    {
        lock (Models) Models[definition.Name] = definition;
    }

    /// <summary>Registered names, sorted.</summary>
    public static IReadOnlyList<string> Names
    {
        get { lock (Models) return Models.Keys.Order(StringComparer.Ordinal).ToList(); }
    }

    /// <summary>Whether the model trains a network (its defaults have a training section), so it can resume and fine-tune.</summary>
    public static bool Trains(string name) => Defaults(name).Has("training.max_epochs");

    /// <summary>The registered models that train a network, sorted.</summary>
    public static IReadOnlyList<string> TrainedNames => Names.Where(Trains).ToList();

    /// <summary>The definition of a model; an unknown name is a user error listing the known ones.</summary>
    public static ModelDefinition Get(string name)
    {
        lock (Models)
            return Models.TryGetValue(name, out var d) ? d
                : throw new AnomalySharpException($"unknown model '{name}' (known: {string.Join(", ", Names)}; a model from a plugin "
                    + $"needs {OptionText.Name("plugin")} FILE.dll or {PluginLoader.Variable})");
    }

    /// <summary>The complete default configuration of a model: shared sections plus its model section.</summary>
    public static ConfigTree Defaults(string name)
    {
        return ConfigTree.FromYaml("seed: 42\n" + Get(name).DefaultsYaml + "\n" + SharedDefaults.Yaml, $"built-in defaults of {name}");
    }

    /// <summary>
    /// Creates an unfitted model for a configuration (its model.name picks the kind). A configuration with
    /// data.tiling is refused here: <see cref="Tiling.TiledModels.Create"/> builds the model for the tile size and
    /// wraps it (the model layer knows nothing of tiling).
    /// </summary>
    public static IAnomalyModel Create(ConfigTree config)
    {
        if (WorkingSize.TileSize(config) != 0)
            throw new AnomalySharpException("data.tiling.tile_size is set: create the model with "
                + "AnomalySharp.Tiling.TiledModels.Create, which tiles it");
        return Get(config.GetString("model.name")).Create(config);
    }
}
