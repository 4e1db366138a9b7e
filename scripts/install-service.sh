#!/usr/bin/env bash
# Installs qrt-detr as a systemd service (needs root): the release binary, the bundled default model
# (/usr/local/share/qrt-detr/models, where the binary looks for it), the unit and, unless one exists,
# the example config. Then `systemd-analyze verify /etc/systemd/system/qrt-detr.service`
# passes and `systemctl enable --now qrt-detr` starts it.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build -c release --product qrt-detr
install -m 0755 .build/release/qrt-detr /usr/local/bin/qrt-detr
install -d -m 0755 /usr/local/share/qrt-detr/models/rtdetr-r18vd-traffic
install -m 0644 models/rtdetr-r18vd-traffic/* /usr/local/share/qrt-detr/models/rtdetr-r18vd-traffic/
install -m 0644 systemd/qrt-detr.service /etc/systemd/system/qrt-detr.service
install -d -m 0755 /etc/qrt-detr
[ -e /etc/qrt-detr/qrt-detr.json ] || install -m 0644 systemd/qrt-detr.json /etc/qrt-detr/qrt-detr.json
systemd-analyze verify /etc/systemd/system/qrt-detr.service
echo "installed; edit /etc/qrt-detr/qrt-detr.json (streams; model.path for your own model), then: systemctl daemon-reload && systemctl enable --now qrt-detr"
