using TorchSharp;
using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// In-place addition and subtraction that are safe under garbage collection. TorchSharp 0.107's
/// <c>add_(Tensor)</c>, <c>sub_(Tensor)</c>, <c>add(Tensor)</c>, <c>sub(Tensor)</c> and their scalar overloads create
/// a hidden <see cref="Scalar"/> for alpha and pass only its handle to native code, so a collection during the call
/// can finalize it first ("Expected false to be true ... toDouble"). Measured here: 475 of 1,000 calls failed
/// with another thread allocating. Long-lived scalars avoid it; use these, or the + and − operators, which are safe.
/// </summary>
internal static class SafeOps
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
