using AnomalySharp.Runtime;

namespace AnomalySharp.Models;

/// <summary>
/// A model whose inference graph takes images of one working size that need not be square (a tiled model: its grid
/// fixes the size). Others work on square images of any size (<see cref="IAnomalyModel.AppendOnnx"/>).
/// </summary>
internal interface IRectangularModel
{
    /// <summary>Appends the graph for images [N,3,<paramref name="height"/>,<paramref name="width"/>]: the raw maps and scores.</summary>
    /// <exception cref="ArgumentException">The size is not the model's working size.</exception>
    (string Maps, string Scores) AppendRectangular(OnnxGraph graph, string images, int height, int width);
}
