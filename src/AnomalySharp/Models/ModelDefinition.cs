using AnomalySharp.Configuration;

namespace AnomalySharp.Models;

/// <summary>How to make one kind of model: its name, its default model section, and a factory.</summary>
/// <param name="Name">The name used on the command line and in model files.</param>
/// <param name="DefaultsYaml">The model's part of the default configuration (a "model:" section).</param>
/// <param name="Create">Builds an unfitted model from a full configuration.</param>
public sealed record ModelDefinition(string Name, string DefaultsYaml, Func<ConfigTree, IAnomalyModel> Create);
