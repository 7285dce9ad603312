using AnomalySharp.Graphs;
using AnomalySharp.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace AnomalySharp.Models.Fre;

/// <summary>
/// FRE's learned part: a shallow linear autoencoder whose decoder is its encoder transposed (one weight matrix
/// [latent, input], two biases). The weight starts Xavier-uniform from the seed, the biases at zero.
/// </summary>
internal sealed class TiedAutoencoder : nn.Module<Tensor, Tensor>
{
    readonly Parameter weight;
    readonly Parameter encoder_bias;
    readonly Parameter decoder_bias;

    public TiedAutoencoder(long inputDim, long latentDim, int seed) : base("TiedAutoencoder")
    {
        weight = new Parameter(empty(latentDim, inputDim));
        encoder_bias = new Parameter(zeros(latentDim));
        decoder_bias = new Parameter(zeros(inputDim));
        using (var generator = new Generator((ulong)seed))
        using (no_grad())
        using (var scope = NewDisposeScope())
        {
            double bound = Math.Sqrt(6.0 / (inputDim + latentDim));
            using var span = (2 * bound).ToScalar();
            using var low = bound.ToScalar();
            weight.copy_(rand(new[] { latentDim, inputDim }, generator: generator).mul_(span).sub_(low));
        }
        RegisterComponents();
    }

    /// <summary>The length of the feature vectors it reconstructs.</summary>
    public long InputDim => weight.shape[1];

    /// <summary>Reconstructs feature vectors [N, input].</summary>
    public override Tensor forward(Tensor features)
    {
        using var scope = NewDisposeScope();
        var encoded = nn.functional.linear(features, weight, encoder_bias);
        return nn.functional.linear(encoded, weight.t(), decoder_bias).MoveToOuterDisposeScope();
    }

    /// <summary>The reconstruction of <paramref name="features"/> [N, input] as ONNX nodes (one copy of the weight: the
    /// encoder multiplies by its transpose).</summary>
    public string AppendOnnx(OnnxGraph g, string features)
    {
        string w = g.Constant("fre_weight", weight.detach());
        string encoded = g.Node("Gemm", new[] { features, w, g.Constant("fre_encoder_bias", encoder_bias.detach()) },
            OnnxGraph.Attr("transB", 1L));
        return g.Node("Gemm", new[] { encoded, w, g.Constant("fre_decoder_bias", decoder_bias.detach()) });
    }
}
