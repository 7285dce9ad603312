namespace AnomalySharp.Models;

/// <summary>
/// Implemented by a public class with a parameterless constructor in a plugin assembly: the command line loads the
/// assembly (<c>--plugin FILE.dll</c> or the ANOMALYSHARP_PLUGINS path list) and registers its models.
/// </summary>
public interface IModelPlugin
{
    /// <summary>The models this plugin adds.</summary>
    IEnumerable<ModelDefinition> Models { get; }
}
