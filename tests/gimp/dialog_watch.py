# Drives the Latent Color Balance dialog like a user, under the private Xvfb of tests/gimp/run-gimp-test.sh
# (started by its with-x.sh, inside the chroot, next to gimp-console; needs xdotool and Gdk). It follows the
# plug-in's verbose log (LATENTBALANCE_GIMP_VERBOSE=1, in $LB_TEST_DIR/gimp-$LB_TEST_PHASE.log) to know what the
# dialog shows, and takes screenshots of the X screen. One scenario per dialog that opens, in order:
#
#   dialog              1. preview: wait for the corrected preview, screenshot, Strength 0.25 (Alt+N, type), wait,
#                          screenshot; crops of the preview pane -> preview-1.png / preview-2.png, their strengths
#                          -> previews.txt; OK (Alt+O). gimp_batch_test.py compares them with real results.
#                       2. cancel (24 MP layer): wait for the corrected preview, Strength 1, Split view (Alt+V), a screenshot
#                          of the dialog -> preview-24mp.png, Iterations 2 (a new job), then Escape while it runs
#                       3. fallback (a float layer): the preview exports it with GIMP's exporter; wait for the corrected
#                          preview, Escape
#   dialog-unreachable  1. unreachable: wait for the one-line status, screenshot, OK (Alt+O)
#
# Findings go to stdout ("dialog-watch ..."); the batch test checks the results.

import os
import re
import subprocess
import sys
import time

import gi
gi.require_version("Gdk", "3.0")
from gi.repository import Gdk  # noqa: E402

D = os.environ["LB_TEST_DIR"]
PHASE = os.environ["LB_TEST_PHASE"]
LOG = os.path.join(D, "gimp-%s.log" % PHASE)
SHOWN = re.compile(r"preview: shown (\w+) at (\d+),(\d+) (\d+)x(\d+) iterations (\S+) strength (\S+), ([0-9.]+) s after")


def say(msg):
    print("dialog-watch %s" % msg)
    sys.stdout.flush()


def xdo(*args):
    return subprocess.run(["xdotool"] + list(args), capture_output=True, text=True).stdout.strip()


class Log:
    def __init__(self):
        self.pos = 0

    def wait(self, pattern, timeout):
        """The first match of `pattern` in the log after what was read so far; None after `timeout` s."""
        rx = re.compile(pattern)
        end = time.time() + timeout
        while time.time() < end:
            with open(LOG, errors="replace") as f:
                f.seek(self.pos)
                text = f.read()
            m = rx.search(text)
            if m:
                self.pos += len(text[:m.end()].encode("utf-8", errors="replace"))
                return m
            time.sleep(0.1)
        return None


def dialog_window(timeout=180):
    end = time.time() + timeout
    while time.time() < end:
        wid = xdo("search", "--name", "^Latent Color Balance$").split("\n")[0]
        if wid:
            return wid
        time.sleep(0.2)
    raise SystemExit("dialog-watch: no dialog window appeared")


def screenshot(name, crop=None):
    time.sleep(0.3)   # let the X server finish drawing
    root = Gdk.get_default_root_window()
    shot = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
    shot.savev(os.path.join(D, name + ".png"), "png", [], [])
    if crop is not None:
        x, y, w, h = crop
        shot.new_subpixbuf(x, y, w, h).savev(os.path.join(D, name.replace("shot", "preview") + ".png"), "png", [], [])


def keys(wid, *seq):
    xdo("windowfocus", "--sync", wid)
    for k in seq:
        if k.startswith("type:"):
            xdo("type", "--delay", "50", k[5:])
        else:
            xdo("key", k)
        time.sleep(0.2)


def shown(log, what, strength=None, timeout=120):
    m = log.wait(r"preview: shown %s at [^\n]* strength %s, [0-9.]+ s after" % (what, re.escape(strength) if strength else r"\S+"), timeout)
    if m is None:
        raise SystemExit("dialog-watch: the preview never showed %s%s" % (what, " at strength " + strength if strength else ""))
    m = SHOWN.search(m.group(0))
    say("shown %s at %s,%s %sx%s iterations %s strength %s, %s s after the dialog opened" % m.groups())
    return m


def preview(log):
    wid = dialog_window()
    first = shown(log, "corrected")
    crop = tuple(int(v) for v in first.groups()[1:5])
    screenshot("shot-1", crop)
    keys(wid, "alt+n", "ctrl+a", "type:0.25", "Tab")
    second = shown(log, "corrected", "0.25", timeout=30)
    screenshot("shot-2", tuple(int(v) for v in second.groups()[1:5]))
    with open(os.path.join(D, "previews.txt"), "w") as f:
        f.write("preview-1.png %s %s\npreview-2.png %s %s\n" % (first.group(7), first.group(6), second.group(7), second.group(6)))
    keys(wid, "alt+o")
    say("pressed OK")


def cancel(log):
    wid = dialog_window()
    shown(log, "corrected", timeout=120)
    keys(wid, "alt+n", "ctrl+a", "type:1", "Tab", "alt+v")
    shown(log, "split", "1.0", timeout=30)
    geometry = dict(line.split("=") for line in xdo("getwindowgeometry", "--shell", wid).split())
    screenshot("shot-24mp", tuple(int(geometry[k]) for k in ("X", "Y", "WIDTH", "HEIGHT")))
    keys(wid, "alt+i", "ctrl+a", "type:2", "Tab")
    if log.wait(r"preview: job \S+ \(iterations 2\)", 60) is None:
        raise SystemExit("dialog-watch: changing Iterations started no new job")
    keys(wid, "Escape")
    say("pressed Escape while the iterations-2 job ran")


def fallback(log):
    # a float layer: the preview's fast copy does not apply, GIMP's exporter writes the layer (once the dialog shows)
    wid = dialog_window()
    if log.wait(r"preview: layer exported by GIMP's TIFF exporter", 60) is None:
        raise SystemExit("dialog-watch: the float layer was not exported by GIMP's exporter")
    m = shown(log, "corrected", timeout=120)
    keys(wid, "Escape")
    say("float layer: GIMP's exporter, corrected preview %s s after the dialog opened; pressed Escape" % m.group(8))


def unreachable(log):
    wid = dialog_window()
    m = log.wait(r"preview: status: (The LatentBalance daemon cannot be reached[^\n]*)", 60)
    if m is None:
        raise SystemExit("dialog-watch: the dialog never said that the daemon cannot be reached")
    say("status line: %s" % m.group(1))
    screenshot("shot-unreachable")
    keys(wid, "alt+o")
    say("pressed OK")


SCENARIOS = {"dialog": [preview, cancel, fallback], "dialog-unreachable": [unreachable]}[PHASE]
log = Log()
for scenario in SCENARIOS:
    scenario(log)
    # the next dialog is a new window: wait for this one to close
    end = time.time() + 120
    while xdo("search", "--name", "^Latent Color Balance$") and time.time() < end:
        time.sleep(0.2)
say("done")
