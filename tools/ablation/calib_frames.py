#!/usr/bin/env python3
"""In-domain calibration images for the ablation: N frames of the trained model's own videos, taken from their
training part (never from the held-out frames the ablation scores).

    python3 tools/ablation/calib_frames.py [--cache tools/train/.cache] [--count 32] [-o /tmp/qrt-calib-frames]

Reads the frames tools/train/prepare_data.py wrote (<cache>/frames/<video>/<n>.jpg), takes count/videos frames
evenly spaced through each video (the first videos get one more when count does not divide), and copies them
flat into -o as <video>_<n>.jpg, which sorts them by video — the order `qrt-detr quantize --calib` and the
ablation's --calib-dir read. Deterministic.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", type=Path, default=here.parents[0] / "train" / ".cache")
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("-o", "--out", type=Path, default=Path("/tmp/qrt-calib-frames"))
    a = ap.parse_args(argv)

    videos = sorted(p for p in (a.cache / "frames").iterdir() if p.is_dir()) if (a.cache / "frames").is_dir() else []
    if not videos:
        print(f"error: no frames under {a.cache / 'frames'} (run tools/train/prepare_data.py first)", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    for old in a.out.glob("*.jpg"):
        old.unlink()
    for i, video in enumerate(videos):
        frames = sorted(video.glob("*.jpg"))
        take = a.count // len(videos) + (1 if i < a.count % len(videos) else 0)
        for k in range(take):
            src = frames[(2 * k + 1) * len(frames) // (2 * take)]
            shutil.copyfile(src, a.out / f"{video.name}_{src.name}")
    print(f"wrote {a.count} frames of {len(videos)} videos to {a.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
