using AnomalySharp.Models;

namespace AnomalySharp.Samples.CustomModel;

/// <summary>The one registration: makes `anomalysharp train --model semi_orthogonal --plugin AnomalySharp.Samples.CustomModel.dll`
/// work.</summary>
public sealed class SemiOrthogonalPlugin : IModelPlugin
{
    /// <inheritdoc />
    public IEnumerable<ModelDefinition> Models => new[]
    {
        new ModelDefinition("semi_orthogonal", SemiOrthogonalModel.DefaultsYaml, c => new SemiOrthogonalModel(c)),
    };
}
