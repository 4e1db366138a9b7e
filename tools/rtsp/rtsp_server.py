#!/usr/bin/python3
"""A test RTSP server on loopback from GStreamer's RTSP server library (Debian packages
gstreamer1.0-rtsp, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good, python3-gi).

    /usr/bin/python3 tools/rtsp/rtsp_server.py --port 8554 [--path /test] [--size 96x64] [--fps 10]

Serves a live test pattern as Motion-JPEG over RTP (jpegenc and rtpjpegpay are in plugins-good,
so no codec beyond Debian's defaults is needed) at rtsp://127.0.0.1:PORT/PATH. Prints
"ready rtsp://..." on stdout once listening. Used by the daemon's reconnect tests, which kill
and restart it mid-stream. Never needed at run time.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/test")
    parser.add_argument("--size", default="96x64")
    parser.add_argument("--fps", type=int, default=10)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.split("x"))

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f"( videotestsrc is-live=true pattern=ball ! video/x-raw,format=I420,width={width},height={height},framerate={args.fps}/1 "
        f"! jpegenc quality=60 ! rtpjpegpay name=pay0 pt=26 )"
    )
    factory.set_shared(True)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    for number in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, number, loop.quit)
    print(f"ready rtsp://127.0.0.1:{args.port}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
