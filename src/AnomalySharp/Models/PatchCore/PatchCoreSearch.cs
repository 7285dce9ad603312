namespace AnomalySharp.Models.PatchCore;

/// <summary>model.search: how PatchCore finds a patch's nearest neighbours in its memory bank.</summary>
internal enum PatchCoreSearch
{
    /// <summary>An inverted-file index inside the graph: the probed lists only, then an exact rerank.</summary>
    Ivf,
    /// <summary>Every bank row for every patch.</summary>
    Exact,
}
