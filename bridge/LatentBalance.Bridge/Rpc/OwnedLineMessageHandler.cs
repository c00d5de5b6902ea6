using System.Buffers;
using System.IO.Pipelines;
using StreamJsonRpc;
using StreamJsonRpc.Protocol;

namespace LatentBalance.Bridge.Rpc;

/// <summary>
/// Newline-delimited JSON-RPC framing in which every incoming message owns its bytes.
/// <para>
/// StreamJsonRpc's <see cref="NewLineDelimitedMessageHandler"/> parses a line straight out of the pipe's buffer and then
/// advances the pipe past it at once. With <see cref="SystemTextJsonFormatter"/> the parsed message keeps pointing into
/// that buffer (the result or params are decoded later, when JsonRpc knows the expected type), but once the pipe is
/// advanced past the last buffered byte the buffer goes back to the shared <see cref="ArrayPool{T}"/>, where any other
/// code may rent it and write over it before the result is decoded. A client then fails with e.g.
/// "Deserializing JSON-RPC result to type JobTicket failed ... 'r' is an invalid start of a value".
/// Here each line is copied into its own array before it is parsed, so nothing a message refers to is ever recycled.
/// </para>
/// </summary>
internal sealed class OwnedLineMessageHandler : NewLineDelimitedMessageHandler
{
    public OwnedLineMessageHandler(Stream sendingStream, Stream receivingStream, IJsonRpcMessageTextFormatter formatter)
        : base(sendingStream, receivingStream, formatter)
    {
        NewLine = NewLineStyle.Lf;
    }

    protected override async ValueTask<JsonRpcMessage?> ReadCoreAsync(CancellationToken cancellationToken)
    {
        var reader = Reader ?? throw new InvalidOperationException("no receiving stream");
        while (true)
        {
            ReadResult read = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            ReadOnlySequence<byte> buffer = read.Buffer;
            if (buffer.PositionOf((byte)'\n') is not { } lf)
            {
                if (read.IsCompleted)
                {
                    reader.AdvanceTo(buffer.End);
                    if (buffer.Length == 0) return null; // the peer closed between messages
                    throw new EndOfStreamException("the stream ended in the middle of a JSON-RPC message (no closing newline)");
                }
                reader.AdvanceTo(buffer.Start, buffer.End); // need more bytes
                continue;
            }

            byte[] line = buffer.Slice(0, lf).ToArray(); // the message's own copy, never handed back to a pool
            reader.AdvanceTo(buffer.GetPosition(1, lf));
            int length = line.Length;
            if (length > 0 && line[length - 1] == (byte)'\r') length--;
            if (length == 0) continue; // blank line
            return Formatter.Deserialize(new ReadOnlySequence<byte>(line, 0, length));
        }
    }
}
