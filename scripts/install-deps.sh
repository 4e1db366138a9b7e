#!/usr/bin/env bash
# Installs the Debian 12 packages qrt-detr builds, tests and runs with (needs root).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
    pkg-config \
    libdnnl-dev \
    libavformat-dev libavcodec-dev libavdevice-dev libswscale-dev libavutil-dev ffmpeg \
    libsystemd-dev systemd \
    liblapacke-dev libopenblas-dev \
    libmosquitto-dev mosquitto mosquitto-clients \
    libmicrohttpd-dev
# Daemon tests: a real RTSP server (tools/rtsp/rtsp_server.py) on GStreamer.
apt-get install -y -q --no-install-recommends \
    gstreamer1.0-rtsp gir1.2-gst-rtsp-server-1.0 gir1.2-gstreamer-1.0 \
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good python3-gi
