namespace AnomalySharp.IO;

/// <summary>What <see cref="PendingOutputs.WaitForProtected"/> found.</summary>
internal enum ProtectedWait
{
    /// <summary>No protected work was in hand.</summary>
    None,
    /// <summary>The protected work in hand ended within the limit.</summary>
    Ended,
    /// <summary>Protected work was still in hand at the limit.</summary>
    TimedOut,
}
