#!/bin/bash
# Issue 16 packaging measurements, in one run (docs/BENCHMARKS.md, "Packaging and start-up"):
#   1. publish size, lean (ONNX Runtime only) and with libtorch (du -sh)
#   2. cold start to the bus name owned: D-Bus activation (StartServiceByName on a private session bus that finds
#      the activation file in its XDG_DATA_HOME) until the bus answers, i.e. the name is owned; median of RUNS.
#      OLD_CLI=path/to/latentbalance.dll (a build from before the change) is measured interleaved, for the ratio.
#   3. the lean daemon's memory: VmRSS after the models load, after 100 balances (photos from ../shared), and VmHWM (peak)
# usage: tests/deploy/measure.sh [RUNS=5] [PHOTOS=100]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${1:-5}; PHOTOS=${2:-100}
SHARED=$(cd "$ROOT/../shared" && pwd)
W=$(mktemp -d /tmp/lb-measure.XXXXXX)
BUS_PID=
cleanup() { [ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null; rm -rf "$W"; }
trap cleanup EXIT
export LATENTBALANCE_MODEL_MIRROR=$SHARED/models LATENTBALANCE_CACHE=$W/cache
unset LATENTBALANCE_PACK LATENTBALANCE_FILTER_PATH

echo "== 1. publish size (linux-x64 natives only)"
for kind in lean full; do
  torch=false; [ $kind = full ] && torch=true
  flock /tmp/lb-build.lock dotnet publish "$ROOT/engine/LatentBalance.Cli/LatentBalance.Cli.csproj" -c Release -o "$W/$kind" \
    -p:LatentBalancePublishTorch=$torch -p:UseAppHost=false >/dev/null
  echo "$kind: $(du -sh "$W/$kind" | cut -f1)  ($(find "$W/$kind" -type f | wc -l) files)"
done
rm -rf "$W/full"

start_bus() {  # $1 = dll the activation file starts
  mkdir -p "$W/data/dbus-1/services"
  printf '#!/bin/sh\nexec dotnet %q daemon --idle-exit 600 2>>%q\n' "$1" "$W/daemon.log" >"$W/start.sh"; chmod +x "$W/start.sh"
  printf '[D-BUS Service]\nName=org.latentbalance.Engine1\nExec=%s\n' "$W/start.sh" >"$W/data/dbus-1/services/org.latentbalance.Engine1.service"
  rm -f "$W/bus"
  XDG_DATA_HOME=$W/data XDG_DATA_DIRS=$W dbus-daemon --session --nofork --nopidfile --address="unix:path=$W/bus" 2>/dev/null &
  BUS_PID=$!
  for _ in $(seq 100); do [ -S "$W/bus" ] && break; sleep 0.05; done
  export DBUS_SESSION_BUS_ADDRESS="unix:path=$W/bus"
}
stop_bus() { kill "$BUS_PID"; wait "$BUS_PID" 2>/dev/null || true; BUS_PID=; sleep 1; }
activate() {  # prints seconds until StartServiceByName answers
  local t0 t1; t0=$(date +%s.%N)
  gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.StartServiceByName org.latentbalance.Engine1 0 >/dev/null
  t1=$(date +%s.%N); echo "$t1 - $t0" | bc
}
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "== 2. cold start to the bus name owned (D-Bus activation), $RUNS runs, load average $(cut -d' ' -f1 /proc/loadavg)"
# one warm-up (the page cache), not counted
start_bus "$W/lean/latentbalance.dll"; activate >/dev/null; stop_bus
: >"$W/new.txt"; : >"$W/old.txt"
for i in $(seq "$RUNS"); do
  start_bus "$W/lean/latentbalance.dll"; activate >>"$W/new.txt"; stop_bus
  if [ -n "${OLD_CLI:-}" ]; then start_bus "$OLD_CLI"; activate >>"$W/old.txt"; stop_bus; fi
done
echo "lean daemon: median $(median <"$W/new.txt") s  (runs: $(tr '\n' ' ' <"$W/new.txt"))"
if [ -n "${OLD_CLI:-}" ]; then
  echo "OLD_CLI:     median $(median <"$W/old.txt") s  (runs: $(tr '\n' ' ' <"$W/old.txt"))"
  echo "ratio new/old: $(echo "scale=3; $(median <"$W/new.txt") / $(median <"$W/old.txt")" | bc)"
fi
echo "load average after: $(cut -d' ' -f1 /proc/loadavg)"

echo "== 3. daemon memory, $PHOTOS balances"
start_bus "$W/lean/latentbalance.dll"; activate >/dev/null
PID=$(gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
  --method org.freedesktop.DBus.GetConnectionUnixProcessID org.latentbalance.Engine1 | grep -o '[0-9]\+' | tail -1)
mem() { grep -E "^(VmRSS|VmHWM)" /proc/"$PID"/status | tr -s ' \t' ' ' | tr '\n' ' '; }
mapfile -t photos < <(find "$SHARED/data/photos/urban100" "$SHARED/data/photos/bsds500" -name '*.jpg' | sort | head -n "$PHOTOS")
dotnet "$W/lean/latentbalance.dll" balance "${photos[0]}" -o "$W/first.jpg" --daemon 2>/dev/null
echo "after the models load and 1 balance: $(mem)"
mkdir -p "$W/out"
t0=$(date +%s.%N)
dotnet "$W/lean/latentbalance.dll" balance "${photos[@]}" -o "$W/out/" --daemon 2>"$W/batch.log" || { tail -5 "$W/batch.log"; exit 1; }
t1=$(date +%s.%N)
echo "after ${#photos[@]} more balances ($(ls "$W/out" | wc -l) outputs, $(echo "$t1 - $t0" | bc) s): $(mem)"
grep -q libtorch /proc/"$PID"/maps && echo "libtorch mapped: yes" || echo "libtorch mapped: no"
stop_bus
