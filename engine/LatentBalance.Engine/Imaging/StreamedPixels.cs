using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using NetVips;

namespace LatentBalance.Engine.Imaging;

/// <summary>
/// Streams a working-space image through an <see cref="IPixelTransform"/> strip by strip, so decoding,
/// transforming and encoding overlap. libvips has no hook to run managed code inside a pipeline, so the
/// transformed strips are handed back to it as a PNG byte stream: uncompressed (stored) deflate blocks
/// with no row filters, which its PNG loader reads at memory-copy speed through a custom source.
/// A producer thread pulls strips from the input pipeline (decode), transforms them in parallel and
/// queues them; libvips' read callback, running in the save pipeline, consumes the queue.
/// Supports uchar/ushort with 3 or 4 bands (PNG holds both; 16-bit is big-endian in PNG).
/// </summary>
internal sealed class StreamedPixels : IDisposable
{
    readonly record struct Segment(byte[] Array, int Offset, int Count);

    sealed class Piece
    {
        public required Segment[] Segments;
        public byte[]? Buffer; // returned to the free list once consumed
    }

    readonly Image _upright;
    readonly SourceImage _photo;
    readonly bool _convert;
    readonly Enums.BandFormat _workingFormat;
    readonly IPixelTransform _transform;
    readonly int _w, _h, _bands, _bps, _rowBytes, _stripRows;
    readonly BlockingCollection<Piece> _queue = new(boundedCapacity: 3);
    readonly BlockingCollection<byte[]> _free = new();
    readonly CancellationTokenSource _cancel = new();
    readonly SourceCustom _source = new();
    Task? _producer;

    Piece? _current;
    int _seg, _segPos;

    /// <summary>The first error of the producer: a decode failure (VipsException) or the transform's own.</summary>
    public Exception? ProducerError { get; private set; }

    /// <param name="upright">the decoded photo, upright, in its stored encoding (read once, top to bottom)</param>
    public StreamedPixels(SourceImage photo, Image upright, IPixelTransform transform, int stripBytes)
    {
        _photo = photo;
        _upright = upright;
        _convert = photo.NeedsWorkingConversion(upright);
        _workingFormat = photo.WorkingFormat;
        _transform = transform;
        _w = upright.Width;
        _h = upright.Height;
        _bands = photo.WorkingBands;
        _bps = _workingFormat == Enums.BandFormat.Ushort ? 2 : 1;
        _rowBytes = _w * _bands * _bps;
        _stripRows = Math.Clamp(stripBytes / Math.Max(1, _rowBytes), Math.Min(8, _h), _h);   // at least 8 rows, or all of a shorter photo
        for (int i = 0; i < 5; i++) _free.Add(new byte[_stripRows * (_rowBytes + 1)]);
        _source.OnRead += Read;
    }

    /// <summary>Starts the producer and returns the image libvips reads from the stream (sequential access).</summary>
    public Image Start()
    {
        _producer = Task.Factory.StartNew(Produce, TaskCreationOptions.LongRunning);
        return Image.PngloadSource(_source, access: Enums.Access.Sequential, failOn: Enums.FailOn.None);
    }

    /// <summary>Stops the producer (after success or failure of the save) and waits for it.</summary>
    public void Finish()
    {
        _cancel.Cancel();
        try { _producer?.Wait(); } catch (AggregateException) { }
    }

    void Produce()
    {
        try
        {
            var tok = _cancel.Token;
            _queue.Add(new Piece { Segments = [new(Header(), 0, Header().Length)] }, tok);

            // One region over the whole input keeps a single evaluation alive, so the sequential
            // loader's state survives between strips (separate pipelines per strip read out of order).
            var decoded = GC.AllocateUninitializedArray<byte>(_stripRows * _rowBytes, pinned: true);
            using var region = Region.New(_upright);
            uint adler = 1;
            bool first = true;
            for (int y = 0; y < _h; y += _stripRows)
            {
                int rows = Math.Min(_stripRows, _h - y);
                var stored = region.Fetch(0, y, _w, rows);
                if (!_convert) Buffer.BlockCopy(stored, 0, decoded, 0, rows * _rowBytes);
                else ConvertStrip(stored, decoded, rows);

                var raw = _free.Take(tok);
                int rawLen = rows * (_rowBytes + 1);
                TransformAndFrame(decoded, raw, rows);
                uint stripAdler = Adler32.Update(1, raw.AsSpan(0, rawLen));
                adler = Adler32.Combine(adler, stripAdler, rawLen);
                bool last = y + rows >= _h;
                _queue.Add(Frame(raw, rawLen, first, last, adler), tok);
                first = false;
            }
            _queue.Add(new Piece { Segments = [new(Chunk("IEND", []), 0, 12)] }, tok);
        }
        catch (OperationCanceledException) { }
        catch (Exception e) { ProducerError = e; }
        finally { _queue.CompleteAdding(); }
    }

    /// <summary>Stored encoding -> working space for one strip (ICC, grey, CMYK), multi-threaded by libvips
    /// on an in-memory strip that carries the photo's interpretation and ICC profile.</summary>
    void ConvertStrip(byte[] stored, byte[] decoded, int rows)
    {
        using var raw = Image.NewFromMemory(stored, _w, rows, _upright.Bands, _upright.Format);
        using var tagged = raw.Mutate(m =>
        {
            if (_upright.GetTypeOf("icc-profile-data") != IntPtr.Zero)
                m.Set(GValue.BlobType, "icc-profile-data", _upright.Get("icc-profile-data"));
        });
        using var typed = tagged.Copy(interpretation: _upright.Interpretation);
        using var working = _photo.ToWorkingSpace(typed);
        using var target = Image.NewFromMemory(decoded, _w, rows, _bands, _workingFormat);
        working.Write(target);
    }

    /// <summary>Applies the transform to the decoded rows (in parallel) and lays them out as PNG rows:
    /// a filter byte 0 then the samples (big-endian for 16-bit).</summary>
    void TransformAndFrame(byte[] decoded, byte[] raw, int rows)
    {
        int chunks = Math.Min(rows, Environment.ProcessorCount * 4);
        Parallel.For(0, chunks, c =>
        {
            int r0 = (int)((long)rows * c / chunks), r1 = (int)((long)rows * (c + 1) / chunks);
            var span = decoded.AsSpan(r0 * _rowBytes, (r1 - r0) * _rowBytes);
            if (_bps == 1) _transform.Apply(span, _bands);
            else _transform.Apply(MemoryMarshal.Cast<byte, ushort>(span), _bands);
            for (int r = r0; r < r1; r++)
            {
                var src = decoded.AsSpan(r * _rowBytes, _rowBytes);
                var dst = raw.AsSpan(r * (_rowBytes + 1), _rowBytes + 1);
                dst[0] = 0;
                if (_bps == 1) src.CopyTo(dst[1..]);
                else if (BitConverter.IsLittleEndian)
                    BinaryPrimitives.ReverseEndianness(MemoryMarshal.Cast<byte, ushort>(src), MemoryMarshal.Cast<byte, ushort>(dst[1..]));
                else src.CopyTo(dst[1..]);
            }
        });
    }

    /// <summary>One IDAT chunk holding this strip as stored deflate blocks (max 65535 bytes each).
    /// The first carries the zlib header, the last the final-block flag and the Adler-32.
    /// Chunk CRCs are left 0: the loader is opened with fail_on=none, where libvips does not check them.</summary>
    static Piece Frame(byte[] raw, int rawLen, bool first, bool last, uint adler)
    {
        int blocks = Math.Max(1, (rawLen + 65534) / 65535);
        int dataLen = (first ? 2 : 0) + blocks * 5 + rawLen + (last ? 4 : 0);
        var head = new byte[8 + (first ? 2 : 0)];
        BinaryPrimitives.WriteInt32BigEndian(head, dataLen);
        "IDAT"u8.CopyTo(head.AsSpan(4));
        if (first) { head[8] = 0x78; head[9] = 0x01; }
        var segs = new List<Segment>(blocks * 2 + 2) { new(head, 0, head.Length) };
        var blockHeads = new byte[blocks * 5];
        for (int k = 0, p = 0; k < blocks; k++)
        {
            int n = Math.Min(65535, rawLen - p);
            var bh = blockHeads.AsSpan(k * 5, 5);
            bh[0] = (byte)(last && k == blocks - 1 ? 1 : 0);
            BinaryPrimitives.WriteUInt16LittleEndian(bh[1..], (ushort)n);
            BinaryPrimitives.WriteUInt16LittleEndian(bh[3..], (ushort)~n);
            segs.Add(new(blockHeads, k * 5, 5));
            segs.Add(new(raw, p, n));
            p += n;
        }
        var tail = new byte[(last ? 4 : 0) + 4];
        if (last) BinaryPrimitives.WriteUInt32BigEndian(tail, adler);
        segs.Add(new(tail, 0, tail.Length));
        return new Piece { Segments = segs.ToArray(), Buffer = raw };
    }

    byte[] _header = [];

    byte[] Header()
    {
        if (_header.Length > 0) return _header;
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, _w);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), _h);
        ihdr[8] = (byte)(_bps * 8);
        ihdr[9] = (byte)(_bands == 4 ? 6 : 2); // RGBA or RGB
        _header = [137, 80, 78, 71, 13, 10, 26, 10, .. Chunk("IHDR", ihdr)];
        return _header;
    }

    static byte[] Chunk(string type, ReadOnlySpan<byte> data)
    {
        var b = new byte[12 + data.Length];
        BinaryPrimitives.WriteInt32BigEndian(b, data.Length);
        System.Text.Encoding.ASCII.GetBytes(type, b.AsSpan(4));
        data.CopyTo(b.AsSpan(8));
        return b;
    }

    /// <summary>libvips read callback: copies the next bytes of the stream; 0 at the end; throws (read error) when the producer failed.</summary>
    int Read(byte[] buffer, int length)
    {
        int written = 0;
        while (written < length)
        {
            if (_current == null || _seg >= _current.Segments.Length)
            {
                if (_current?.Buffer != null) _free.Add(_current.Buffer);
                _current = null;
                if (written > 0 && _queue.Count == 0) break; // hand over what we have instead of waiting
                if (!_queue.TryTake(out _current, Timeout.Infinite))
                {
                    if (ProducerError != null) throw new IOException("pixel producer failed", ProducerError);
                    break;
                }
                _seg = 0; _segPos = 0;
            }
            var s = _current.Segments[_seg];
            int n = Math.Min(length - written, s.Count - _segPos);
            Buffer.BlockCopy(s.Array, s.Offset + _segPos, buffer, written, n);
            written += n;
            _segPos += n;
            if (_segPos == s.Count) { _seg++; _segPos = 0; }
        }
        return written;
    }

    public void Dispose()
    {
        Finish();
        _source.Dispose();
        _cancel.Dispose();
    }
}
