using AnomalySharp.Configuration;
using AnomalySharp.Models.Padim;
using AnomalySharp.Models.FastFlow;
using AnomalySharp.Models.PatchCore;
using AnomalySharp.Models.ReverseDistillation;
using AnomalySharp.Models.Stfpm;
using AnomalySharp.Tiling;

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

    /// <summary>The definition of a model; an unknown name is a user error listing the known ones.</summary>
    public static ModelDefinition Get(string name)
    {
        lock (Models)
            return Models.TryGetValue(name, out var d) ? d
                : throw new AnomalySharpException($"unknown model '{name}' (known: {string.Join(", ", Names)}; a model from a plugin needs {OptionText.Name("plugin")} FILE.dll or {PluginLoader.Variable})");
    }

    /// <summary>The complete default configuration of a model: shared sections plus its model section.</summary>
    public static ConfigTree Defaults(string name)
    {
        return ConfigTree.FromYaml("seed: 42\n" + Get(name).DefaultsYaml + "\n" + SharedDefaults.Yaml, $"built-in defaults of {name}");
    }

    /// <summary>
    /// Creates an unfitted model for a configuration (its model.name picks the kind); with data.tiling, the model is
    /// built for the tile size and wrapped in a <see cref="TiledModel"/> that works at data.image_size.
    /// </summary>
    public static IAnomalyModel Create(ConfigTree config)
    {
        var definition = Get(config.GetString("model.name"));
        if (TileGrid.From(config) is not { } grid) return definition.Create(config);
        IAnomalyModel Inner()
        {
            try { return definition.Create(grid.InnerConfig(config)); }
            catch (AnomalySharpException e) when (e.Message.Contains("'data.image_size'", StringComparison.Ordinal))
            {
                // The inner model works at the tile size: a size it cannot take is the tile size the user chose.
                throw new AnomalySharpException(e.Message.Replace("'data.image_size'", "'data.tiling.tile_size'", StringComparison.Ordinal), e);
            }
        }
        var first = Inner();
        if (!TileGrid.IsEnsemble(config)) return TiledModel.Wrap(first, grid);
        var members = new List<IAnomalyModel> { first };
        try { while (members.Count < grid.Count) members.Add(Inner()); }
        catch { foreach (var m in members) m.Dispose(); throw; }
        return new TiledEnsembleModel(members, grid);
    }
}
