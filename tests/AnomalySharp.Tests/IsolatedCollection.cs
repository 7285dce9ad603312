namespace AnomalySharp.Tests;

/// <summary>
/// Tests that allocate heavily on many threads (a web server, a browser driver), drive real child processes, or compare
/// training runs bit for bit run one at a time, never beside the TorchSharp tests in one process: their garbage
/// collections would otherwise land inside other tests' TorchSharp calls, where TorchSharp 0.107's implicit Scalars can
/// be finalized mid-call (docs/architecture-notes.md), and TorchSharp's process-wide thread pool would split other
/// tests' reductions differently. build/test.sh runs them in a test process of their own (<see cref="Trait"/> =
/// <see cref="Value"/>), beside the process that runs the parallel tests; run in one process, they come after those.
/// Every class of the collection carries the trait and no other class does (IsolatedCollectionTests).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IsolatedCollection
{
    /// <summary>The collection's name.</summary>
    public const string Name = "isolated from TorchSharp tests";
    /// <summary>The trait that selects the collection's tests (dotnet test --filter Process=alone).</summary>
    public const string Trait = "Process";
    /// <summary>The trait's value.</summary>
    public const string Value = "alone";
}
