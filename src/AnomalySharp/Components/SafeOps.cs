using TorchSharp;
using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// In-place addition and subtraction that are safe under garbage collection, for TorchSharp work outside the
/// library's batch hand-out (where a collection cannot happen; see docs/writing-a-model.md). TorchSharp 0.107's
/// <c>add_(Tensor)</c>, <c>sub_(Tensor)</c>, <c>add(Tensor)</c>, <c>sub(Tensor)</c> and every overload or operator
/// that takes a number (<c>mul_(2.0)</c>, <c>ge(5)</c>, <c>a - 0.3</c>) create a hidden <see cref="Scalar"/> and pass
/// only its handle to native code, so a collection during the call can finalize it first ("Expected false to be true
/// ... toDouble"). Measured here: 475 of 1,000 calls failed with another thread allocating. Safe: these methods, an
/// explicit long-lived <c>using Scalar s = 0.3;</c>, and the + − * / operators between two tensors.
/// </summary>
public static class SafeOps
{
    static readonly Scalar One = 1;
    static readonly Scalar MinusOne = -1;

    /// <summary>−2, for in-place multiplication without an implicit Scalar.</summary>
    public static readonly Scalar MinusTwo = -2.0;

    /// <summary>target += other, in place.</summary>
    public static Tensor AddInPlace(Tensor target, Tensor other) => target.add_(other, One);

    /// <summary>target -= other, in place.</summary>
    public static Tensor SubtractInPlace(Tensor target, Tensor other) => target.add_(other, MinusOne);

    /// <summary>target += value, in place.</summary>
    public static Tensor AddInPlace(Tensor target, double value)
    {
        using Scalar s = value;
        return target.add_(s, One);
    }

    /// <summary>Adds an integer to an integer tensor in place (explicit, kept-alive Scalar).</summary>
    public static Tensor AddInPlace(Tensor target, long value)
    {
        using Scalar s = value;
        return target.add_(s, One);
    }
}
