using SkiaSharp;

namespace AnomalySharp.Data;

/// <summary>
/// Painted defects with their pixel masks: the built-in synthetic dataset's scratches, holes and stains, also pasted
/// into held-out normal images by <see cref="SyntheticDefects"/>. Every draw comes from the caller's seeded generator.
/// </summary>
internal static class DefectPainter
{
    /// <summary>
    /// Paints a defect of <paramref name="type"/> (scratch, hole or stain) at a random point of <paramref name="region"/>
    /// on <paramref name="canvas"/> and its mask (white) on <paramref name="mask"/>; sizes are fractions of <paramref name="s"/>.
    /// </summary>
    public static void Paint(SKCanvas canvas, SKCanvas mask, int s, string type, SKRect region, Random rng)
    {
        float x = region.Left + (float)rng.NextDouble() * region.Width;
        float y = region.Top + (float)rng.NextDouble() * region.Height;
        using var white = new SKPaint { Color = SKColors.White, IsAntialias = false };
        switch (type)
        {
            case "scratch":
                {
                    double angle = rng.NextDouble() * Math.PI;
                    float len = s * (0.2f + 0.15f * (float)rng.NextDouble());
                    float dx = (float)Math.Cos(angle) * len / 2, dy = (float)Math.Sin(angle) * len / 2;
                    float bend = (float)(rng.NextDouble() - 0.5) * len * 0.3f;
                    using var builder = new SKPathBuilder();
                    builder.MoveTo(x - dx, y - dy);
                    builder.QuadTo(x + bend, y - bend, x + dx, y + dy);
                    using var path = builder.Detach();
                    float width = Math.Max(1.5f, s / 80f);
                    using var paint = new SKPaint
                    {
                        Color = new SKColor(235, 235, 225), Style = SKPaintStyle.Stroke,
                        StrokeWidth = width, IsAntialias = true
                    };
                    canvas.DrawPath(path, paint);
                    white.Style = SKPaintStyle.Stroke;
                    white.StrokeWidth = width + 1;
                    mask.DrawPath(path, white);
                    break;
                }
            case "hole":
                {
                    float r = s * (0.03f + 0.03f * (float)rng.NextDouble());
                    using var paint = new SKPaint { Color = new SKColor(15, 12, 10), IsAntialias = true };
                    canvas.DrawCircle(x, y, r, paint);
                    using var rim = new SKPaint
                    {
                        Color = new SKColor(70, 60, 50), Style = SKPaintStyle.Stroke, StrokeWidth = 1,
                        IsAntialias = true
                    };
                    canvas.DrawCircle(x, y, r, rim);
                    mask.DrawCircle(x, y, r + 0.5f, white);
                    break;
                }
            default: // stain
                {
                    float rx = s * (0.05f + 0.05f * (float)rng.NextDouble()), ry = rx * (0.6f + 0.4f * (float)rng.NextDouble());
                    var oval = new SKRect(x - rx, y - ry, x + rx, y + ry);
                    using var paint = new SKPaint { Color = new SKColor(150, 80, 30, 150), IsAntialias = true };
                    canvas.DrawOval(oval, paint);
                    mask.DrawOval(oval, white);
                    break;
                }
        }
    }
}
