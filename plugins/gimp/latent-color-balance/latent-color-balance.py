#!/usr/bin/env python3
# -*- coding: utf-8 -*-
#
# Latent Color Balance: a GIMP 3 front end for the LatentBalance daemon.
#
# Filters > Colors > Latent Color Balance... sends the active layer to the daemon
# (org.latentbalance.Engine1 on the session bus) as a file at the image's own precision
# (8-bit, 16-bit or 32-bit float), waits for the balanced file and adds it as a new layer
# "Latent Color Balance" above the source, in one undo group. The source layer is never changed.
# Its dialog previews the result (LivePreview: the daemon's per-image LUT on a downscaled copy, with
# Strength blended here as the engine blends it; needs python3-numpy, else the dialog has no preview). For
# the preview the layer is written by write_preview_copy where that is provably the file OK's export writes
# (8/16-bit non-linear, built-in sRGB), else by GIMP's exporter as for OK.
#
# Callable from scripts and batch mode:
#   proc = Gimp.get_pdb().lookup_procedure("plug-in-latent-color-balance")
#   cfg = proc.create_config()
#   cfg.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
#   cfg.set_property("image", image)
#   cfg.set_core_object_array("drawables", [layer])
#   cfg.set_property("iterations", 1); cfg.set_property("strength", 1.0)
#   result = proc.run(cfg)     # result.index(0) is the status, result.index(1) the new layer
#
# Environment:
#   LATENTBALANCE_TMPDIR        where the exchange files go (default: the system temp folder). The daemon
#                               must see the same paths (it reads and writes them).
#   LATENTBALANCE_GIMP_VERBOSE  1: print stage timings to stderr.

import os
import shutil
import sys
import tempfile
import time

import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gegl, Gimp, Gio, GLib, GObject  # noqa: E402

PROC_NAME = "plug-in-latent-color-balance"
LAYER_NAME = "Latent Color Balance"

BUS_NAME = "org.latentbalance.Engine1"
OBJECT_PATH = "/org/latentbalance/Engine1"
INTERFACE = "org.latentbalance.Engine1"
ERROR_PREFIX = INTERFACE + ".Error."
PROTOCOL_VERSION = 2

HOW_TO_START = ("Install and start it with `dotnet cake --target=install-daemon` (this also installs the D-Bus "
                "activation file so GIMP can start it), or run `latentbalance daemon` in a terminal, "
                "then apply the filter again.")


def _now():
    return time.perf_counter()


class DaemonUnavailable(Exception):
    """The daemon cannot be reached (not running and not activatable, or no session bus)."""


class DaemonJobFailed(Exception):
    """The daemon answered but the job failed or was cancelled."""


# --------------------------------------------------------------------------------------------------------
# Pixel exchange through GIMP's own TIFF exporter and loader (lossless; 8-bit, 16-bit and 32-bit float keep
# their precision, alpha stays unassociated). The layer is copied into a one-layer image in non-linear sRGB
# ("R'G'B'"), the encoding the engine works in: GIMP converts from the image's own profile and TRC; the
# result is converted back the same way when it is loaded into the image.
# --------------------------------------------------------------------------------------------------------

def exchange_precision(precision):
    """8-bit images travel as 8-bit, 16-bit as 16-bit; 32-bit integer, half, float and double as float."""
    name = precision.value_nick.split("-")[0]
    return {"u8": Gimp.Precision.U8_NON_LINEAR, "u16": Gimp.Precision.U16_NON_LINEAR}.get(
        name, Gimp.Precision.FLOAT_NON_LINEAR)


def export_layer(drawable, precision, path):
    """Writes the layer's own pixels (no mask, opacity or mode) to `path` with file-tiff-export."""
    width, height = drawable.get_width(), drawable.get_height()
    temp = Gimp.Image.new_with_precision(width, height, Gimp.ImageBaseType.RGB, precision)
    try:
        layer = Gimp.Layer.new_from_drawable(drawable, temp)
        temp.insert_layer(layer, None, 0)
        if layer.get_mask() is not None:
            layer.remove_mask(Gimp.MaskApplyMode.DISCARD)
        layer.set_offsets(0, 0)
        layer.set_visible(True)
        layer.set_opacity(100.0)
        layer.set_mode(Gimp.LayerMode.NORMAL)
        proc = Gimp.get_pdb().lookup_procedure("file-tiff-export")
        config = proc.create_config()
        config.set_property("run-mode", Gimp.RunMode.NONINTERACTIVE)
        config.set_property("image", temp)
        config.set_property("file", Gio.File.new_for_path(path))
        config.set_property("compression", "none")
        config.set_property("include-thumbnail", False)
        # a classic TIFF holds 4 GiB; past that (about 260 MP in float RGBA) BigTIFF
        config.set_property("bigtiff", width * height * 16 > 4000 << 20)
        result = proc.run(config)
        if result.index(0) != Gimp.PDBStatusType.SUCCESS:
            raise IOError("GIMP could not export the layer to %s: %s"
                          % (path, result.index(1) if result.length() > 1 else "no reason given"))
    finally:
        temp.delete()


def write_preview_copy(image, drawable, buffer, path, rows_per_strip=64):
    """The preview's fast copy of the layer: the same file content as export_layer would give the daemon, without
    GIMP's exporter (a plug-in process of its own, and a copy of the layer in GIMP's core). Only where that is
    provably the same image: an image of exactly the exchange precision (8- or 16-bit non-linear) in GIMP's
    built-in sRGB (no colour profile), so export_layer's copy into its non-linear sRGB image converts nothing and
    writes the layer's own samples. Those samples are read from the layer's buffer in its own format (no babl
    conversion) in bands of rows and written as the strips of a baseline uncompressed TIFF (RGB or RGBA with
    unassociated alpha, as file-tiff-export writes them; no colour profile, as it writes none for such an image),
    so libvips reads the same samples, format and bands from both files and the daemon makes the same tile.
    Returns False, writing nothing, where the fast copy does not apply (export_layer then writes the file)."""
    import struct
    precision = image.get_precision()
    if precision not in (Gimp.Precision.U8_NON_LINEAR, Gimp.Precision.U16_NON_LINEAR) \
            or image.get_color_profile() is not None:
        return False
    width, height = drawable.get_width(), drawable.get_height()
    bands = 4 if drawable.has_alpha() else 3
    depth = 1 if precision == Gimp.Precision.U8_NON_LINEAR else 2
    row_bytes = width * bands * depth
    strips = (height + rows_per_strip - 1) // rows_per_strip
    if row_bytes * height + 64 * strips + 4096 > 0xFFFFFFFF:
        return False                                      # past a classic TIFF: export_layer writes BigTIFF
    # the header, the IFD and its out-of-line values, then the samples (strip after strip)
    order = "<" if sys.byteorder == "little" else ">"     # the samples come in this machine's byte order
    entries = [(256, 4, [width]), (257, 4, [height]), (258, 3, [8 * depth] * bands), (259, 3, [1]),
               (262, 3, [2]), (273, 4, None), (277, 3, [bands]), (278, 4, [rows_per_strip]), (279, 4, None),
               (284, 3, [1])]
    if bands == 4:
        entries.append((338, 3, [2]))                     # ExtraSamples: unassociated alpha
    entries.append((339, 3, [1] * bands))                 # SampleFormat: unsigned integer
    ifd_at = 8
    extra_at = ifd_at + 2 + 12 * len(entries) + 4
    extra = bytearray()
    size = {3: 2, 4: 4}
    layout = []
    for tag, kind, values in entries:
        count = strips if values is None else len(values)
        layout.append((tag, kind, count, None if count * size[kind] <= 4 else extra_at + len(extra)))
        if count * size[kind] > 4:
            extra += bytes(count * size[kind])
    data_at = extra_at + len(extra)
    offsets = [data_at + i * rows_per_strip * row_bytes for i in range(strips)]
    counts = [min(rows_per_strip, height - i * rows_per_strip) * row_bytes for i in range(strips)]
    values_of = {273: offsets, 279: counts}
    ifd = bytearray(struct.pack(order + "H", len(entries)))
    for (tag, kind, values), (_, _, count, where) in zip(entries, layout):
        values = values_of.get(tag, values)
        packed = struct.pack(order + ("H" if kind == 3 else "I") * count, *values)
        if where is None:
            ifd += struct.pack(order + "HHI", tag, kind, count) + packed.ljust(4, b"\0")
        else:
            ifd += struct.pack(order + "HHII", tag, kind, count, where)
            extra[where - extra_at:where - extra_at + len(packed)] = packed
    ifd += struct.pack(order + "I", 0)
    with open(path, "wb") as f:
        f.write((b"II" if order == "<" else b"MM") + struct.pack(order + "HI", 42, ifd_at) + bytes(ifd) + bytes(extra))
        for i in range(strips):
            rows = min(rows_per_strip, height - i * rows_per_strip)
            # format None: the buffer's own format, so GEGL copies the samples as they are
            samples = buffer.get(Gegl.Rectangle.new(0, i * rows_per_strip, width, rows), 1.0, None, Gegl.AbyssPolicy.NONE)
            if len(samples) != rows * row_bytes:
                raise IOError("the layer's buffer gave %d bytes for %d rows of %d (format %s)"
                              % (len(samples), rows, row_bytes, drawable.get_format()))
            f.write(samples)
    return True


# --------------------------------------------------------------------------------------------------------
# D-Bus client (Gio): Balance, then Wait in short slices, reading progress with GetJob in between.
# --------------------------------------------------------------------------------------------------------

def remote_error_name(err):
    try:
        return Gio.DBusError.get_remote_error(err) or ""
    except Exception:
        return ""


UNREACHABLE_ERRORS = (
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
    "org.freedesktop.DBus.Error.NoReply",
    "org.freedesktop.DBus.Error.Disconnected",
    "org.freedesktop.DBus.Error.TimedOut",
    "org.freedesktop.DBus.Error.NoServer",
)


class EngineClient:
    def __init__(self):
        try:
            self.bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
        except GLib.Error as e:
            raise DaemonUnavailable("no D-Bus session bus (%s)" % e.message)

    def call(self, method, args, reply_type, timeout_ms=30000, done=None, cancellable=None):
        """Calls `method` and returns its unpacked reply, blocking. With `done`, returns at once and later
        (from the main loop) calls done(reply, None) or done(None, error): DaemonUnavailable or GLib.Error."""
        # No NO_AUTO_START flag: the bus starts the daemon when its activation file is installed.
        if done is None:
            try:
                reply = self.bus.call_sync(BUS_NAME, OBJECT_PATH, INTERFACE, method, args,
                                           GLib.VariantType.new(reply_type), Gio.DBusCallFlags.NONE,
                                           timeout_ms, None)
            except GLib.Error as e:
                raise self.unreachable(e) or e
            return reply.unpack()

        def finished(bus, result):
            try:
                reply = bus.call_finish(result).unpack()
            except GLib.Error as e:
                done(None, self.unreachable(e) or e)
                return
            done(reply, None)
        self.bus.call(BUS_NAME, OBJECT_PATH, INTERFACE, method, args, GLib.VariantType.new(reply_type),
                      Gio.DBusCallFlags.NONE, timeout_ms, cancellable, finished)

    @staticmethod
    def unreachable(e):
        """DaemonUnavailable for the errors that mean nobody answers on the bus name, else None."""
        name = remote_error_name(e)
        if name in UNREACHABLE_ERRORS or name.startswith("org.freedesktop.DBus.Error.Spawn") \
                or (not name and e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CLOSED)):
            return DaemonUnavailable("%s (%s)" % (BUS_NAME, e.message))
        return None

    def info(self):
        # The first call activates the daemon if needed; loading it may take a while.
        version, device, _models, filters, protocol, _details = self.call("GetInfo", None, "(ssasasua{ss})", 120000)
        mismatch = self.protocol_mismatch(protocol)
        if mismatch:
            raise mismatch
        return version, device

    @staticmethod
    def protocol_mismatch(protocol):
        """DaemonUnavailable when the daemon speaks another protocol than this plug-in, else None."""
        if protocol == PROTOCOL_VERSION:
            return None
        return DaemonUnavailable("the daemon speaks protocol %d, this plug-in protocol %d: update one of them"
                                 % (protocol, PROTOCOL_VERSION))

    def balance(self, input_path, output_path, parameters, lut_path):
        args = GLib.Variant("(sssa{ss}sb)", (input_path, output_path, "", parameters, lut_path or "", True))
        return self.call("Balance", args, "(s)")[0]

    def get_job(self, job_id):
        return self.call("GetJob", GLib.Variant("(s)", (job_id,)), "(sdssss)")

    def cancel(self, job_id):
        try:
            self.call("Cancel", GLib.Variant("(s)", (job_id,)), "(b)")
        except Exception:
            pass

    # The preview's calls: the same methods, asynchronous (results arrive in the dialog's main loop).

    def info_async(self, done, cancellable):
        """done(None) when the daemon answers (activating it if needed), done(error) if not."""
        def answered(reply, error):
            done(error if error is not None else self.protocol_mismatch(reply[4]))
        self.call("GetInfo", None, "(ssasasua{ss})", 120000, answered, cancellable)

    def export_cube_async(self, input_path, cube_path, parameters, done, cancellable):
        """Queues ExportCube (the pack's LUT size, as Balance uses); done(job_id, error)."""
        args = GLib.Variant("(sssa{ss}ib)", (input_path, cube_path, "", parameters, 0, True))
        self.call("ExportCube", args, "(s)", 30000, lambda reply, error: done(reply and reply[0], error), cancellable)

    def wait_async(self, job_id, done, cancellable, slice_ms=250):
        """done((state, output_path, error_code, error, elapsed_ms, details), error) once the job ends."""
        def answered(reply, error):
            if error is not None and remote_error_name(error) == ERROR_PREFIX + "Timeout":
                self.wait_async(job_id, done, cancellable, slice_ms)   # still running: wait another slice
            else:
                done(reply, error)
        self.call("Wait", GLib.Variant("(si)", (job_id, slice_ms)), "(ssssta{ss})", slice_ms + 30000, answered, cancellable)

    def wait(self, job_id, on_progress, slice_ms=250):
        """Blocks until the job ends; returns (state, output_path, error_code, error, elapsed_ms, details)."""
        while True:
            try:
                return self.call("Wait", GLib.Variant("(si)", (job_id, slice_ms)), "(ssssta{ss})", slice_ms + 30000)
            except GLib.Error as e:
                if remote_error_name(e) != ERROR_PREFIX + "Timeout":
                    raise
            state, progress, stage, _out, _code, _err = self.get_job(job_id)
            on_progress(progress, stage)


# --------------------------------------------------------------------------------------------------------
# The filter
# --------------------------------------------------------------------------------------------------------

def log(msg):
    if os.environ.get("LATENTBALANCE_GIMP_VERBOSE"):
        sys.stderr.write("latent-color-balance: %s\n" % msg)
        sys.stderr.flush()


def add_result_layer(image, drawable, result_path):
    """Loads the result with GIMP's loader (converted to the image's precision and profile) as a new layer
    right above `drawable`, at its offsets, in one undo group."""
    layer = Gimp.file_load_layer(Gimp.RunMode.NONINTERACTIVE, image, Gio.File.new_for_path(result_path))
    if layer is None:
        raise IOError("GIMP could not load the daemon's output %s: %s" % (result_path, Gimp.get_pdb().get_last_error()))
    size, want = (layer.get_width(), layer.get_height()), (drawable.get_width(), drawable.get_height())
    if size != want:
        layer.delete()
        raise IOError("the daemon's output %s is %dx%d, the layer %dx%d" % ((result_path,) + size + want))
    image.undo_group_start()
    try:
        layer.set_name(LAYER_NAME)
        _, ox, oy = drawable.get_offsets()
        image.insert_layer(layer, drawable.get_parent(), image.get_item_position(drawable))
        layer.set_offsets(ox, oy)
    finally:
        image.undo_group_end()
    return layer


def balance_layer(image, drawable, iterations, strength, lut_path, progress):
    """Does the work; returns the new layer. Raises DaemonUnavailable, DaemonJobFailed, GLib.Error, IOError."""
    t0 = _now()
    width, height = drawable.get_width(), drawable.get_height()
    has_alpha = drawable.has_alpha()
    precision = exchange_precision(image.get_precision())
    log("%s: %dx%d, %s%s" % (drawable.get_name(), width, height, precision.value_nick, " + alpha" if has_alpha else ""))

    client = EngineClient()
    version, device = client.info()
    log("daemon %s on %s" % (version, device))
    t_connect = _now()

    workdir = tempfile.mkdtemp(prefix="latent-color-balance-", dir=os.environ.get("LATENTBALANCE_TMPDIR") or None)
    try:
        src_path = os.path.join(workdir, "layer.tif")
        out_path = os.path.join(workdir, "balanced.tif")
        progress(0.0, "exporting the layer")
        export_layer(drawable, precision, src_path)
        t_export = _now()

        parameters = {"iterations": str(int(iterations)), "strength": repr(float(strength))}
        job_id = client.balance(src_path, out_path, parameters, os.path.abspath(lut_path) if lut_path else "")
        log("job %s" % job_id)
        try:
            state, result_path, code, error, elapsed_ms, _details = client.wait(
                job_id, lambda p, stage: progress(0.05 + 0.85 * max(0.0, min(1.0, p)), stage))
        except BaseException:
            client.cancel(job_id)
            raise
        t_daemon = _now()
        if state != "done":
            raise DaemonJobFailed("the daemon's job %s ended %s%s: %s"
                                  % (job_id, state, " (%s)" % code if code else "", error or "no reason given"))

        progress(0.92, "loading the result")
        layer = add_result_layer(image, drawable, result_path or out_path)
        t_import = _now()
        progress(1.0, "done")
        log("timings: connect %.3f s, export %.3f s, daemon %.3f s (job %.3f s), import %.3f s, "
            "plug-in overhead %.3f s, total %.3f s"
            % (t_connect - t0, t_export - t_connect, t_daemon - t_export, elapsed_ms / 1000.0, t_import - t_daemon,
               (t_export - t0) + (t_import - t_daemon), t_import - t0))
        return layer
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --------------------------------------------------------------------------------------------------------
# The dialog's live preview: the whole layer, downscaled, through the per-image correction. The correction
# is the daemon's: one ExportCube job of the layer (the same image as OK's export: write_preview_copy) at strength 1 per
# image and iteration count, a .cube LUT. Strength is blended here as the engine blends it (LutTransform:
# out = in + s * (lut(in) - in), trilinear, inputs clamped to the LUT's domain; the same as applying
# Lut3D.Blend's identity + s * (lut - identity)), so moving Strength needs no model run and the preview
# agrees with what OK produces. numpy does the pixel work (a preview of at most 480x360).
# --------------------------------------------------------------------------------------------------------

PREVIEW_SIZE = (480, 360)


def read_cube(path):
    """A .cube file as (table[b, g, r] -> rgb, domain_min, domain_max) numpy arrays; red changes fastest."""
    import numpy as np
    size, dmin, dmax = 0, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]
    with open(path) as f:
        text = f.read()
    # the keywords come first; the rest is numbers, converted by numpy at once (what the engine writes)
    lines = text.split("\n")
    for at, line in enumerate(lines):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        key = words[0].upper()
        if key == "LUT_3D_SIZE":
            size = int(words[1])
        elif key == "DOMAIN_MIN":
            dmin = [float(v) for v in words[1:4]]
        elif key == "DOMAIN_MAX":
            dmax = [float(v) for v in words[1:4]]
        elif not (key[0].isalpha() and key not in ("NAN", "INF", "INFINITY")):
            break                                          # the first line of numbers
    else:
        at = len(lines)
    rest = "\n".join(lines[at:])
    try:
        if "#" in rest:
            raise ValueError("comments among the numbers")
        values = np.array(rest.split(), dtype=np.float64)
    except ValueError:                                     # keywords or comments among the numbers
        data = []
        for line in lines[at:]:
            words = line.split("#", 1)[0].split()
            if words and not (words[0][0].isalpha() and words[0].upper() not in ("NAN", "INF", "INFINITY")):
                data.extend(words)
        values = np.array(data, dtype=np.float64)
    if size < 2 or values.size != size ** 3 * 3:
        raise IOError("%s is not a 3D .cube LUT (size %d, %d values)" % (path, size, values.size))
    return values.reshape(size, size, size, 3), np.array(dmin), np.array(dmax)


def lut_geometry(n, dmin, dmax, rgb):
    """Where each pixel of an (..., 3) float array falls in an n^3 LUT over dmin..dmax, as LutTransform samples
    it: each channel mapped from the domain onto the grid, clamped to it (NaN as 0); the flat index of the grid
    point below it and the fractions towards the next. Depends on the pixels and the grid only, so the preview
    works it out while the daemon computes the LUT."""
    import numpy as np
    x = np.clip(np.nan_to_num((rgb - dmin) * ((n - 1) / (dmax - dmin)), nan=0.0), 0, n - 1)
    i0 = np.minimum(x.astype(np.intp), n - 2)
    f = x - i0
    base = (i0[..., 2] * n + i0[..., 1]) * n + i0[..., 0]      # table[b, g, r], red fastest
    return (n, tuple(dmin), tuple(dmax)), base, f[..., 0:1], f[..., 1:2], f[..., 2:3]


def lut_lookup(table, dmin, dmax, rgb, geometry=None):
    """lut(rgb) for an (..., 3) float array, as LutTransform samples it (lut_geometry), trilinear between the 8
    surrounding grid points. `geometry`: lut_geometry's answer for these pixels, if it is this LUT's grid."""
    n = table.shape[0]
    if geometry is None or geometry[0] != (n, tuple(dmin), tuple(dmax)):
        geometry = lut_geometry(n, dmin, dmax, rgb)
    import numpy as np
    _, base, fr, fg, fb = geometry
    # each grid point's three values as one 24-byte item: one gather per corner instead of three
    points = np.ascontiguousarray(table, dtype=np.float64).reshape(-1, 3).view(np.dtype((np.void, 24))).ravel()

    def at(db, dg, dr):
        return points[base + ((db * n + dg) * n + dr)].view(np.float64).reshape(base.shape + (3,))
    c000, c001 = at(0, 0, 0), at(0, 0, 1)
    c010, c011 = at(0, 1, 0), at(0, 1, 1)
    c100, c101 = at(1, 0, 0), at(1, 0, 1)
    c110, c111 = at(1, 1, 0), at(1, 1, 1)
    c00 = c000 + (c001 - c000) * fr
    c10 = c010 + (c011 - c010) * fr
    c01 = c100 + (c101 - c100) * fr
    c11 = c110 + (c111 - c110) * fr
    c0 = c00 + (c10 - c00) * fg
    c1 = c01 + (c11 - c01) * fg
    return c0 + (c1 - c0) * fb


def blend(rgb, corrected, strength):
    """The correction at `strength`: rgb + strength * (lut(rgb) - rgb), which is what the LUT
    identity + strength * (lut - identity) gives (interpolating the identity returns the input)."""
    return rgb * (1.0 - strength) + corrected * strength


class LivePreview:
    """The preview pane of the dialog (a Gtk box to pack into it) and the daemon job behind it."""

    def __init__(self, image, drawable, config):
        from gi.repository import Gdk, Gtk
        self.image, self.drawable, self.config = image, drawable, config
        self.t_open = _now()
        self.closed = False
        self.client = None
        self.cancellable = Gio.Cancellable()
        self.workdir = None
        self.src_path = None
        self.job = None            # (job_id, iterations) of the running ExportCube job
        self.corrected = {}        # iterations -> lut(before), the correction at strength 1
        self.before = self.alpha = None
        self.split = 0.5           # where the split view changes from before to after (fraction of the width)
        self.showing = self.reported = None
        self.pending = {}          # fn -> GLib source id (later)
        self.connecting = False
        self.buffer = None         # the layer's GeglBuffer (layer_buffer)
        self.reachable = False     # GetInfo answered
        self.exporting = False     # the layer is being written for the daemon (or waits for the dialog to show)
        self.geometry = None       # lut_geometry of the pane's pixels (prepare_lookup)
        self.lut_size = 33         # the grid of the last LUT (the pack's LUT size)

        self.picture = Gtk.Image()
        self.pane = Gtk.EventBox(halign=Gtk.Align.CENTER, valign=Gtk.Align.CENTER)   # as large as the picture
        self.pane.add(self.picture)
        self.pane.add_events(Gdk.EventMask.BUTTON_PRESS_MASK | Gdk.EventMask.BUTTON1_MOTION_MASK)
        self.pane.connect("button-press-event", self.on_drag)
        self.pane.connect("motion-notify-event", self.on_drag)
        self.toggle = Gtk.CheckButton.new_with_mnemonic("_Preview")
        self.toggle.set_active(True)
        self.toggle.connect("toggled", lambda *_: self.preview_toggled())
        self.split_toggle = Gtk.CheckButton.new_with_mnemonic("Split _view (before | after)")
        self.split_toggle.connect("toggled", lambda *_: self.render())
        self.spinner = Gtk.Spinner()
        self.status = Gtk.Label(label="", xalign=0.0)
        self.status.set_ellipsize(3)   # Pango.EllipsizeMode.END: one line
        toggles = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=12)
        toggles.pack_start(self.toggle, False, False, 0)
        toggles.pack_start(self.split_toggle, False, False, 0)
        line = Gtk.Box(orientation=Gtk.Orientation.HORIZONTAL, spacing=6)
        line.pack_start(self.spinner, False, False, 0)
        line.pack_start(self.status, True, True, 0)
        self.box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL, spacing=6)
        self.box.set_border_width(6)
        self.box.pack_start(self.pane, True, True, 0)
        self.box.pack_start(toggles, False, False, 0)
        self.box.pack_start(line, False, False, 0)
        self.box.show_all()

        config.connect("notify::strength", lambda *_: self.later(0, self.render))
        config.connect("notify::iterations", lambda *_: self.later(300, self.update))
        # at once, before GTK shows the dialog: GetInfo goes out, the layer is written while the daemon answers
        # (and while the dialog is mapped), and the job is queued as soon as the answer arrives
        self.start()

    # ---- plumbing
    def later(self, ms, fn):
        """Runs fn from the main loop after ms (0: when idle); a call already waiting is not doubled."""
        if fn in self.pending or self.closed:
            return

        def run():
            del self.pending[fn]
            fn()
            return False
        self.pending[fn] = GLib.timeout_add(ms, run) if ms else GLib.idle_add(run)

    def say(self, text, busy=False, tooltip=None):
        self.status.set_text(text)
        self.status.set_tooltip_text(tooltip or text)
        (self.spinner.start if busy else self.spinner.stop)()
        log("preview: status: %s" % text)

    def iterations(self):
        return int(self.config.get_property("iterations"))

    def strength(self):
        return float(self.config.get_property("strength"))

    def start(self):
        # the daemon's job first: the layer is read for the pane while the daemon works on it
        if self.toggle.get_active():
            self.update()          # reads the pixels once the job is queued (or has failed)
        else:
            self.later(0, self.read_pixels)

    def layer_buffer(self):
        """The layer's GeglBuffer, one for the dialog: the pane's pixels are read from the tiles the preview's
        copy of the layer already fetched from GIMP's core."""
        if self.buffer is None:
            self.buffer = self.drawable.get_buffer()
        return self.buffer

    # ---- the downscaled layer
    def read_pixels(self):
        import numpy as np
        if self.before is not None:
            return
        t0 = _now()
        w, h = self.drawable.get_width(), self.drawable.get_height()
        scale = min(PREVIEW_SIZE[0] / w, PREVIEW_SIZE[1] / h, 1.0)
        pw, ph = max(1, int(round(w * scale))), max(1, int(round(h * scale)))
        has_alpha = self.drawable.has_alpha()
        fmt = "R'G'B'A float" if has_alpha else "R'G'B' float"
        data = self.layer_buffer().get(Gegl.Rectangle.new(0, 0, pw, ph), scale, fmt, Gegl.AbyssPolicy.CLAMP)
        px = np.frombuffer(data, dtype=np.float32).reshape(ph, pw, 4 if has_alpha else 3).astype(np.float64)
        self.before = px[:, :, :3]
        self.alpha = np.clip(px[:, :, 3:4], 0.0, 1.0) if has_alpha else None
        log("preview: %dx%d pixels of the %dx%d layer read in %.3f s" % (pw, ph, w, h, _now() - t0))
        self.render()
        self.later(0, self.prepare_lookup)

    def prepare_lookup(self):
        """The LUT lookup's geometry for the pane's pixels, worked out while the daemon computes the LUT: for the
        grid of the last LUT (the pack's size; 33 until one has arrived), over 0..1 (what the engine writes)."""
        import numpy as np
        if self.before is not None and self.geometry is None:
            t0 = _now()
            self.geometry = lut_geometry(self.lut_size, np.zeros(3), np.ones(3), self.before)
            log("preview: lookup geometry (%d^3) in %.3f s" % (self.lut_size, _now() - t0))

    # ---- the correction: one ExportCube job per iteration count
    def update(self):
        it = self.iterations()
        if not self.toggle.get_active() or it in self.corrected:
            return self.render()
        if self.job is not None:
            if self.job[1] == it:
                return
            self.cancel_job()
        if self.connecting:
            return
        self.say("Computing the correction…", busy=True)
        if self.src_path is not None and self.reachable:
            return self.submit()
        # (re)connect: GetInfo starts the daemon by D-Bus activation if needed, without blocking the dialog
        try:
            self.client = EngineClient()
        except DaemonUnavailable as e:
            return self.failed(e)
        self.connecting = True
        self.client.info_async(self.connected, self.cancellable)
        # the job goes out right behind GetInfo, without waiting for its answer (connected cancels it if the
        # answer is no): at once when the layer is written already, else as soon as it is (export)
        if self.src_path is not None:
            self.submit()
        elif not self.exporting:
            self.export(fast_only=True)    # while the daemon answers GetInfo

    def connected(self, error):
        self.connecting = False
        if error is not None:
            if self.job is not None:
                self.cancel_job()          # sent behind GetInfo (one whose id is still to come: `queued` cancels it)
            return self.failed(error)
        self.reachable = True
        if self.src_path is not None:
            self.submit()                  # unless it went out already
        # else the export is still to come (it submits) or it failed and said so (changing Iterations or the
        # Preview toggle tries again)

    def export(self, fast_only=False):
        """Writes the layer for the daemon: the same image as OK's export (so the same tile and correction),
        by write_preview_copy where it applies (a moment: at once, even before the dialog shows, and the pane's
        pixels are read right after from the tiles it fetched), else by GIMP's exporter exactly as OK exports it
        (longer: once the dialog shows; with fast_only it is left to then). Submits the job if GetInfo answered."""
        t0 = _now()
        self.exporting = True
        if self.workdir is None:
            self.workdir = tempfile.mkdtemp(prefix="latent-color-balance-preview-",
                                            dir=os.environ.get("LATENTBALANCE_TMPDIR") or None)
        path = os.path.join(self.workdir, "layer.tif")
        try:
            how = "written" if write_preview_copy(self.image, self.drawable, self.layer_buffer(), path) else None
            if how is None:
                if fast_only:
                    return self.later(0, self.export)
                export_layer(self.drawable, exchange_precision(self.image.get_precision()), path)
                how = "exported by GIMP's TIFF exporter"
        except (IOError, OSError, GLib.Error) as e:
            self.exporting = False
            return self.failed(e)
        self.exporting = False
        self.src_path = path
        log("preview: layer %s in %.3f s" % (how, _now() - t0))
        if self.reachable or self.connecting:
            self.submit()          # behind GetInfo if it has not answered yet
        if how == "written":
            self.read_pixels()     # while the daemon reads the file, from the tiles the copy fetched

    def submit(self):
        it = self.iterations()
        if it in self.corrected:
            return self.render()
        if self.job is not None and self.job[1] == it:
            return                 # already queued (or being queued)
        cube = os.path.join(self.workdir, "correction-%d.cube" % it)
        self.t_job = _now()
        self.job = ("", it)
        self.client.export_cube_async(self.src_path, cube, {"iterations": str(it), "strength": "1.0"},
                                      lambda job_id, error: self.queued(job_id, it, cube, error), None)

    def queued(self, job_id, it, cube, error):
        if self.job != ("", it):
            if error is None:
                self.client.cancel(job_id)       # superseded meanwhile
            return
        if error is not None or self.closed:
            self.job = None
            if error is None:
                self.client.cancel(job_id)       # the dialog closed meanwhile
                log("preview: job %s cancelled" % job_id)
            return None if self.closed else self.failed(error)
        self.job = (job_id, it)
        log("preview: job %s (iterations %d), ExportCube sent %.3f s after the dialog opened"
            % (job_id, it, self.t_job - self.t_open))
        self.later(0, self.read_pixels)
        self.client.wait_async(job_id, lambda reply, error: self.finished(job_id, it, cube, reply, error), self.cancellable)

    def finished(self, job_id, it, cube, reply, error):
        if self.closed or self.job is None or self.job[0] != job_id:
            return
        self.job = None
        if error is not None:
            return self.failed(error)
        state, _path, code, message, elapsed_ms, details = reply
        if state != "done":
            return self.failed(DaemonJobFailed("the daemon's job ended %s%s: %s" % (
                state, " (%s)" % code if code else "", message or "no reason given")))
        self.read_pixels()
        t0 = _now()
        table, dmin, dmax = read_cube(cube)
        t1 = _now()
        self.corrected[it] = lut_lookup(table, dmin, dmax, self.before, self.geometry)
        self.lut_size = table.shape[0]
        log("preview: correction for %d iteration(s): daemon job %.3f s (in the daemon %.3f s: %s), LUT %d^3 read in "
            "%.3f s and applied in %.3f s" % (it, t0 - self.t_job, elapsed_ms / 1000.0,
                                              ", ".join("%s %s" % (k[3:], v) for k, v in sorted(details.items()) if k.startswith("ms.")),
                                              table.shape[0], t1 - t0, _now() - t1))
        if it == self.iterations():
            self.say("")
            self.render()
        else:
            self.update()

    def failed(self, error):
        if isinstance(error, GLib.Error) and error.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CANCELLED):
            return
        if isinstance(error, DaemonUnavailable):
            self.say("The LatentBalance daemon cannot be reached; OK tries to start it again.",
                     tooltip="%s\n%s" % (error, HOW_TO_START))
        else:
            text = error.message if isinstance(error, GLib.Error) else str(error)
            self.say("No preview: %s" % text.splitlines()[0] if text else "No preview", tooltip=text)
        log("preview: unavailable: %s" % error)
        self.later(0, self.read_pixels)       # the pane still shows the layer

    def cancel_job(self):
        if self.job is not None and self.job[0]:
            self.client.cancel(self.job[0])
            log("preview: job %s cancelled" % self.job[0])
        self.job = None

    # ---- showing it
    def preview_toggled(self):
        if self.toggle.get_active():
            self.update()
        self.render()

    def render(self):
        """Shows the original, the corrected layer at the current strength, or both split."""
        import numpy as np
        if self.before is None:
            return
        it, strength = self.iterations(), self.strength()
        corrected = self.corrected.get(it) if self.toggle.get_active() else None
        rgb = self.before if corrected is None else blend(self.before, corrected, strength)
        what = "original" if corrected is None else "corrected"
        if corrected is not None and self.split_toggle.get_active():
            xs = int(round(self.split * rgb.shape[1]))
            rgb = np.concatenate([self.before[:, :xs], rgb[:, xs:]], axis=1)
            rgb[:, xs:xs + 1] = 1.0                                  # the divider
            what = "split"
        if self.alpha is not None:                                   # over GIMP-like checks
            h, w = rgb.shape[:2]
            checks = np.where((np.arange(h)[:, None] // 8 + np.arange(w)[None, :] // 8) % 2 == 0, 0.6, 0.4)[:, :, None]
            rgb = rgb * self.alpha + checks * (1.0 - self.alpha)
        self.picture.set_from_pixbuf(make_pixbuf(to_u8(rgb)))
        self.showing = (what, it, strength) if corrected is not None else (what, None, None)
        self.later(50, self.report_shown)

    def report_shown(self):
        """Logs where the pane is on the screen and what it shows (the host test finds it in a screenshot)."""
        if self.showing == self.reported:
            return
        if self.picture.get_window() is None or not self.picture.get_mapped():
            return self.later(50, self.report_shown)       # rendered before the dialog showed: log it once it does
        self.reported = self.showing
        top = self.picture.get_toplevel()
        ax, ay = self.picture.translate_coordinates(top, 0, 0)[-2:]
        ox, oy = top.get_window().get_origin()[-2:]
        h, w = self.before.shape[:2]
        log("preview: shown %s at %d,%d %dx%d iterations %s strength %s, %.3f s after the dialog opened"
            % ((self.showing[0], ox + ax, oy + ay, w, h) + self.showing[1:] + (_now() - self.t_open,)))

    def on_drag(self, pane, event):
        if self.split_toggle.get_active() and self.before is not None:
            self.split = min(1.0, max(0.0, event.x / self.before.shape[1]))
            self.render()
        return False

    def close(self):
        """Stops everything the preview started: pending calls, the daemon's job, the temp folder."""
        self.closed = True
        for source in self.pending.values():
            GLib.source_remove(source)
        self.pending.clear()
        # an ExportCube call still unanswered: its job id arrives in a moment, and `queued` cancels the job
        deadline = _now() + 5.0
        while self.job is not None and not self.job[0] and _now() < deadline:
            GLib.MainContext.default().iteration(True)
        self.cancellable.cancel()
        self.cancel_job()
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)


def to_u8(values):
    """Floats in 0..1 to bytes as the engine rounds them (nearest, clamped)."""
    import numpy as np
    return np.clip(np.floor(values * 255.0 + 0.5), 0, 255).astype(np.uint8)


def make_pixbuf(rgb):
    from gi.repository import GdkPixbuf
    h, w, _ = rgb.shape
    return GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(rgb.tobytes()), GdkPixbuf.Colorspace.RGB, False, 8, w, h, w * 3)


class LatentColorBalance(Gimp.PlugIn):
    def do_query_procedures(self):
        return [PROC_NAME]

    def do_set_i18n(self, name):
        return False

    def do_create_procedure(self, name):
        procedure = Gimp.ImageProcedure.new(self, name, Gimp.PDBProcType.PLUGIN, self.run, None)
        procedure.set_image_types("RGB*")
        procedure.set_sensitivity_mask(Gimp.ProcedureSensitivityMask.DRAWABLE)
        procedure.set_menu_label("Latent Color Balance…")
        procedure.add_menu_path("<Image>/Filters/Colors")
        procedure.set_documentation(
            "Balance the colours of a layer with the LatentBalance engine",
            "Sends the layer (at the image's precision) to the LatentBalance daemon and adds the balanced "
            "result as a new layer '%s' above it, in one undo group. The source layer is not changed; "
            "alpha is kept. Needs the daemon (latentbalance daemon) on the session bus." % LAYER_NAME,
            name)
        procedure.set_attribution("LatentBalance", "LatentBalance", "2025")
        procedure.add_int_argument("iterations", "_Iterations",
                                   "Repeat the method on its own output N times", 1, 10, 1,
                                   GObject.ParamFlags.READWRITE)
        procedure.add_double_argument("strength", "Stre_ngth", "How much of the correction to apply",
                                      0.0, 1.0, 1.0, GObject.ParamFlags.READWRITE)
        procedure.add_file_argument("lut-path", "LUT _file (.cube)",
                                    "Also write the correction as a .cube 3D LUT to this file (optional)",
                                    Gimp.FileChooserAction.SAVE, True, None, GObject.ParamFlags.READWRITE)
        procedure.add_layer_return_value("layer", "Layer", "The new balanced layer", True,
                                         GObject.ParamFlags.READWRITE)
        return procedure

    def run(self, procedure, run_mode, image, drawables, config, run_data):
        if len(drawables) != 1 or not isinstance(drawables[0], Gimp.Layer):
            return self.fail(procedure, run_mode, Gimp.PDBStatusType.CALLING_ERROR,
                             "Latent Color Balance works on exactly one layer; select one layer.")
        drawable = drawables[0]

        if run_mode == Gimp.RunMode.INTERACTIVE:
            gi.require_version("GimpUi", "3.0")
            from gi.repository import GimpUi
            GimpUi.init(PROC_NAME)
            dialog = GimpUi.ProcedureDialog.new(procedure, config, "Latent Color Balance")
            dialog.fill(None)
            preview = None
            try:
                import numpy  # noqa: F401  (the preview's pixel work)
                preview = LivePreview(image, drawable, config)
                dialog.get_content_area().pack_start(preview.box, True, True, 0)
                dialog.get_content_area().reorder_child(preview.box, 0)
            except ImportError:
                log("no preview: python3-numpy is not installed")
            ok = dialog.run()
            if preview is not None:
                preview.close()
            dialog.destroy()
            if not ok:
                return procedure.new_return_values(Gimp.PDBStatusType.CANCEL, GLib.Error())

        iterations = config.get_property("iterations")
        strength = config.get_property("strength")
        lut_file = config.get_property("lut-path")
        lut_path = lut_file.get_path() if lut_file is not None else None

        Gimp.progress_init("Latent Color Balance")

        last_stage = [None]

        def progress(fraction, stage):
            Gimp.progress_update(fraction)
            if stage and stage != last_stage[0]:
                last_stage[0] = stage
                Gimp.progress_set_text("Latent Color Balance: %s" % stage)
                log("progress %3.0f%% %s" % (100 * fraction, stage))

        try:
            layer = balance_layer(image, drawable, iterations, strength, lut_path, progress)
        except DaemonUnavailable as e:
            return self.fail(procedure, run_mode, Gimp.PDBStatusType.EXECUTION_ERROR,
                             "The LatentBalance daemon is not running and could not be started: %s.\n%s"
                             % (e, HOW_TO_START))
        except DaemonJobFailed as e:
            return self.fail(procedure, run_mode, Gimp.PDBStatusType.EXECUTION_ERROR, str(e))
        except GLib.Error as e:
            return self.fail(procedure, run_mode, Gimp.PDBStatusType.EXECUTION_ERROR,
                             "LatentBalance daemon error: %s" % e.message)
        except (IOError, OSError) as e:
            return self.fail(procedure, run_mode, Gimp.PDBStatusType.EXECUTION_ERROR,
                             "Latent Color Balance: %s" % e)

        if run_mode == Gimp.RunMode.INTERACTIVE:
            Gimp.displays_flush()
        return Gimp.ValueArray.new_from_values([
            GObject.Value(Gimp.PDBStatusType, Gimp.PDBStatusType.SUCCESS),
            GObject.Value(Gimp.Layer, layer),
        ])

    @staticmethod
    def fail(procedure, run_mode, status, message):
        if run_mode == Gimp.RunMode.INTERACTIVE:
            Gimp.message(message)
        else:
            sys.stderr.write("latent-color-balance: %s\n" % message)
        return procedure.new_return_values(status, GLib.Error.new_literal(Gimp.PlugIn.error_quark(), message, 0))


Gimp.main(LatentColorBalance.__gtype__, sys.argv)
