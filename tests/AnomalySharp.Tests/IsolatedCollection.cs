namespace AnomalySharp.Tests;

/// <summary>
/// Tests that allocate heavily on many threads (a web server, a browser driver) run alone, after the parallel ones:
/// their garbage collections would otherwise land inside other tests' TorchSharp calls, where TorchSharp 0.107's
/// implicit Scalars can be finalized mid-call (docs/architecture-notes.md).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class IsolatedCollection
{
    public const string Name = "isolated from TorchSharp tests";
}
