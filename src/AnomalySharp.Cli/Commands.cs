using System.CommandLine;
using AnomalySharp.Models;

namespace AnomalySharp.Cli;

/// <summary>The `anomalysharp` command line: its verbs (one type each) under one root, parsed and run.</summary>
internal sealed class Commands
{
    readonly RootCommand _root = new("AnomalySharp: unsupervised visual anomaly detection and localization (PaDiM, PatchCore, ...) on "
        + "the CPU, offline.");

    static readonly Option<string[]> PluginOption = new("--plugin")
    {
        Description = $"load models from a plugin assembly (repeatable; also {PluginLoader.Variable})",
        Recursive = true,
    };

    /// <summary>Loads plugins named by the environment and by --plugin before the commands are built.</summary>
    public static Commands Build(string[] args)
    {
        PluginLoader.LoadFromEnvironment();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--plugin" && i + 1 < args.Length) PluginLoader.Load(new[] { args[i + 1] });
            else if (args[i].StartsWith("--plugin=", StringComparison.Ordinal)) PluginLoader.Load(new[] { args[i][9..] });
        }
        var c = new Commands();
        c._root.Options.Add(PluginOption);
        c._root.Subcommands.Add(TrainCommand.Create());
        c._root.Subcommands.Add(UpdateCommand.Create());
        c._root.Subcommands.Add(TestCommand.Create());
        c._root.Subcommands.Add(PredictCommand.Create());
        c._root.Subcommands.Add(ExportCommand.Create());
        c._root.Subcommands.Add(ServeCommand.Create());
        c._root.Subcommands.Add(WorkerCommands.Worker());
        c._root.Subcommands.Add(WorkerCommands.Publish());
        c._root.Subcommands.Add(WorkerCommands.Results());
        c._root.Subcommands.Add(GridCommands.Benchmark());
        c._root.Subcommands.Add(GridCommands.BenchmarkCell());
        c._root.Subcommands.Add(GridCommands.Hpo());
        c._root.Subcommands.Add(ModelsCommand.Create());
        return c;
    }

    /// <summary>Parses and runs; a parse error or a user error is one line on stderr and exit code 2.</summary>
    public int Run(string[] args)
    {
        var parsed = _root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            Console.Error.WriteLine("error: " + ParseErrors.Explain(parsed.Errors[0].Message) + " (see --help)");
            return 2;
        }
        return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }
}
