namespace AnomalySharp.Metrics;

/// <summary>Labels 8-connected regions of a binary mask (as OpenCV's connectedComponents does by default).</summary>
internal static class ConnectedComponents
{
    /// <summary>Labels for a row-major mask (non-zero = foreground): 0 for background, 1..count for regions.</summary>
    public static int[] Label(ReadOnlySpan<byte> mask, int width, int height, out int count)
    {
        var labels = new int[mask.Length];
        count = Label(mask, width, height, labels);
        return labels;
    }

    /// <summary>As <see cref="Label(ReadOnlySpan{byte}, int, int, out int)"/>, into <paramref name="labels"/> (cleared first); returns the
    /// count.</summary>
    public static int Label(ReadOnlySpan<byte> mask, int width, int height, Span<int> labels)
    {
        if (mask.Length != width * height || labels.Length != mask.Length) throw new ArgumentException("mask, labels and size differ");
        labels.Clear();
        var stack = new Stack<int>();
        int count = 0;
        count = 0;
        for (int start = 0; start < mask.Length; start++)
        {
            if (mask[start] == 0 || labels[start] != 0) continue;
            count++;
            labels[start] = count;
            stack.Push(start);
            while (stack.Count > 0)
            {
                int p = stack.Pop(), x = p % width, y = p / width;
                for (int dy = -1; dy <= 1; dy++)
                {
                    int ny = y + dy;
                    if (ny < 0 || ny >= height) continue;
                    for (int dx = -1; dx <= 1; dx++)
                    {
                        int nx = x + dx;
                        if (nx < 0 || nx >= width) continue;
                        int q = ny * width + nx;
                        if (mask[q] == 0 || labels[q] != 0) continue;
                        labels[q] = count;
                        stack.Push(q);
                    }
                }
            }
        }
        return count;
    }
}
