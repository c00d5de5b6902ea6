namespace LatentBalance.Engine.Color;

/// <summary>A .cube file that cannot be read: the message names the file and, where known, the line.</summary>
public sealed class CubeFormatException : FormatException
{
    public CubeFormatException(string fileName, int lineNumber, string reason)
        : base(lineNumber > 0 ? $"{fileName}, line {lineNumber}: {reason}" : $"{fileName}: {reason}")
    {
        FileName = fileName;
        LineNumber = lineNumber;
        Reason = reason;
    }

    /// <summary>The path or name given to the reader.</summary>
    public string FileName { get; }

    /// <summary>1-based line number, or 0 when the problem is with the file as a whole.</summary>
    public int LineNumber { get; }

    /// <summary>The reason without the file and line prefix.</summary>
    public string Reason { get; }
}
