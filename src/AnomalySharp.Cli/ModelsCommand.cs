using System.CommandLine;
using AnomalySharp.Models;

namespace AnomalySharp.Cli;

/// <summary>`models [NAME]`: the models this build knows, or one model's keys with their defaults and ranges.</summary>
internal static class ModelsCommand
{
    public static Command Create()
    {
        var name = new Argument<string?>("name")
        {
            Description = "a model: list its keys, defaults and ranges", Arity = ArgumentArity.ZeroOrOne
        };
        var cmd = new Command("models", "list the models, or one model's config keys with their defaults and what each accepts") { name };
        cmd.SetAction(p =>
        {
            if (p.GetValue(name) is { } one) PrintKeys(one);
            else PrintModels();
            return 0;
        });
        return cmd;
    }

    static void PrintModels()
    {
        var built = ModelRegistry.BuiltInNames.ToHashSet(StringComparer.Ordinal);
        foreach (string m in ModelRegistry.Names)
        {
            string kind = ModelRegistry.Trains(m) ? "trained" : "fitted";
            Console.WriteLine($"{m,-22} {kind,-8} {(built.Contains(m) ? "built in" : "plugin")}");
        }
        Console.WriteLine("anomalysharp models NAME lists a model's keys; change one with train --set KEY=VALUE");
    }

    static void PrintKeys(string model)
    {
        var keys = ModelKeys.Of(model);
        int width = keys.Max(k => k.Key.Length), defaults = Math.Min(24, keys.Max(k => k.Default.Length));
        string explained = ModelRegistry.BuiltInNames.Contains(model) ? $"; configs/{model}.yaml explains them" : "";
        Console.WriteLine($"{model} ({(ModelRegistry.Trains(model) ? "trained" : "fitted")}): its keys, their defaults and what "
            + $"each accepts (train --set KEY=VALUE{explained})");
        foreach (var k in keys)
            Console.WriteLine($"  {k.Key.PadRight(width)}  {k.Default.PadRight(defaults)}  {k.Accepts}".TrimEnd());
        Console.WriteLine("data, postprocessing, visualization and runtime keys are shared by every model (configs/padim.yaml).");
    }
}
