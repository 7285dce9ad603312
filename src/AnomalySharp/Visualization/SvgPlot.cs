using System.Globalization;
using System.Net;
using System.Text;

namespace AnomalySharp.Visualization;

/// <summary>
/// Small self-contained SVG charts for HTML reports (line plots, overlaid histograms, labelled scatter plots): no
/// plotting dependency and no image files, so a report is one portable HTML file.
/// </summary>
internal sealed class SvgPlot
{
    static readonly string[] Palette = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf" };
    const int W = 420, H = 300, L = 52, R = 12, T = 28, B = 42;
    readonly StringBuilder _body = new();
    readonly List<(string Name, string Colour)> _legend = new();
    readonly string _title, _xLabel, _yLabel;
    readonly double _x0, _x1, _y0, _y1;

    /// <summary>A chart with fixed axis ranges.</summary>
    public SvgPlot(string title, string xLabel, string yLabel, double xMin, double xMax, double yMin, double yMax)
    {
        _title = title; _xLabel = xLabel; _yLabel = yLabel;
        _x0 = xMin; _x1 = xMax > xMin ? xMax : xMin + 1; _y0 = yMin; _y1 = yMax > yMin ? yMax : yMin + 1;
    }

    static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
    double X(double x) => L + (x - _x0) / (_x1 - _x0) * (W - L - R);
    double Y(double y) => H - B - (y - _y0) / (_y1 - _y0) * (H - T - B);

    /// <summary>The colour of series number <paramref name="i"/>.</summary>
    public static string Colour(int i) => Palette[i % Palette.Length];

    /// <summary>A polyline.</summary>
    public SvgPlot Line(string name, IReadOnlyList<double> xs, IReadOnlyList<double> ys, string colour, bool dashed = false)
    {
        var points = string.Join(" ", xs.Zip(ys, (x, y) => $"{F(X(x))},{F(Y(y))}"));
        _body.Append(CultureInfo.InvariantCulture,
            $"<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.8\"{(dashed ? " stroke-dasharray=\"4 3\"" : "")} "
                + $"points=\"{points}\"/>");
        if (name.Length > 0) _legend.Add((name, colour));
        return this;
    }

    /// <summary>A histogram of <paramref name="values"/> in <paramref name="bins"/> bins over the x range, as translucent bars.</summary>
    public SvgPlot Histogram(string name, IReadOnlyList<double> values, int bins, string colour, double yScale)
    {
        var counts = new int[bins];
        foreach (double v in values) counts[Math.Clamp((int)((v - _x0) / (_x1 - _x0) * bins), 0, bins - 1)]++;
        double width = (_x1 - _x0) / bins;
        for (int i = 0; i < bins; i++)
        {
            if (counts[i] == 0) continue;
            double x = _x0 + i * width, h = counts[i] / yScale;
            _body.Append(CultureInfo.InvariantCulture,
                $"<rect x=\"{F(X(x))}\" y=\"{F(Y(h))}\" width=\"{F(X(x + width) - X(x))}\" height=\"{F(Y(0) - Y(h))}\" "
                    + $"fill=\"{colour}\" fill-opacity=\"0.45\"/>");
        }
        _legend.Add((name, colour));
        return this;
    }

    /// <summary>A labelled point.</summary>
    public SvgPlot Point(string label, double x, double y, string colour)
    {
        _body.Append(CultureInfo.InvariantCulture,
            $"<circle cx=\"{F(X(x))}\" cy=\"{F(Y(y))}\" r=\"5\" fill=\"{colour}\"><title>{WebUtility.HtmlEncode(label)}</title></circle>");
        _body.Append(CultureInfo.InvariantCulture,
            $"<text x=\"{F(X(x) + 7)}\" y=\"{F(Y(y) + 4)}\" font-size=\"10\">{WebUtility.HtmlEncode(label)}</text>");
        return this;
    }

    /// <summary>The chart as an inline SVG element.</summary>
    public string ToSvg()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture,
            $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{H}\" font-family=\"sans-serif\" font-size=\"11\">");
        sb.Append(CultureInfo.InvariantCulture,
            $"<text x=\"{W / 2}\" y=\"16\" text-anchor=\"middle\" font-size=\"13\">{WebUtility.HtmlEncode(_title)}</text>");
        sb.Append(CultureInfo.InvariantCulture,
            $"<rect x=\"{L}\" y=\"{T}\" width=\"{W - L - R}\" height=\"{H - T - B}\" fill=\"none\" stroke=\"#999\"/>");
        for (int i = 0; i <= 4; i++)
        {
            double xv = _x0 + (_x1 - _x0) * i / 4, yv = _y0 + (_y1 - _y0) * i / 4;
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(X(xv))}\" y=\"{H - B + 14}\" text-anchor=\"middle\">{xv:0.###}</text>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{L - 4}\" y=\"{F(Y(yv) + 4)}\" text-anchor=\"end\">{yv:0.###}</text>");
        }
        sb.Append(CultureInfo.InvariantCulture,
            $"<text x=\"{(L + W - R) / 2}\" y=\"{H - 8}\" text-anchor=\"middle\">{WebUtility.HtmlEncode(_xLabel)}</text>");
        sb.Append(CultureInfo.InvariantCulture,
            $"<text transform=\"translate(12,{(T + H - B) / 2}) rotate(-90)\" "
                + $"text-anchor=\"middle\">{WebUtility.HtmlEncode(_yLabel)}</text>");
        sb.Append(_body);
        for (int i = 0; i < _legend.Count; i++)
        {
            int y = T + 12 + i * 14;
            sb.Append(CultureInfo.InvariantCulture,
                $"<rect x=\"{W - R - 118}\" y=\"{y - 8}\" width=\"10\" height=\"10\" fill=\"{_legend[i].Colour}\"/><text "
                    + $"x=\"{W - R - 104}\" y=\"{y + 1}\">{WebUtility.HtmlEncode(_legend[i].Name)}</text>");
        }
        sb.Append("</svg>");
        return sb.ToString();
    }
}
