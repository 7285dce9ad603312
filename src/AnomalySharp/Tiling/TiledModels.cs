using AnomalySharp.Configuration;
using AnomalySharp.Models;

namespace AnomalySharp.Tiling;

/// <summary>Creates the model a configuration asks for, tiled when data.tiling asks for it.</summary>
public static class TiledModels
{
    /// <summary>
    /// An unfitted model for <paramref name="config"/> (its model.name picks the kind); with data.tiling, the model is
    /// built for the tile size and wrapped in a <see cref="TiledModel"/> that works at data.image_size, or, with
    /// data.tiling.ensemble, one model per tile position in a <see cref="TiledEnsembleModel"/>.
    /// </summary>
    public static IAnomalyModel Create(ConfigTree config)
    {
        var definition = ModelRegistry.Get(config.GetString("model.name"));
        if (TileGrid.From(config) is not { } grid) return definition.Create(config);
        IAnomalyModel Inner()
        {
            try { return definition.Create(grid.InnerConfig(config)); }
            catch (AnomalySharpException e) when (e.Message.Contains("'data.image_size'", StringComparison.Ordinal))
            {
                // The inner model works at the tile size: a size it cannot take is the tile size the user chose.
                throw new AnomalySharpException(e.Message.Replace("'data.image_size'", "'data.tiling.tile_size'",
                    StringComparison.Ordinal), e);
            }
        }
        var first = Inner();
        if (!TileGrid.IsEnsemble(config)) return TiledModel.Wrap(first, grid);
        var members = new List<IAnomalyModel> { first };
        try { while (members.Count < grid.Count) members.Add(Inner()); }
        catch { foreach (var m in members) m.Dispose(); throw; }
        return new TiledEnsembleModel(members, grid);
    }
}
