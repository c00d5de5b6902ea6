#!/usr/bin/env bash
# GIMP 3's own Colors > Auto > White Balance over a folder of photos, in one headless GIMP process: the GIMP
# contender of the batch benchmark (tests/LatentBalance.Benchmarks/BatchBenchmark.cs). Run as root.
#
#   tests/gimp/batch-white-balance.sh IN_DIR OUT_DIR [PROFILE_DIR]
#
# gimp-console-3.0 from the Debian trixie chroot (.ci/gimp-chroot.sh, as tests/gimp/run-gimp-test.sh) runs
# tests/gimp/white_balance_batch.py: every *.jpg of IN_DIR, in name order, is loaded, white-balanced and
# exported as JPEG (quality $LB_BATCH_QUALITY, default 95) into OUT_DIR under the same name. GIMP's profile
# (HOME) is PROFILE_DIR, kept between runs as a user's is (the first start in a new profile queries every
# plug-in and takes far longer), else a fresh one on a tmpfs.
# Everything is mounted in a private mount namespace (unshare) on a tmpfs over the chroot's /mnt: nothing
# stays mounted, nothing is written into the chroot, and other users of the chroot see none of it.
# Last line: "gimp-batch: photos N process SECONDS loop SECONDS" (process: the whole gimp-console run,
# its start included; loop: the photos alone, timed inside GIMP).
set -euo pipefail

die() { echo "gimp-batch: error: $*" >&2; exit 1; }
[ $# -ge 2 ] && [ $# -le 3 ] || die "usage: $0 IN_DIR OUT_DIR [PROFILE_DIR]"
HERE="$(cd "$(dirname "$0")" && pwd)"
IN="$(realpath "$1")"; OUT="$(realpath -m "$2")"; PROFILE="${3:+$(realpath -m "$3")}"; QUALITY="${LB_BATCH_QUALITY:-95}"
[ -d "$IN" ] || die "$IN: no such folder"

if [ "${LB_GIMP_BATCH_NS:-}" != 1 ]; then
  [ "$(id -u)" = 0 ] || die "must run as root (chroot, mounts)"
  CHROOT="$("$HERE/../../.ci/gimp-chroot.sh" | tail -n 1)"
  [ -x "$CHROOT/usr/bin/gimp-console-3.0" ] && [ -d "$CHROOT/mnt" ] || die "no gimp-console-3.0 or /mnt in $CHROOT"
  mkdir -p "$OUT" ${PROFILE:+"$PROFILE"}
  LB_GIMP_BATCH_NS=1 CHROOT="$CHROOT" exec unshare --mount --propagation private "$0" "$@"
fi

# in the private mount namespace: its mounts go away with it
mount -t tmpfs -o mode=755 lb-gimp-batch "$CHROOT/mnt"
mkdir -p "$CHROOT/mnt/in" "$CHROOT/mnt/out" "$CHROOT/mnt/home"
mount --bind "$IN" "$CHROOT/mnt/in"
mount --bind "$OUT" "$CHROOT/mnt/out"
[ -z "$PROFILE" ] || mount --bind "$PROFILE" "$CHROOT/mnt/home"
cp "$HERE/white_balance_batch.py" "$CHROOT/mnt/"
mount -t proc proc "$CHROOT/proc"
mount --rbind /dev "$CHROOT/dev"

LOG="$OUT.gimp.log"
t0=$(date +%s.%N)
rc=0
chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/mnt/home LANG=C.UTF-8 \
    LB_BATCH_IN=/mnt/in LB_BATCH_OUT=/mnt/out LB_BATCH_QUALITY="$QUALITY" \
    gimp-console-3.0 -i -d -f --batch-interpreter=python-fu-eval \
    -b "exec(open('/mnt/white_balance_batch.py').read())" --quit >"$LOG" 2>&1 || rc=$?
t1=$(date +%s.%N)
line=$(grep -m1 '^gimp-batch: photos [0-9]* loop [0-9.]*$' "$LOG" || true)
[ $rc = 0 ] && [ -n "$line" ] || { tail -n 30 "$LOG" >&2; die "gimp-console failed (exit $rc); log: $LOG"; }
rm -f "$LOG"
echo "$line" | awk -v t="$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')" '{ print $1, $2, $3, "process", t, $4, $5 }'
