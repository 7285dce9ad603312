using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace AnomalySharp.Serving;

/// <summary>
/// Reads the image out of a <c>multipart/form-data</c> request body, bounded in every dimension an untrusted client
/// controls: body bytes, parts, header bytes per part, file-name length. Any input ends in an <see cref="Upload"/> or
/// a <see cref="Rejection"/> with an HTTP status and a message; it never throws for bad bytes (only for cancellation),
/// which a property test checks on mutated real requests.
/// </summary>
public static class UploadReader
{
    /// <summary>Bounds on a request.</summary>
    /// <param name="MaxBodyBytes">Largest body (and so largest file).</param>
    /// <param name="MaxParts">Most form parts read.</param>
    /// <param name="MaxHeaderBytes">Largest header block of one part.</param>
    /// <param name="MaxNameLength">Longest accepted file name, in characters.</param>
    public sealed record Limits(long MaxBodyBytes, int MaxParts = 16, int MaxHeaderBytes = 64 * 1024, int MaxNameLength = 255);

    /// <summary>The outcome of reading a request.</summary>
    public abstract record Result;
    /// <summary>The uploaded file: its name (never empty) and bytes.</summary>
    public sealed record Upload(string Name, byte[] Bytes) : Result;
    /// <summary>A request refused with <paramref name="Status"/> and a message for the client.</summary>
    public sealed record Rejection(int Status, string Message) : Result;

    /// <summary>Reads the file in field <c>image</c>, or else the first file of the form.</summary>
    public static async Task<Result> ReadAsync(string? contentType, Stream body, Limits limits, CancellationToken cancel = default)
    {
        if (!MediaTypeHeaderValue.TryParse(contentType, out var media) || !media.MediaType.Equals("multipart/form-data",
            StringComparison.OrdinalIgnoreCase))
            return new Rejection(StatusCodes.Status415UnsupportedMediaType, "send the image as multipart/form-data (field 'image')");
        string boundary = HeaderUtilities.RemoveQuotes(media.Boundary).ToString();
        if (boundary.Length is 0 or > 70) return new Rejection(StatusCodes.Status400BadRequest,
            "malformed multipart form (missing or over-long boundary)");
        var reader = new MultipartReader(boundary, body)
        {
            HeadersLengthLimit = limits.MaxHeaderBytes, HeadersCountLimit = 16,
            BodyLengthLimit = limits.MaxBodyBytes
        };
        Upload? chosen = null;
        try
        {
            for (int part = 0; ; part++)
            {
                var section = await reader.ReadNextSectionAsync(cancel);
                if (section == null) break;
                if (part >= limits.MaxParts) return new Rejection(StatusCodes.Status400BadRequest,
                    $"more than {limits.MaxParts} parts in the form");
                ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition);
                string? fileName = disposition == null ? null : HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue
                    ? disposition.FileNameStar : disposition.FileName).ToString();
                bool isFile = disposition != null && (disposition.FileName.HasValue || disposition.FileNameStar.HasValue);
                string field = disposition == null ? "" : HeaderUtilities.RemoveQuotes(disposition.Name).ToString();
                if (!isFile || (chosen != null && field != "image"))
                {
                    await section.Body.CopyToAsync(Stream.Null, cancel);
                    continue;
                }
                if (fileName!.Length > limits.MaxNameLength)
                    return new Rejection(StatusCodes.Status400BadRequest,
                        $"file name of {fileName.Length} characters is over the limit of {limits.MaxNameLength}: '{fileName[..32]}…'");
                string name = Path.GetFileName(fileName.Replace('\\', '/'));
                var bytes = await ReadBounded(section.Body, limits.MaxBodyBytes, cancel);
                if (bytes == null) return TooLarge(limits);
                chosen = new Upload(name.Length == 0 ? "upload" : name, bytes);
            }
        }
        catch (InvalidDataException e) when (e.Message.Contains("body length limit",
            StringComparison.OrdinalIgnoreCase))
        { return TooLarge(limits); }
        catch (InvalidDataException e) when (e.Message.Contains("header",
            StringComparison.OrdinalIgnoreCase) || e.Message.Contains("Line length", StringComparison.OrdinalIgnoreCase))
        {
            return new Rejection(StatusCodes.Status400BadRequest,
                $"a form part's headers are over {limits.MaxHeaderBytes} bytes (an over-long file name?)");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge) { return TooLarge(limits); }
        catch (Exception e) when (e is InvalidDataException or BadHttpRequestException or IOException or FormatException
            or ArgumentException)
        {
            return new Rejection(StatusCodes.Status400BadRequest, $"malformed multipart form ({Truncate(e.Message, 120)})");
        }
        if (chosen == null) return new Rejection(StatusCodes.Status400BadRequest, "no file in the form (send the image in field 'image')");
        if (chosen.Bytes.Length == 0) return new Rejection(StatusCodes.Status400BadRequest, $"{chosen.Name}: empty file");
        return chosen;
    }

    static Rejection TooLarge(Limits limits) => new(StatusCodes.Status413PayloadTooLarge,
        $"request body is over the size limit of {limits.MaxBodyBytes} bytes");

    static string Truncate(string s, int n) => s.Length <= n ? s : s[..n] + "…";

    /// <summary>The whole stream, or null when it holds more than <paramref name="max"/> bytes.</summary>
    static async Task<byte[]?> ReadBounded(Stream stream, long max, CancellationToken cancel)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int n;
        while ((n = await stream.ReadAsync(chunk, cancel)) > 0)
        {
            if (buffer.Length + n > max) return null;
            buffer.Write(chunk, 0, n);
        }
        return buffer.ToArray();
    }
}
