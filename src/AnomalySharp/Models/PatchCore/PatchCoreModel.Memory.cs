using System.Globalization;

namespace AnomalySharp.Models.PatchCore;

/// <summary>PatchCore's fit memory: the estimate of its patch features and the check against what the machine has.</summary>
internal sealed partial class PatchCoreModel
{
    /// <summary>Estimated peak bytes of fit for a number of training images.</summary>
    public long EstimateFitBytes(int images)
    {
        long patches = (long)images * GridSize * GridSize;
        return patches * (FeatureDim * 2L + _projectionDim * (4L + 1L) + 4L) + (long)(patches * _ratio) * FeatureDim * 4L;
    }

    static long AvailableMemoryBytes()
    {
        const string meminfo = "/proc/meminfo";
        if (File.Exists(meminfo))
            foreach (string line in File.ReadLines(meminfo))
                if (line.StartsWith("MemAvailable:", StringComparison.Ordinal))
                    return long.Parse(line[13..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        return GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
    }

    void CheckFitMemory(int images)
    {
        long estimate = EstimateFitBytes(images);
        long limit = _maxFitMemoryGb > 0 ? (long)(_maxFitMemoryGb * (1L << 30)) : (long)(AvailableMemoryBytes() * 0.8);
        if (estimate > limit)
        {
            string needed = (estimate / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture);
            string allowed = (limit / (double)(1L << 30)).ToString("0.0", CultureInfo.InvariantCulture);
            throw new AnomalySharpException($"patchcore: fitting {images} images needs about {needed} GiB for patch features, more "
                + $"than the {allowed} GiB allowed; use fewer training images, a smaller data.image_size, or raise "
                    + $"model.max_fit_memory_gb");
        }
    }
}
