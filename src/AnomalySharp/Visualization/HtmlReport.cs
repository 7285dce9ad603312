using System.Globalization;
using System.Net;
using System.Text;

namespace AnomalySharp.Visualization;

/// <summary>
/// A self-contained report.html: the metrics table, then every test image grouped by defect type, worst misses
/// first, with a control to sort all images by score or badness instead.
/// </summary>
internal static class HtmlReport
{
    /// <summary>Writes the report.</summary>
    /// <param name="path">Output file.</param>
    /// <param name="title">Heading.</param>
    /// <param name="metrics">Rows of (name, value) shown in the table.</param>
    /// <param name="items">Images to show.</param>
    /// <param name="chart">An inline SVG shown after the table (the score histogram), or null.</param>
    public static void Write(string path, string title, IReadOnlyList<(string Name, string Value)> metrics,
        IReadOnlyList<ReportItem> items, string? chart = null)
    {
        static string E(string s) => WebUtility.HtmlEncode(s);
        static string F(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>").Append(E(title)).Append("</title><style>")
          .Append("body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table.m{border-collapse:collapse}table.m "
              + "td{border:1px solid #ccc;padding:.25em .6em}")
          .Append(".item{display:inline-block;margin:.4em;vertical-align:top;font-size:.85em}.item "
              + "img{display:block;max-width:100%;width:720px;image-rendering:pixelated}")
          .Append(".miss{outline:3px solid #d22}.ok{outline:1px solid #ccc}h2{margin-top:1.2em}.badge{font-weight:bold}.miss "
              + ".badge{color:#d22}")
          .Append("</style></head><body>");
        sb.Append("<h1>").Append(E(title)).Append("</h1><table class=\"m\">");
        foreach (var (name,
            value) in metrics) sb.Append("<tr><td>").Append(E(name)).Append("</td><td>").Append(E(value)).Append("</td></tr>");
        sb.Append("</table>");
        if (chart != null) sb.Append("<div class=\"chart\">").Append(chart).Append("</div>");
        sb.Append("<p>Panels: image · ground truth · heat map · predicted region (red) and true region (green). ")
          .Append("Scores are normalized: 0.5 is the threshold. Misses have a red frame.</p>")
          .Append("<p>Order: <select id=\"order\"><option value=\"group\">by defect type, worst misses first</option>")
          .Append("<option value=\"score\">all by score, highest first</option><option value=\"bad\">all by "
              + "badness</option></select></p><div id=\"items\">");
        foreach (var group in items.GroupBy(i => i.DefectType).OrderBy(g => g.Key == "good" ? "" : g.Key, StringComparer.Ordinal))
        {
            int misses = group.Count(i => i.IsMiss);
            sb.Append("<h2 class=\"grp\">").Append(E(group.Key)).Append(" (").Append(group.Count()).Append(" images, ").Append(misses)
                .Append(" misses)</h2>");
            foreach (var item in group.OrderByDescending(i => i.Badness))
            {
                sb.Append("<div class=\"item ").Append(item.IsMiss ? "miss" : "ok").Append("\" data-type=\"").Append(E(item.DefectType))
                  .Append("\" data-score=\"").Append(F(item.Score)).Append("\" data-bad=\"").Append(F(item.Badness)).Append("\">")
                  .Append("<img loading=\"lazy\" src=\"").Append(E(item.ImageFile)).Append("\" alt=\"").Append(E(item.Id)).Append("\">")
                  .Append("<span class=\"badge\">").Append(item.IsMiss
                      ? "MISS " : "").Append(E(item.Id)).Append("</span> · score ").Append(F(item.Score))
                  .Append(" · predicted ").Append(item.PredictedAnomalous ? "anomalous" : "normal")
                  .Append(" · <span title=\"").Append(E(item.SourcePath)).Append("\">source</span></div>");
            }
        }
        sb.Append("</div><script>")
          .Append("const box=document.getElementById('items');const orig=[...box.children];")
          .Append("document.getElementById('order').onchange=e=>{const v=e.target.value;box.innerHTML='';")
          .Append("if(v==='group'){orig.forEach(n=>box.appendChild(n));return;}")
          .Append("const its=orig.filter(n=>n.classList.contains('item'));const k=v==='score'?'score':'bad';")
          .Append("its.sort((a,b)=>parseFloat(b.dataset[k])-parseFloat(a.dataset[k])).forEach(n=>box.appendChild(n));};")
          .Append("</script></body></html>");
        File.WriteAllText(path, sb.ToString());
    }
}
