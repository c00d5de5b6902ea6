#!/usr/bin/env bash
# End-to-end test of the GIMP 3 plug-in against the real LatentBalance daemon (run as root; CI calls it).
#
#   tests/gimp/run-gimp-test.sh [--bench]
#
# 1. builds the CLI (dotnet build, Release) unless LATENTBALANCE_CLI names a latentbalance.dll or binary
# 2. builds or reuses the Debian trixie chroot with GIMP 3 (.ci/gimp-chroot.sh; $GIMP_CHROOT to move it)
# 3. makes a work folder /tmp/lb-gimp-test.XXXXXX, bind-mounted at the same path inside the chroot (the
#    daemon on the host and GIMP in the chroot see the same file paths), plus /proc and /dev
# 4. installs the plug-in into a fresh GIMP profile (HOME in the work folder) with `dotnet cake --target=install-gimp`
# 5. starts a private D-Bus session bus on the host (socket in the work folder, shared into the chroot)
# 6. GIMP batch runs (tests/gimp/gimp_batch_test.py): prepare lossless 8-bit and 16-bit+alpha inputs; the
#    daemon is not reachable -> the procedure fails with instructions; then an activation file is added to
#    the bus, so the next call starts the real daemon (`latentbalance daemon`) by D-Bus activation, and
#    the 8-bit, 16-bit and float checks compare the new layers with `latentbalance balance` outputs
# 7. --bench (or LB_GIMP_BENCH=1): also a 24 MP layer, printing the plug-in's own timings next to the
#    daemon's
# LB_GIMP_PHASES="prepare dialog" (any of prepare unreachable dialog-unreachable check dialog bench) runs only
# those phases, in the usual order (prepare always runs: the others need its files); without `check`, the daemon
# is started by activation and warmed with one CLI balance through it before `dialog`, so the preview meets a
# warm daemon as in the full run. Default: all of them.
# Exit status 0 only if every check passed. Everything mounted or started here is undone on exit.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SHARED="$(cd "$ROOT/.." && pwd)/shared"
BENCH="${LB_GIMP_BENCH:-0}"
[ "${1:-}" = "--bench" ] && BENCH=1
PHOTO="${LB_GIMP_PHOTO:-$SHARED/data/photos/debian-skimage-data/chelsea.jpg}"
PHASES=" ${LB_GIMP_PHASES:-unreachable dialog-unreachable check dialog} "
[ "$BENCH" = 1 ] && PHASES="$PHASES bench "
want() { case "$PHASES" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

log() { echo "gimp-test: $*" >&2; }
die() { echo "gimp-test: FAILED: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (chroot, mounts)"
[ -f "$PHOTO" ] || die "test photo $PHOTO not found (../shared/data/photos)"
command -v dbus-daemon >/dev/null || die "dbus-daemon not found (apt-get install dbus-daemon)"

# --- 1. the CLI / daemon --------------------------------------------------------------------------------
if [ -n "${LATENTBALANCE_CLI:-}" ]; then
  CLI_PATH="$LATENTBALANCE_CLI"
else
  log "building the CLI (Release)"
  dotnet build "$ROOT/engine/LatentBalance.Cli" -c Release --nologo -v q >/tmp/lb-gimp-test-build.log 2>&1 \
    || { tail -n 30 /tmp/lb-gimp-test-build.log >&2; die "dotnet build failed"; }
  CLI_PATH="$ROOT/engine/LatentBalance.Cli/bin/Release/net10.0/latentbalance.dll"
fi
[ -e "$CLI_PATH" ] || die "CLI not found at $CLI_PATH"
case "$CLI_PATH" in
  *.dll) CLI=(dotnet "$CLI_PATH") ;;
  *) CLI=("$CLI_PATH") ;;
esac
"${CLI[@]}" daemon --help >/dev/null 2>&1 || die "'latentbalance daemon' is not available in $CLI_PATH"

# --- 2. chroot -----------------------------------------------------------------------------------------
CHROOT="$("$ROOT/.ci/gimp-chroot.sh" | tail -n 1)"
[ -x "$CHROOT/usr/bin/gimp-console-3.0" ] || die "no gimp-console-3.0 in $CHROOT"

# --- 3. work folder, mounts, cleanup -------------------------------------------------------------------
W="$(mktemp -d /tmp/lb-gimp-test.XXXXXX)"
chmod 755 "$W"
MOUNTS=()
PIDS=()
cleanup() {
  local rc=$? i
  trap '' PIPE INT TERM   # finish the cleanup even if our output pipe is gone
  for ((i=${#PIDS[@]}-1; i>=0; i--)); do kill "${PIDS[$i]}" 2>/dev/null || true; done
  # the daemon was started by the bus (activation): stop it by the pid it logged
  if [ -f "$W/daemon.log" ]; then
    local dpid
    dpid=$(grep -o '"event":"daemon_starting","pid":[0-9]*' "$W/daemon.log" | grep -o '[0-9]*$' | head -n1 || true)
    [ -n "$dpid" ] && kill "$dpid" 2>/dev/null || true
  fi
  for ((i=${#MOUNTS[@]}-1; i>=0; i--)); do umount -R -l "${MOUNTS[$i]}" 2>/dev/null || true; done
  if [ -n "$(findmnt -rn -o TARGET | grep -F "$CHROOT$W" || true)" ]; then
    echo "gimp-test: warning: $CHROOT$W still mounted; leaving $W in place" >&2
  else
    rmdir "$CHROOT$W" 2>/dev/null || true
    [ "${LB_GIMP_KEEP:-0}" = 1 ] && echo "gimp-test: kept $W" >&2 || rm -rf "$W"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$CHROOT$W"
mount --bind "$W" "$CHROOT$W"; MOUNTS+=("$CHROOT$W")
if ! mountpoint -q "$CHROOT/proc"; then mount -t proc proc "$CHROOT/proc"; MOUNTS+=("$CHROOT/proc"); fi
if ! mountpoint -q "$CHROOT/dev"; then
  mount --rbind /dev "$CHROOT/dev"; mount --make-rslave "$CHROOT/dev"; MOUNTS+=("$CHROOT/dev")
fi

# --- 4. plug-in into a fresh profile --------------------------------------------------------------------
# the real install task, pointed at the chroot user's plug-ins folder
PLUG_DIR="$W/home/.config/GIMP/3.0/plug-ins"
mkdir -p "$PLUG_DIR"
(cd "$ROOT" && dotnet tool restore >/dev/null && dotnet cake --target=install-gimp --gimp-plugins="$PLUG_DIR" \
  >"$W/install-gimp.log" 2>&1) || { tail -n 20 "$W/install-gimp.log" >&2; die "dotnet cake --target=install-gimp failed"; }
[ -x "$PLUG_DIR/latent-color-balance/latent-color-balance.py" ] || die "install-gimp did not install an executable plug-in"
cp "$ROOT/tests/gimp/gimp_batch_test.py" "$ROOT/tests/gimp/dialog_watch.py" "$W/"
# the photo with a warm cast (gains 1.12, 1.0, 0.78), so that the balance has something to correct: the
# default pack leaves a balanced photo (nearly) alone, and the plug-in-vs-CLI checks must check a correction
vips linear "$PHOTO" "$W/photo.jpg[Q=95]" "1.12 1.0 0.78" "0 0 0" --uchar || die "could not make the test photo from $PHOTO"

# --- 5. private session bus (activation files in $W/services, empty for now) ----------------------------
mkdir -p "$W/services"
cat >"$W/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=$W/bus</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$W/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
dbus-daemon --config-file="$W/bus.conf" --nofork --print-address >"$W/bus.addr" 2>"$W/bus.err" &
PIDS+=($!)
for _ in $(seq 50); do [ -S "$W/bus" ] && break; sleep 0.1; done
[ -S "$W/bus" ] || { cat "$W/bus.err" >&2; die "private dbus-daemon did not start"; }
export DBUS_SESSION_BUS_ADDRESS="unix:path=$W/bus"

# Interactive run mode needs a display: a private Xvfb inside the chroot, and a watcher
# (tests/gimp/dialog_watch.py) that drives the plug-in's dialog with xdotool and takes screenshots.
cat >"$W/with-x.sh" <<'EOF'
#!/bin/sh
N=$((100 + $$ % 800))   # a display of its own, so parallel runs do not meet
Xvfb ":$N" -screen 0 1280x1024x24 -nolisten tcp >"$LB_TEST_DIR/xvfb.log" 2>&1 &
XPID=$!
export DISPLAY=":$N"
for i in $(seq 50); do [ -S "/tmp/.X11-unix/X$N" ] && break; sleep 0.1; done
python3 "$LB_TEST_DIR/dialog_watch.py" >"$LB_TEST_DIR/dialog-watch-$LB_TEST_PHASE.log" 2>&1 &
WATCH=$!
timeout -k 10 400 "$@"
rc=$?
for i in $(seq 50); do kill -0 "$WATCH" 2>/dev/null || break; sleep 0.2; done   # let the watcher finish its last step
kill "$WATCH" "$XPID" 2>/dev/null
exit $rc
EOF
chmod +x "$W/with-x.sh"

gimp_batch() {  # phase [extra env...]
  local phase=$1; shift
  log "GIMP batch: $phase"
  local t0=$SECONDS rc=0 wrap=()
  case "$phase" in dialog*) wrap=(sh "$W/with-x.sh") ;; esac
  chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$W/home" LANG=C.UTF-8 \
      DBUS_SESSION_BUS_ADDRESS="unix:path=$W/bus" LATENTBALANCE_TMPDIR="$W" TMPDIR="$W" \
      LB_TEST_DIR="$W" LB_TEST_PHASE="$phase" "$@" "${wrap[@]}" \
      gimp-console-3.0 -i -d -f --batch-interpreter=python-fu-eval \
      -b "exec(open('$W/gimp_batch_test.py').read())" --quit >"$W/gimp-$phase.log" 2>&1 || rc=$?
  grep -E '^CHECK|latent-color-balance:|Traceback|Error|FAILED' "$W/gimp-$phase.log" | grep -v '^CHECK ok' >&2 || true
  grep -c '^CHECK ok' "$W/gimp-$phase.log" | sed "s/^/gimp-test: $phase: checks passed: /" >&2
  [ $rc = 0 ] && grep -q "^CHECK phase $phase passed" "$W/gimp-$phase.log" \
    || { tail -n 40 "$W/gimp-$phase.log" >&2; die "GIMP batch phase '$phase' failed (exit $rc)"; }
  log "$phase took $((SECONDS - t0)) s"
}

# --- 6. phases -------------------------------------------------------------------------------------------
gimp_batch prepare
if want unreachable; then gimp_batch unreachable; fi
if want dialog-unreachable; then
  gimp_batch dialog-unreachable LATENTBALANCE_GIMP_VERBOSE=1
  grep -q '^dialog-watch pressed OK' "$W/dialog-watch-dialog-unreachable.log" \
    || { cat "$W/dialog-watch-dialog-unreachable.log" >&2; die "the dialog without a daemon was not driven to its end"; }
  log "no daemon, interactive: $(grep -m1 'status line' "$W/dialog-watch-dialog-unreachable.log")"
fi

IN_PROCESS=()
"${CLI[@]}" balance --help 2>&1 | grep -q -- '--in-process' && IN_PROCESS=(--in-process)
if want check; then
  log "CLI reference outputs"
  "${CLI[@]}" balance "$W/photo8.png" -o "$W/cli8.png" "${IN_PROCESS[@]}" >&2 || die "CLI balance (8-bit) failed"
  "${CLI[@]}" balance "$W/photo16.png" -o "$W/cli16.png" "${IN_PROCESS[@]}" >&2 || die "CLI balance (16-bit) failed"
fi

# D-Bus activation: the next call to org.latentbalance.Engine1 makes the bus start the daemon.
cat >"$W/start-daemon.sh" <<EOF
#!/bin/sh
exec $(printf '%q ' "${CLI[@]}") daemon --bus-address "unix:path=$W/bus" --idle-exit 600 >>"$W/daemon.log" 2>&1
EOF
chmod +x "$W/start-daemon.sh"
printf '[D-BUS Service]\nName=org.latentbalance.Engine1\nExec=%s\n' "$W/start-daemon.sh" \
  >"$W/services/org.latentbalance.Engine1.service"
gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.ReloadConfig >/dev/null

if want check; then
  gimp_batch check LATENTBALANCE_GIMP_VERBOSE=1
else
  # no check phase: start the daemon by activation (GetInfo) and warm it with one balance through it
  gdbus call --session --timeout 120 --dest org.latentbalance.Engine1 --object-path /org/latentbalance/Engine1 \
    --method org.latentbalance.Engine1.GetInfo >/dev/null || die "GetInfo did not start the daemon"
  "${CLI[@]}" balance "$W/photo8.png" -o "$W/warm.png" >&2 || die "warm-up balance through the daemon failed"
fi
grep -q '"event":"daemon_ready"' "$W/daemon.log" || die "the daemon was not started by D-Bus activation"
log "daemon was started by D-Bus activation"

if want dialog; then
  uptime | sed 's/^/gimp-test: load before the dialog phase: /' >&2
  gimp_batch dialog LATENTBALANCE_GIMP_VERBOSE=1
  grep -q '^dialog-watch done' "$W/dialog-watch-dialog.log" || { cat "$W/dialog-watch-dialog.log" >&2; die "the dialog was not driven to its end"; }
  grep '^dialog-watch' "$W/dialog-watch-dialog.log" | sed 's/^/gimp-test: interactive: /' >&2
  grep -q '"event":"job_cancel_requested"' "$W/daemon.log" || die "closing the dialog did not cancel the preview's job in the daemon"
  # the preview's fast copy of a layer is the image OK's export gives the daemon: the CLI (a fresh process per
  # file, in-process, so no job sees another's state) makes the identical .cube from both
  for n in photo8 photo16; do
    for k in gimp fast; do
      "${CLI[@]}" balance "$W/copy-$k/$n.tif" -o "$W/copy-$k/$n.out.tif" --lut "$W/copy-$k/$n.cube" "${IN_PROCESS[@]}" \
        >"$W/copy-$k/$n.log" 2>&1 || { cat "$W/copy-$k/$n.log" >&2; die "CLI balance of the $k copy of $n failed"; }
    done
    cmp -s "$W/copy-gimp/$n.cube" "$W/copy-fast/$n.cube" \
      || die "the preview's fast copy of $n gives another .cube than GIMP's export of it"
    log "the preview's fast copy of $n gives the identical .cube as GIMP's export ($(wc -c <"$W/copy-fast/$n.cube") bytes)"
  done
  uptime | sed 's/^/gimp-test: load after the dialog phase: /' >&2
fi

if want bench; then
  gimp_batch bench LATENTBALANCE_GIMP_VERBOSE=1
  grep -q 'latent-color-balance: progress' "$W/gimp-bench.log" || die "no progress reached the plug-in during the 24 MP jobs"
  grep -h 'timings:\|x4000, ' "$W/gimp-bench.log" | sed 's/^/gimp-test: 24 MP /' >&2
fi
log "all GIMP plug-in checks passed"
