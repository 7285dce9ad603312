using static TorchSharp.torch;

namespace AnomalySharp.Components;

/// <summary>
/// Deterministic initialization of a network from a seed, independent of TorchSharp's global generator (which
/// concurrent users share): convolution kernels (4-d weights) He-normal with fan-out, as torchvision's ResNet;
/// other weights (batch and layer norms) one; biases zero.
/// </summary>
internal static class SeededInit
{
    /// <summary>Re-initializes every parameter of <paramref name="module"/>.</summary>
    public static void Apply(nn.Module module, int seed)
    {
        using var generator = new Generator((ulong)seed);
        using var noGrad = no_grad();
        foreach (var (name, p) in module.named_parameters())
        {
            if (name.EndsWith("bias", StringComparison.Ordinal)) p.zero_();
            else if (p.dim() == 4)
            {
                long fanOut = p.shape[0] * p.shape[2] * p.shape[3];
                nn.init.normal_(p, 0, Math.Sqrt(2.0 / fanOut), generator);
            }
            else p.fill_(1.0);
        }
    }
}
