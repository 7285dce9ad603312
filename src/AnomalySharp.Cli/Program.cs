using AnomalySharp.Cli;

// A command that scores or fits images restarts itself once, in place, with glibc's heap on huge pages (see HugePages).
if (args.Length > 0 && args[0] is "train" or "test" or "predict" or "update" or "export" or "serve" or "worker" or "benchmark"
    or "benchmark-cell" or "hpo") AnomalySharp.Runtime.HugePages.RestartIfUseful();

// Before anything can load LibTorch: its idle OpenMP threads sleep after a short spin instead of a long one (see ComputeThreads).
AnomalySharp.Runtime.ComputeThreads.PrepareOpenMp();
AnomalySharp.Runtime.OneDnnIsa.Prepare(); // and its convolutions off the AVX-512 kernels that gave NaN gradients (OneDnnIsa)
// serve stops gracefully through its web host's own SIGINT/SIGTERM handling; every other command is stopped by Shutdown.
// Commands whose every output is staged stop at once when a signal finds nothing pending (see Shutdown.StopAtOnceWhenIdle).
if (args.Length > 0 && args[0] != "serve")
    Shutdown.Install(args[0] is "train" or "test" or "predict" or "export" or "update" or "benchmark" or "benchmark-cell" or "hpo");
int code = Run(args);
Shutdown.Finished(code);
return code;

static int Run(string[] args)
{
    try
    {
        return Commands.Build(args).Run(args);
    }
    catch (AnomalySharp.Runtime.UserInputException e)
    {
        // Every error a user can fix derives from it (the library's, the runtime's model and image errors, the workers').
        Console.Error.WriteLine("error: " + e.CommandLineMessage);
        return 2;
    }
    catch (NATS.Client.Core.NatsException e)
    {
        // The broker went away or did not answer (a cluster without a leader): not a bug of ours, not the user's input.
        Console.Error.WriteLine($"error: NATS: {e.Message}");
        return 1;
    }
    catch (AnomalySharp.Training.TrainingInterruptedException e)
    {
        Console.Error.WriteLine(e.CommandLineMessage);
        return 130;
    }
    catch (OperationCanceledException) when (Shutdown.Token.IsCancellationRequested)
    {
        Console.Error.WriteLine("interrupted: stopped; no output written");
        return 130;
    }
    catch (UnauthorizedAccessException e)
    {
        // A path the user named that cannot be read or written: their setup, not our bug.
        Console.Error.WriteLine("error: permission denied: " + e.Message);
        return 2;
    }
    catch (Exception e) when (Environment.GetEnvironmentVariable("ANOMALYSHARP_DEBUG") is null)
    {
        // Not a user mistake: a bug or an environment failure. One line; ANOMALYSHARP_DEBUG=1 shows the stack.
        Console.Error.WriteLine($"internal error: {e.GetType().Name}: {e.Message} (set ANOMALYSHARP_DEBUG=1 for details)");
        return 1;
    }
}
