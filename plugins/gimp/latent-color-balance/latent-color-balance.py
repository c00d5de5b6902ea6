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
import sys
import tempfile
import time

import gi
gi.require_version("Gimp", "3.0")
from gi.repository import Gimp, Gio, GLib, GObject  # noqa: E402

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
