#!/usr/bin/env python3
"""How close qrt-detr's oneDNN kernels run to this CPU's multiply-accumulate peak, and the floor that puts
under a frame's time.

    python3 tools/bench/roofline.py --model M [--size 640] [--threads 2] [--binary .build/release/qrt-detr]

Runs `qrt-detr bench --iters 1 --warmup 1` with ONEDNN_VERBOSE=1, keeps the convolutions and matmuls of the
timed frame, counts their multiply-accumulates from the problem shapes oneDNN prints, and divides by the peak
rates tools/bench/mac_peak.c measures on one core (times --threads): FP32 FMA for f32 primitives, u8*s8 for
int8 ones (vpmaddubsw on CPUs without VNNI). The floor is the time the frame's MACs need at that peak, before any
memory traffic or non-matrix work: no implementation with this arithmetic runs the model faster.
"""
from __future__ import annotations

import argparse
import collections
import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONV = re.compile(r"mb(\d+)(?:_g(\d+))?_ic(\d+)oc(\d+)_ih\d+oh(\d+)kh(\d+)\D.*_iw\d+ow(\d+)kw(\d+)")
MATMUL = re.compile(r"^(?:(\d+)x)?(\d+)x(\d+):(?:\d+x)?\d+x(\d+):")


def peak_rates() -> tuple[float, float]:
    """(FP32, u8*s8) GMAC/s of one core, from tools/bench/mac_peak.c."""
    exe = Path("/tmp/qrt-mac-peak")
    subprocess.run(["gcc", "-O2", "-mavx2", "-mfma", str(REPO / "tools/bench/mac_peak.c"), "-o", str(exe)], check=True)
    out = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout
    fp, i8 = re.search(r"FP32 FMA ([\d.]+) GMAC/s, u8\*s8 .*? ([\d.]+) GMAC/s", out).groups()
    return float(fp), float(i8)


def macs(kind: str, shape: str) -> int:
    if kind == "convolution":
        m = CONV.search(shape)
        if not m:
            raise ValueError(f"unparsed convolution shape {shape}")
        mb, g, ic, oc, oh, kh, ow, kw = (int(v) if v else 1 for v in m.groups())
        return mb * ic * oc * oh * ow * kh * kw // g
    m = MATMUL.match(shape)
    if not m:
        raise ValueError(f"unparsed matmul shape {shape}")
    batch, rows, inner, cols = (int(v) if v else 1 for v in m.groups())
    return batch * rows * inner * cols


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--binary", default=str(REPO / ".build" / "release" / "qrt-detr"))
    a = ap.parse_args()

    fp_core, i8_core = peak_rates()
    cmd = [a.binary, "bench", "--model", a.model, "--size", str(a.size), "--threads", str(a.threads),
           "--iters", "1", "--warmup", "1"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, ONEDNN_VERBOSE="1"))
    if p.returncode != 0:
        print(f"error: {' '.join(cmd)} exited {p.returncode}: {p.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return 1
    calls = [line.split(",") for line in (p.stdout + p.stderr).splitlines()
             if line.startswith("onednn_verbose,exec,cpu,") and line.split(",")[3] in ("convolution", "matmul")]
    frame = calls[len(calls) // 2:]  # the warm-up frame, then the timed one: the same primitives in the same order
    time = collections.Counter()
    work = collections.Counter()
    counts = collections.Counter()
    for f in frame:
        kind, shape, ms = f[3], f[-2], float(f[-1])
        int8 = "src_u8" in ",".join(f) or "src_s8" in ",".join(f)
        key = f"{kind} {'int8' if int8 else 'f32'}"
        time[key] += ms
        work[key] += macs(kind, shape)
        counts[key] += 1
    print(f"{Path(a.model).name}, {a.size}x{a.size}, {a.threads} threads; one core's peak: FP32 {fp_core:.1f} GMAC/s, "
          f"u8*s8 {i8_core:.1f} GMAC/s (tools/bench/mac_peak.c)")
    print()
    print("| primitives | calls | ms | GMAC | GMAC/s | share of peak | floor ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    floor = total = 0.0
    for key in sorted(time, key=lambda k: -time[k]):
        peak = (i8_core if key.endswith("int8") else fp_core) * a.threads
        g = work[key] / 1e9
        floor += g / peak * 1e3
        total += time[key]
        print(f"| {key} | {counts[key]} | {time[key]:.1f} | {g:.2f} | {g / time[key] * 1e3:.1f} | "
              f"{g / time[key] * 1e3 / peak:.0%} | {g / peak * 1e3:.1f} |")
    print(f"| all | {len(frame)} | {total:.1f} | {sum(work.values()) / 1e9:.2f} | | | {floor:.1f} |")
    print()
    print(f"Floor: the frame's convolutions and matmuls need at least {floor:.0f} ms at this CPU's peak "
          f"multiply-accumulate rate on {a.threads} cores.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
