using System.Reflection;
using System.Runtime.Loader;

namespace AnomalySharp.Models;

/// <summary>Loads model plugins (assemblies with <see cref="IModelPlugin"/> classes) into the <see cref="ModelRegistry"/>.</summary>
internal static class PluginLoader
{
    /// <summary>Environment variable holding plugin paths separated by the platform's path separator.</summary>
    public const string Variable = "ANOMALYSHARP_PLUGINS";

    static readonly List<string> LoadedPaths = new();

    /// <summary>Full paths of the plugin assemblies loaded so far (so child processes can load them too).</summary>
    public static IReadOnlyList<string> Loaded { get { lock (LoadedPaths) return LoadedPaths.ToList(); } }

    /// <summary>Loads each assembly and registers its models; returns the names added.</summary>
    public static IReadOnlyList<string> Load(IEnumerable<string> paths)
    {
        var added = new List<string>();
        foreach (string path in paths.Where(p => p.Length > 0))
        {
            string full = Path.GetFullPath(path);
            if (!File.Exists(full)) throw new AnomalySharpException($"plugin not found: {full}");
            lock (LoadedPaths) { if (LoadedPaths.Contains(full)) continue; LoadedPaths.Add(full); }
            Assembly assembly;
            try { assembly = AssemblyLoadContext.Default.LoadFromAssemblyPath(full); }
            catch (BadImageFormatException) { throw new AnomalySharpException($"{full}: not a .NET assembly"); }
            var plugins = assembly.GetExportedTypes()
                .Where(t => typeof(IModelPlugin).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
                .ToList();
            if (plugins.Count == 0) throw new AnomalySharpException($"{full}: no public class implements IModelPlugin");
            foreach (var type in plugins)
            {
                var plugin = (IModelPlugin)(Activator.CreateInstance(type)
                    ?? throw new AnomalySharpException($"{full}: cannot create {type.FullName}"));
                foreach (var definition in plugin.Models)
                {
                    ModelRegistry.Register(definition);
                    added.Add(definition.Name);
                }
            }
        }
        return added;
    }

    /// <summary>Loads the plugins named in <see cref="Variable"/>, if any.</summary>
    public static IReadOnlyList<string> LoadFromEnvironment() =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } list
            ? Load(list.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            : Array.Empty<string>();
}
