#!/bin/sh
# Runs `systemd-analyze verify` on systemd/qrt-detr.service without installing anything: the
# unit, the given qrt-detr binary (default: .build/debug/qrt-detr) at /usr/local/bin and the
# system's own units go into a temporary root, because verify insists that ExecStart= exists.
# Once qrt-detr is installed at /usr/local/bin, plain `systemd-analyze verify
# systemd/qrt-detr.service` passes as well.
set -eu
repo=$(cd "$(dirname "$0")/../.." && pwd)
binary=${1:-$repo/.build/debug/qrt-detr}
[ -x "$binary" ] || { echo "no executable qrt-detr at $binary (build first, or pass its path)" >&2; exit 2; }
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/local/bin" "$root/usr/bin" "$root/usr/lib/systemd" "$root/etc/systemd/system"
ln -s usr/bin "$root/bin"
cp "$binary" "$root/usr/local/bin/qrt-detr"
cp /bin/kill "$root/usr/bin/kill"
cp -r /usr/lib/systemd/system "$root/usr/lib/systemd/"
cp "$repo/systemd/qrt-detr.service" "$root/etc/systemd/system/"
systemd-analyze verify --root="$root" qrt-detr.service
echo "systemd/qrt-detr.service: verify passed"
