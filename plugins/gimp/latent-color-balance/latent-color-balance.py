#!/usr/bin/env python3
# -*- coding: utf-8 -*-
#
# Latent Color Balance: a GIMP 3 front end for the LatentBalance daemon.
#
# Filters > Colors > Latent Color Balance... sends the active layer to the daemon
# (org.latentbalance.Engine1 on the session bus) as a file at the image's own precision
# (8-bit, 16-bit or 32-bit float), waits for the balanced file and adds it as a new layer
# "Latent Color Balance" above the source, in one undo group. The source layer is never changed.
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
import struct
import sys
import tempfile
import time

import gi
gi.require_version("Gimp", "3.0")
gi.require_version("Gegl", "0.4")
from gi.repository import Gimp, Gegl, Gio, GLib, GObject  # noqa: E402

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

# Rows per chunk when moving pixels between GIMP and the exchange files (bounds memory on big layers).
CHUNK_ROWS = 256


def _now():
    return time.perf_counter()


class DaemonUnavailable(Exception):
    """The daemon cannot be reached (not running and not activatable, or no session bus)."""


class DaemonJobFailed(Exception):
    """The daemon answered but the job failed or was cancelled."""


# --------------------------------------------------------------------------------------------------------
# Pixel formats: the image precision decides the exchange format (8-bit, 16-bit or float).
# Pixels are read as non-linear sRGB ("R'G'B'"): babl converts from the image's own colour space and
# TRC, which is the encoding the engine works in; the result is converted back the same way.
# --------------------------------------------------------------------------------------------------------

class SampleKind:
    def __init__(self, name, bits, tiff_sample_format, babl_suffix):
        self.name, self.bits, self.tiff_sample_format, self.babl_suffix = name, bits, tiff_sample_format, babl_suffix

    @property
    def bytes(self):
        return self.bits // 8

    def babl(self, has_alpha):
        return ("R'G'B'A " if has_alpha else "R'G'B' ") + self.babl_suffix


U8 = SampleKind("8-bit", 8, 1, "u8")
U16 = SampleKind("16-bit", 16, 1, "u16")
F32 = SampleKind("32-bit float", 32, 3, "float")


def sample_kind_for(precision):
    """8-bit images travel as 8-bit, 16-bit as 16-bit; 32-bit integer, half, float and double as float."""
    component = {
        Gimp.Precision.U8_LINEAR: U8, Gimp.Precision.U8_NON_LINEAR: U8, Gimp.Precision.U8_PERCEPTUAL: U8,
        Gimp.Precision.U16_LINEAR: U16, Gimp.Precision.U16_NON_LINEAR: U16, Gimp.Precision.U16_PERCEPTUAL: U16,
    }
    return component.get(precision, F32)


# --------------------------------------------------------------------------------------------------------
# Exchange file: a plain uncompressed little-endian TIFF (RGB or RGBA with unassociated alpha), written
# strip by strip straight from GEGL so a 24 MP layer never sits in Python memory at once.
# --------------------------------------------------------------------------------------------------------

def write_layer_tiff(buffer, rect, kind, has_alpha, path):
    width, height = rect.width, rect.height
    spp = 4 if has_alpha else 3
    row_bytes = width * spp * kind.bytes
    strip_rows = max(1, min(height, (1 << 20) // max(1, row_bytes)))  # strips of about 1 MiB
    n_strips = (height + strip_rows - 1) // strip_rows
    data_offset = 8
    data_bytes = row_bytes * height
    ifd_offset = data_offset + data_bytes
    ifd_offset += ifd_offset & 1
    if ifd_offset + 4096 + 8 * n_strips >= 1 << 32:
        raise IOError("the layer (%dx%d, %s, %d channels) is larger than the 4 GiB a classic TIFF can hold"
                      % (width, height, kind.name, spp))

    entries = []      # (tag, type, count, values)
    SHORT, LONG = 3, 4
    entries.append((256, LONG, 1, [width]))
    entries.append((257, LONG, 1, [height]))
    entries.append((258, SHORT, spp, [kind.bits] * spp))
    entries.append((259, SHORT, 1, [1]))            # no compression
    entries.append((262, SHORT, 1, [2]))            # RGB
    entries.append((273, LONG, n_strips, [data_offset + i * strip_rows * row_bytes for i in range(n_strips)]))
    entries.append((277, SHORT, 1, [spp]))
    entries.append((278, LONG, 1, [strip_rows]))
    entries.append((279, LONG, n_strips,
                    [min(strip_rows, height - i * strip_rows) * row_bytes for i in range(n_strips)]))
    entries.append((284, SHORT, 1, [1]))            # chunky
    if has_alpha:
        entries.append((338, SHORT, 1, [2]))        # unassociated alpha
    entries.append((339, SHORT, spp, [kind.tiff_sample_format] * spp))

    ifd_size = 2 + 12 * len(entries) + 4
    extra_offset = ifd_offset + ifd_size
    ifd = bytearray(struct.pack("<H", len(entries)))
    extra = bytearray()
    for tag, typ, count, values in entries:
        fmt = "<H" if typ == SHORT else "<I"
        packed = b"".join(struct.pack(fmt, v) for v in values)
        if len(packed) <= 4:
            ifd += struct.pack("<HHI", tag, typ, count) + packed.ljust(4, b"\0")
        else:
            ifd += struct.pack("<HHII", tag, typ, count, extra_offset + len(extra))
            extra += packed
            if len(extra) & 1:
                extra += b"\0"
    ifd += struct.pack("<I", 0)

    fmt = kind.babl(has_alpha)
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(b"II" + struct.pack("<HI", 42, ifd_offset))
        for y in range(0, height, CHUNK_ROWS):
            rows = min(CHUNK_ROWS, height - y)
            chunk = buffer.get(Gegl.Rectangle.new(rect.x, rect.y + y, width, rows), 1.0, fmt, Gegl.AbyssPolicy.NONE)
            if len(chunk) != rows * row_bytes:
                raise IOError("GEGL returned %d bytes for %d rows of %s, expected %d"
                              % (len(chunk), rows, fmt, rows * row_bytes))
            f.write(chunk)
        if f.tell() < ifd_offset:
            f.write(b"\0" * (ifd_offset - f.tell()))
        f.write(ifd)
        f.write(extra)
    os.replace(tmp, path)


def copy_pixels(src_buffer, dst_buffer, width, height, fmt, dst_x=0, dst_y=0):
    for y in range(0, height, CHUNK_ROWS):
        rows = min(CHUNK_ROWS, height - y)
        chunk = src_buffer.get(Gegl.Rectangle.new(0, y, width, rows), 1.0, fmt, Gegl.AbyssPolicy.NONE)
        dst_buffer.set(Gegl.Rectangle.new(dst_x, dst_y + y, width, rows), fmt, chunk)


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

    def call(self, method, args, reply_type, timeout_ms=30000):
        try:
            # No NO_AUTO_START flag: the bus starts the daemon when its activation file is installed.
            reply = self.bus.call_sync(BUS_NAME, OBJECT_PATH, INTERFACE, method, args,
                                       GLib.VariantType.new(reply_type), Gio.DBusCallFlags.NONE,
                                       timeout_ms, None)
        except GLib.Error as e:
            name = remote_error_name(e)
            if name in UNREACHABLE_ERRORS or name.startswith("org.freedesktop.DBus.Error.Spawn") \
                    or (not name and e.matches(Gio.io_error_quark(), Gio.IOErrorEnum.CLOSED)):
                raise DaemonUnavailable("%s (%s)" % (BUS_NAME, e.message))
            raise
        return reply.unpack()

    def info(self):
        # The first call activates the daemon if needed; loading it may take a while.
        version, device, _models, filters, protocol, _details = self.call("GetInfo", None, "(ssasasua{ss})", 120000)
        if protocol != PROTOCOL_VERSION:
            raise DaemonUnavailable("the daemon speaks protocol %d, this plug-in protocol %d: update one of them"
                                    % (protocol, PROTOCOL_VERSION))
        return version, device

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


class ResultReader:
    """The daemon's output file, read by GEGL's TIFF loader straight into the new layer's buffer, or (when
    LATENTBALANCE_GIMP_IMPORT=gimp, or GEGL cannot read it) through GIMP's own file loader."""

    def __init__(self, path):
        self.path = path
        self.graph = self.source = self.image = None
        if os.environ.get("LATENTBALANCE_GIMP_IMPORT", "gegl") != "gimp":
            try:
                Gegl.init(None)  # libgimp does not initialise GEGL's operations for Python plug-ins
                graph = Gegl.Node.new()
                source = graph.create_child("gegl:tiff-load")
                source.set_property("path", path)
                box = source.get_bounding_box()
                if box.width > 0 and box.height > 0:
                    self.graph, self.source, self.size = graph, source, (box.width, box.height)
                    return
            except Exception as e:  # missing operation or unreadable by GEGL: GIMP's loader below
                log("gegl:tiff-load cannot read %s (%s); using GIMP's loader" % (path, e))
        self.image = Gimp.file_load(Gimp.RunMode.NONINTERACTIVE, Gio.File.new_for_path(path))
        layers = self.image.get_layers()
        if not layers:
            self.close()
            raise IOError("the daemon's output %s has no layer" % path)
        self.layer = layers[0]
        self.size = (self.layer.get_width(), self.layer.get_height())

    def write_into(self, dst_buffer, fmt):
        if self.source is not None:
            sink = self.graph.create_child("gegl:write-buffer")
            sink.set_property("buffer", dst_buffer)
            self.source.link(sink)
            sink.process()
        else:
            copy_pixels(self.layer.get_buffer(), dst_buffer, self.size[0], self.size[1], fmt)

    def close(self):
        if self.image is not None:
            self.image.delete()
            self.image = None


def add_result_layer(image, drawable, result_path, fmt):
    """Adds the result as a new layer right above `drawable` (same offsets, type and alpha), in one undo group."""
    width, height = drawable.get_width(), drawable.get_height()
    reader = ResultReader(result_path)
    try:
        if reader.size != (width, height):
            raise IOError("the daemon's output %s is %dx%d, the layer %dx%d"
                          % (result_path, reader.size[0], reader.size[1], width, height))
        image.undo_group_start()
        try:
            layer = Gimp.Layer.new(image, LAYER_NAME, width, height, drawable.type(), 100.0, Gimp.LayerMode.NORMAL)
            _, ox, oy = drawable.get_offsets()
            image.insert_layer(layer, drawable.get_parent(), image.get_item_position(drawable))
            layer.set_offsets(ox, oy)
            dst_buffer = layer.get_buffer()
            reader.write_into(dst_buffer, fmt)
            dst_buffer.flush()
            layer.update(0, 0, width, height)
        finally:
            image.undo_group_end()
        return layer
    finally:
        reader.close()


def balance_layer(image, drawable, iterations, strength, lut_path, progress):
    """Does the work; returns the new layer. Raises DaemonUnavailable, DaemonJobFailed, GLib.Error, IOError."""
    t0 = _now()
    width, height = drawable.get_width(), drawable.get_height()
    has_alpha = drawable.has_alpha()
    kind = sample_kind_for(image.get_precision())
    fmt = kind.babl(has_alpha)
    log("%s: %dx%d, %s%s" % (drawable.get_name(), width, height, kind.name, " + alpha" if has_alpha else ""))

    client = EngineClient()
    version, device = client.info()
    log("daemon %s on %s" % (version, device))
    t_connect = _now()

    workdir = tempfile.mkdtemp(prefix="latent-color-balance-", dir=os.environ.get("LATENTBALANCE_TMPDIR") or None)
    try:
        src_path = os.path.join(workdir, "layer.tif")
        out_path = os.path.join(workdir, "balanced.tif")
        progress(0.0, "exporting the layer")
        src_buffer = drawable.get_buffer()
        write_layer_tiff(src_buffer, Gegl.Rectangle.new(0, 0, width, height), kind, has_alpha, src_path)
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
        layer = add_result_layer(image, drawable, result_path or out_path, fmt)
        t_import = _now()
        progress(1.0, "done")
        log("timings: connect %.3f s, export %.3f s, daemon %.3f s (job %.3f s), import %.3f s, "
            "plug-in overhead %.3f s, total %.3f s"
            % (t_connect - t0, t_export - t_connect, t_daemon - t_export, elapsed_ms / 1000.0, t_import - t_daemon,
               (t_export - t0) + (t_import - t_daemon), t_import - t0))
        return layer
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


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
            ok = dialog.run()
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
