using AnomalySharp;
using AnomalySharp.Cli;

try
{
    return Commands.Build(args).Run(args);
}
catch (AnomalySharpException e)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 2;
}
catch (AnomalySharp.Training.TrainingInterruptedException e)
{
    Console.Error.WriteLine(e.Message);
    return 130;
}
catch (Exception e) when (e is AnomalySharp.Runtime.ModelLoadException or AnomalySharp.Runtime.ImageDecodeException)
{
    Console.Error.WriteLine("error: " + e.Message);
    return 2;
}
catch (Exception e) when (Environment.GetEnvironmentVariable("ANOMALYSHARP_DEBUG") is null)
{
    // Not a user mistake: a bug or an environment failure. One line; ANOMALYSHARP_DEBUG=1 shows the stack.
    Console.Error.WriteLine($"internal error: {e.GetType().Name}: {e.Message} (set ANOMALYSHARP_DEBUG=1 for details)");
    return 1;
}
