using AnomalySharp.Models;

namespace AnomalySharp.Samples.CustomModel;

/// <summary>The one registration: makes `anomalysharp train --model dfm --plugin AnomalySharp.Samples.CustomModel.dll` work.</summary>
public sealed class DfmPlugin : IModelPlugin
{
    /// <inheritdoc />
    public IEnumerable<ModelDefinition> Models => new[] { new ModelDefinition("dfm", DfmModel.DefaultsYaml, c => new DfmModel(c)) };
}
