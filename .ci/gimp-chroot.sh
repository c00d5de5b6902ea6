#!/usr/bin/env bash
# Build (first time, ~3 min) or reuse (seconds) a Debian trixie chroot with a headless GIMP 3 and its
# Python bindings, for tests/gimp/run-gimp-test.sh. Runs as root (debootstrap, chroot).
#
#   .ci/gimp-chroot.sh [DIR]        prints DIR (absolute) as its last line of stdout
#
# DIR defaults to $GIMP_CHROOT, else /var/cache/latentbalance/gimp3-trixie (outside any clone, so CI
# runs on the same machine reuse it). Mirror: $DEBIAN_MIRROR, else the host's configured Debian mirror.
# Idempotent: stage markers inside DIR record what is complete; a half-built base is removed and rebuilt
# (never while anything is mounted below DIR). Nothing is left mounted when this script exits.
set -euo pipefail

DIR="${1:-${GIMP_CHROOT:-/var/cache/latentbalance/gimp3-trixie}}"
SUITE=trixie
# Bump STAGE_GIMP_VERSION when PACKAGES changes so existing chroots get the new set.
PACKAGES=(gimp python3-gi gir1.2-gimp-3.0 gir1.2-gegl-0.4 gir1.2-babl-0.1 python3-numpy ca-certificates xvfb xdotool)
STAGE_GIMP_VERSION=2

log() { echo "gimp-chroot: $*" >&2; }
die() { echo "gimp-chroot: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap and chroot need it)"
mkdir -p "$(dirname "$DIR")"
DIR="$(cd "$(dirname "$DIR")" && pwd)/$(basename "$DIR")"

host_mirror() {
  local f m
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -r "$f" ] || continue
    # one-line style: deb URL suite ...; deb822 style: URIs: URL
    m=$(grep -hoE '^(deb[[:space:]]+(\[[^]]*\][[:space:]]+)?|URIs:[[:space:]]*)[a-z]+://[^[:space:]]+/debian/?([[:space:]]|$)' "$f" \
        | grep -oE '[a-z]+://[^[:space:]]+' | grep -v -- '-security' | head -n1 || true)
    if [ -n "$m" ]; then echo "${m%/}"; return 0; fi
  done
  echo "http://deb.debian.org/debian"
}

mounts_below() { findmnt -rn -o TARGET | awk -v d="$DIR" 'index($0, d "/") == 1 || $0 == d' | sort -r; }

unmount_all() {
  local m
  for m in $(mounts_below); do umount -l "$m" 2>/dev/null || true; done
}

MOUNTED_HERE=()
cleanup() {
  local i
  for ((i=${#MOUNTED_HERE[@]}-1; i>=0; i--)); do umount -l "${MOUNTED_HERE[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT

in_chroot() { LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive chroot "$DIR" "$@"; }

if [ ! -f "$DIR/.lb-stage-base" ]; then
  if [ -e "$DIR" ]; then
    unmount_all
    [ -z "$(mounts_below)" ] || die "$DIR has mounts below it that could not be unmounted; not removing it"
    log "removing half-built $DIR"
    rm -rf --one-file-system "$DIR"
  fi
  command -v debootstrap >/dev/null || {
    log "installing debootstrap on the host"
    apt-get update -qq
    apt-get install -y -qq -o DPkg::Lock::Timeout=900 debootstrap >/dev/null
  }
  MIRROR="${DEBIAN_MIRROR:-$(host_mirror)}"
  log "debootstrap $SUITE from $MIRROR into $DIR"
  mkdir -p "$DIR"
  debootstrap --variant=minbase "$SUITE" "$DIR" "$MIRROR" >"$DIR.debootstrap.log" 2>&1 \
    || { tail -n 30 "$DIR.debootstrap.log" >&2; die "debootstrap failed (full log: $DIR.debootstrap.log)"; }
  # No daemons may start inside the chroot during package installation.
  printf '#!/bin/sh\nexit 101\n' >"$DIR/usr/sbin/policy-rc.d"; chmod +x "$DIR/usr/sbin/policy-rc.d"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$DIR/etc/apt/apt.conf.d/90latentbalance"
  touch "$DIR/.lb-stage-base"
fi

if [ "$(cat "$DIR/.lb-stage-gimp" 2>/dev/null || true)" != "$STAGE_GIMP_VERSION" ]; then
  cp -L /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true
  mount -t proc proc "$DIR/proc"; MOUNTED_HERE+=("$DIR/proc")
  log "installing ${PACKAGES[*]} in the chroot"
  in_chroot apt-get update -qq >&2 || die "apt-get update failed in the chroot"
  in_chroot apt-get install -y -qq -o DPkg::Lock::Timeout=900 "${PACKAGES[@]}" >"$DIR.apt.log" 2>&1 \
    || { tail -n 30 "$DIR.apt.log" >&2; die "package installation failed in the chroot (log: $DIR.apt.log)"; }
  in_chroot apt-get clean
  in_chroot gimp-console-3.0 --version >&2 || die "gimp-console-3.0 does not run in the chroot"
  echo "$STAGE_GIMP_VERSION" >"$DIR/.lb-stage-gimp"
fi

log "ready: $(in_chroot gimp-console-3.0 --version 2>/dev/null | head -n1)"
echo "$DIR"
