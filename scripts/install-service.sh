#!/usr/bin/env bash
# Installs qrt-detr as a systemd service (needs root): the release binary, the unit and, unless one
# exists, the example config. Then `systemd-analyze verify /etc/systemd/system/qrt-detr.service`
# passes and `systemctl enable --now qrt-detr` starts it.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product qrt-detr
install -m 0755 .build/release/qrt-detr /usr/local/bin/qrt-detr
install -m 0644 systemd/qrt-detr.service /etc/systemd/system/qrt-detr.service
install -d -m 0755 /etc/qrt-detr
[ -e /etc/qrt-detr/qrt-detr.json ] || install -m 0644 systemd/qrt-detr.json /etc/qrt-detr/qrt-detr.json
systemd-analyze verify /etc/systemd/system/qrt-detr.service
echo "installed; edit /etc/qrt-detr/qrt-detr.json (model path, streams), then: systemctl daemon-reload && systemctl enable --now qrt-detr"
