using static TorchSharp.torch;

namespace AnomalySharp.Training;

/// <summary>
/// Random changes to training images, each drawn per image from a seeded generator: horizontal and vertical flips
/// (probability ½ each), a rotation uniform in ±<see cref="RotationDegrees"/> (reflected borders), brightness and
/// contrast factors uniform in 1 ± <see cref="ColorJitter"/>. All tensor operations on the whole batch.
/// </summary>
internal sealed record Augmentation(bool HFlip, bool VFlip, double RotationDegrees, double ColorJitter)
{
    /// <summary>No augmentation (the default: anomaly models learn what normal looks like, flips included).</summary>
    public static readonly Augmentation None = new(false, false, 0, 0);

    /// <summary>True when any change is on.</summary>
    public bool Enabled => HFlip || VFlip || RotationDegrees > 0 || ColorJitter > 0;

    /// <summary>Augmented copy of images [B,3,H,W] (RGB 0..1).</summary>
    public Tensor Apply(Tensor images, Generator generator)
    {
        using var scope = NewDisposeScope();
        long b = images.shape[0];
        var x = images.clone();
        if (HFlip) x = FlipWhere(x, rand(b, generator: generator).lt(0.5), 3);
        if (VFlip) x = FlipWhere(x, rand(b, generator: generator).lt(0.5), 2);
        if (RotationDegrees > 0)
        {
            var angle = (rand(b, generator: generator) * 2 - 1) * (RotationDegrees * Math.PI / 180);
            var cos = angle.cos(); var sin = angle.sin(); var zero = zeros(b);
            var theta = stack(new[] { cos, -sin, zero, sin, cos, zero }, 1).view(b, 2, 3);
            var grid = nn.functional.affine_grid(theta, x.shape, align_corners: false);
            x = nn.functional.grid_sample(x, grid, GridSampleMode.Bilinear, GridSamplePaddingMode.Reflection, align_corners: false);
        }
        if (ColorJitter > 0)
        {
            var brightness = (rand(b, 1, 1, 1, generator: generator) * 2 - 1) * ColorJitter + 1;
            var contrast = (rand(b, 1, 1, 1, generator: generator) * 2 - 1) * ColorJitter + 1;
            var mean = x.mean(new long[] { 1, 2, 3 }, keepdim: true);
            x = ((x - mean) * contrast + mean) * brightness;
            x = x.clamp(0.0, 1.0);
        }
        return x.MoveToOuterDisposeScope();
    }

    static Tensor FlipWhere(Tensor x, Tensor which, long dim) =>
        where(which.view(-1, 1, 1, 1), x.flip(dim), x);
}
