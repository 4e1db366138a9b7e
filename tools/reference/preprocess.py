"""The project's preprocessing, defined exactly (DESIGN.md, RT-DETR: Preprocess).

    decode + resize:  ffmpeg -v error -i IMG -vf scale=W:H:flags=bilinear -pix_fmt rgb24 -f rawvideo -
    then:             uint8 RGB / 255 -> float32, NCHW, batch 1. No mean/std.

The Swift side decodes with libavcodec and resizes with libswscale using the same
flags (SWS_BILINEAR, rgb24 output), which DESIGN.md's Facts measured to be byte-identical
to the ffmpeg CLI, so both sides feed the model the same pixels.

Import it:  from preprocess import load_image   (tools/reference on sys.path)
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

__all__ = ["ffmpeg_rgb24", "load_image", "DEFAULT_IMAGE_DIR", "default_image", "list_images"]

DEFAULT_IMAGE_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "coco" / "val-dev" / "images"
if not DEFAULT_IMAGE_DIR.is_dir():  # checkout not at /work/main: fall back to the documented location
    DEFAULT_IMAGE_DIR = Path("/work/shared/data/coco/val-dev/images")


def list_images(directory: str | Path = DEFAULT_IMAGE_DIR) -> list[Path]:
    """Photos in a directory, sorted by name (so 'the first photo' is well defined)."""
    d = Path(directory)
    exts = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}
    return sorted(p for p in d.iterdir() if p.suffix.lower() in exts)


def default_image() -> Path:
    imgs = list_images(DEFAULT_IMAGE_DIR)
    if not imgs:
        raise FileNotFoundError(f"no images in {DEFAULT_IMAGE_DIR}")
    return imgs[0]


def ffmpeg_rgb24(path: str | Path, width: int, height: int) -> np.ndarray:
    """Decode `path` and resize to width x height with ffmpeg's bilinear swscale.

    Returns uint8 [height, width, 3] (RGB)."""
    if shutil.which("ffmpeg") is None:
        raise RuntimeError("ffmpeg CLI not found on PATH (needed for the reference preprocessing)")
    cmd = [
        "ffmpeg", "-v", "error", "-i", str(path),
        "-vf", f"scale={width}:{height}:flags=bilinear",
        "-pix_fmt", "rgb24", "-f", "rawvideo", "-",
    ]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"ffmpeg failed on {path}: {proc.stderr.decode(errors='replace').strip()}")
    expected = width * height * 3
    buf = proc.stdout
    if len(buf) < expected:
        raise RuntimeError(f"ffmpeg returned {len(buf)} bytes for {path}, expected {expected}")
    # A still image yields exactly one frame; keep the first if a container yields more.
    return np.frombuffer(buf[:expected], dtype=np.uint8).reshape(height, width, 3)


def load_image(path: str | Path, width: int, height: int | None = None) -> np.ndarray:
    """pixel_values for RT-DETR: float32 [1, 3, H, W] in [0, 1] (NCHW, RGB)."""
    height = width if height is None else height
    rgb = ffmpeg_rgb24(path, width, height)
    x = rgb.astype(np.float32) / np.float32(255.0)
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


if __name__ == "__main__":  # tiny CLI: print shape and a checksum
    p = sys.argv[1] if len(sys.argv) > 1 else str(default_image())
    s = int(sys.argv[2]) if len(sys.argv) > 2 else 640
    x = load_image(p, s)
    print(p, x.shape, x.dtype, f"mean={x.mean():.6f}", f"min={x.min():.4f}", f"max={x.max():.4f}")
