#!/usr/bin/env python3
"""Anchor benchmarks: the runtimes qrt-detr must beat, measured side by side in one process run.

    python tools/bench/anchors.py [--config r18vd] [--size 640] [--threads 2] [--iters 20] [--binary PATH]

On one random checkpoint (tools/reference/make_checkpoint.py, cached in /tmp/qrt-parity/<config>, the same one
parity.py uses) and one input (the first photo of shared/data/coco/val-dev/images, preprocessed by
tools/reference/preprocess.py), it times batch-1 inference of:

  PyTorch FP32                eager transformers RTDetrForObjectDetection, torch.set_num_threads(T)
  ONNX Runtime FP32           torch.onnx.export (opset 17, pixel_values -> logits, pred_boxes), intra_op_num_threads T
  ONNX Runtime INT8           static QDQ, per-channel s8 weights, u8 activations, MinMax calibration on
                              --calib-images photos of shared/data/coco/train-calib (see ort_int8_model; --no-int8 skips)
  OpenVINO FP32               the same ONNX, INFERENCE_PRECISION_HINT f32
  OpenVINO default (bf16)     the same ONNX, default precision (bf16 on CPUs with AVX512-BF16/AMX)
  OpenVINO INT8 QDQ           the ORT INT8 QDQ model compiled by OpenVINO (default precision for the rest)
  qrt-detr                    `<binary> bench --model DIR --size S --threads T --iters N --json` (a subprocess)

and prints a markdown table: runtime, median ms, p90 ms, ratio to ONNX Runtime FP32. The Python runtimes time the
model call only (input already preprocessed); qrt-detr's bench times its whole per-frame path (preprocess + model +
postprocess) and also reports peak RSS. Timings: --warmup untimed runs, then --iters timed runs; p90 is the
ceil(0.9 n)-th fastest, as in qrt-detr's bench.

Adding a runtime: write a function `def bench_<name>(ctx) -> Row` that builds a callable and returns
`timed(ctx, "<label>", fn)` (or `Row.skipped(...)`), and list it in RUNTIMES.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tools" / "reference"))

import numpy as np  # noqa: E402

CALIB_DIR_DEFAULT = REPO.parent / "shared" / "data" / "coco" / "train-calib" / "images"
if not CALIB_DIR_DEFAULT.is_dir():
    CALIB_DIR_DEFAULT = Path("/work/shared/data/coco/train-calib/images")


def cpu_description() -> str:
    """The CPU's name with what decides INT8 speed: AVX-512 and the VNNI dot-product instructions
    (without VNNI, u8*s8 products go through vpmaddubsw at ~1.25x the FP32 rate, not ~4x)."""
    name, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and name in ("", platform.machine(), platform.processor()):
                name = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        return name
    isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    vnni = [n for f, n in (("avx512_vnni", "AVX-512 VNNI"), ("avx_vnni", "AVX-VNNI")) if f in flags]
    return f"{name} ({isa}, {' + '.join(vnni) if vnni else 'no VNNI'})"


@dataclasses.dataclass
class Row:
    runtime: str
    median_ms: float | None = None
    p90_ms: float | None = None
    note: str = ""

    @staticmethod
    def skipped(runtime: str, why: str) -> "Row":
        return Row(runtime, None, None, why)


@dataclasses.dataclass
class Context:
    args: argparse.Namespace
    model_dir: Path
    pixel_values: np.ndarray  # float32 [1,3,S,S]
    onnx_fp32: Path | None = None
    onnx_int8: Path | None = None


def stats(times_ms: list[float]) -> tuple[float, float]:
    t = sorted(times_ms)
    n = len(t)
    median = t[n // 2] if n % 2 else (t[n // 2 - 1] + t[n // 2]) / 2
    p90 = t[min(n - 1, math.ceil(0.9 * n) - 1)]
    return median, p90


def timed(ctx: Context, label: str, fn, note: str = "") -> Row:
    for _ in range(ctx.args.warmup):
        fn()
    times = []
    for _ in range(ctx.args.iters):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    med, p90 = stats(times)
    print(f"  {label}: median {med:.1f} ms, p90 {p90:.1f} ms", file=sys.stderr, flush=True)
    return Row(label, med, p90, note)


# ---------------------------------------------------------------------------------------------------------------
# model files


def export_onnx(ctx: Context) -> Path:
    """HF model -> ONNX (opset 17), cached next to the checkpoint; rebuilt when the checkpoint is newer."""
    import torch
    from transformers import RTDetrForObjectDetection

    size = ctx.args.size
    out = ctx.model_dir / f"model-{size}.onnx"
    if out.is_file() and out.stat().st_mtime >= (ctx.model_dir / "model.safetensors").stat().st_mtime:
        return out
    model = RTDetrForObjectDetection.from_pretrained(str(ctx.model_dir)).eval()

    class Outputs(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            o = self.m(pixel_values=pixel_values)
            return o.logits, o.pred_boxes

    wrapper = Outputs(model).eval()  # eval(): export restores the wrapper's mode, which would put BN in training
    x = torch.from_numpy(ctx.pixel_values)
    print(f"  exporting {out} ...", file=sys.stderr, flush=True)
    tmp = out.with_suffix(".onnx.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (x,), str(tmp), opset_version=17, input_names=["pixel_values"],
                          output_names=["logits", "pred_boxes"], dynamo=False)
    os.replace(tmp, out)
    return out


class CalibReader:
    """onnxruntime.quantization.CalibrationDataReader over preprocessed photos."""

    def __init__(self, images: list[Path], size: int):
        from preprocess import load_image

        self._it = iter([{"pixel_values": load_image(p, size)} for p in images])

    def get_next(self):
        return next(self._it, None)

    def rewind(self):  # not needed by MinMax, kept for the interface
        pass


def ort_int8_model(ctx: Context) -> Path:
    """ONNX Runtime static INT8: QDQ format, per-channel symmetric s8 weights, u8 activations, MinMax calibration.

    The hook for other INT8 anchors: copy this with another calibrate_method (Entropy, Percentile, Distribution)
    or other extra_options, give the file another name, and add a bench_* function for it."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process
    from preprocess import list_images

    n = ctx.args.calib_images
    out = ctx.model_dir / f"model-{ctx.args.size}-int8-qdq-minmax-{n}.onnx"
    src = ctx.onnx_fp32
    if out.is_file() and out.stat().st_mtime >= src.stat().st_mtime:
        return out
    images = list_images(ctx.args.calib_dir)[:n]
    if len(images) < n:
        raise RuntimeError(f"need {n} calibration images in {ctx.args.calib_dir}, found {len(images)}")
    print(f"  quantizing {out.name} (MinMax on {n} images of {ctx.args.calib_dir}) ...", file=sys.stderr, flush=True)
    pre = ctx.model_dir / f"model-{ctx.args.size}-preprocessed.onnx"
    quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    tmp = out.with_suffix(".onnx.tmp")
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # per-channel warnings about LayerNorm's rank-1 weights
    quantize_static(
        str(pre), str(tmp), CalibReader(images, ctx.args.size),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        calibrate_method=CalibrationMethod.MinMax,
        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
    )
    os.replace(tmp, out)
    pre.unlink(missing_ok=True)
    return out


# ---------------------------------------------------------------------------------------------------------------
# runtimes


def bench_pytorch_fp32(ctx: Context) -> Row:
    import torch
    from transformers import RTDetrForObjectDetection

    torch.set_num_threads(ctx.args.threads)
    model = RTDetrForObjectDetection.from_pretrained(str(ctx.model_dir)).eval()
    x = torch.from_numpy(ctx.pixel_values)

    def fn():
        with torch.inference_mode():
            model(pixel_values=x)

    return timed(ctx, "PyTorch FP32", fn, f"torch {torch.__version__}, eager")


def ort_session(path: Path, threads: int):
    """ONNX Runtime on the CPU the way every anchor runs it: `threads` intra-op threads, sequential, all
    graph optimizations, warnings off (also used by tools/ablation/run.py)."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def bench_ort_fp32(ctx: Context) -> Row:
    import onnxruntime as ort

    s = ort_session(ctx.onnx_fp32, ctx.args.threads)
    feed = {"pixel_values": ctx.pixel_values}
    return timed(ctx, "ONNX Runtime FP32", lambda: s.run(None, feed), f"onnxruntime {ort.__version__}")


def bench_ort_int8(ctx: Context) -> Row:
    import onnxruntime as ort

    if ctx.args.no_int8:
        return Row.skipped("ONNX Runtime INT8 (QDQ, per-channel, MinMax)", "skipped (--no-int8)")
    ctx.onnx_int8 = ort_int8_model(ctx)
    s = ort_session(ctx.onnx_int8, ctx.args.threads)
    feed = {"pixel_values": ctx.pixel_values}
    return timed(ctx, "ONNX Runtime INT8 (QDQ, per-channel, MinMax)", lambda: s.run(None, feed),
                 f"calibrated on {ctx.args.calib_images} train-calib images")


def _ov_compiled(path: Path, threads: int, precision: str | None):
    import openvino as ov

    core = ov.Core()
    cfg = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    if precision:
        cfg["INFERENCE_PRECISION_HINT"] = precision
    cm = core.compile_model(str(path), "CPU", cfg)
    used = cm.get_property("INFERENCE_PRECISION_HINT")
    return cm, used.to_string() if hasattr(used, "to_string") else str(used)


def _ov_row(ctx: Context, label: str, path: Path, precision: str | None) -> Row:
    import openvino as ov

    cm, used = _ov_compiled(path, ctx.args.threads, precision)
    req = cm.create_infer_request()
    x = ctx.pixel_values
    return timed(ctx, label, lambda: req.infer({0: x}), f"openvino {ov.__version__.split('-')[0]}, precision {used}")


def bench_ov_fp32(ctx: Context) -> Row:
    return _ov_row(ctx, "OpenVINO FP32", ctx.onnx_fp32, "f32")


def bench_ov_default(ctx: Context) -> Row:
    return _ov_row(ctx, "OpenVINO default (bf16)", ctx.onnx_fp32, None)


def bench_ov_int8(ctx: Context) -> Row:
    if ctx.onnx_int8 is None:
        return Row.skipped("OpenVINO INT8 QDQ", "skipped (no INT8 model)")
    return _ov_row(ctx, "OpenVINO INT8 QDQ", ctx.onnx_int8, None)


def bench_qrt_detr(ctx: Context) -> Row:
    return _qrt_bench(ctx, "qrt-detr FP32 (Swift, oneDNN)", ctx.model_dir)


def bench_qrt_detr_int8(ctx: Context) -> Row:
    """qrt-detr's W8A8 artifact of the same checkpoint (EMA-MSE ranges on the same calibration images as ORT)."""
    a = ctx.args
    label = "qrt-detr INT8 W8A8 (Swift, oneDNN)"
    if a.no_int8:
        return Row.skipped(label, "skipped (--no-int8)")
    binary = Path(a.binary)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        return Row.skipped(label, f"binary not found: {binary} (swift build -c release)")
    artifact = ctx.model_dir / f"qrt-w8a8-ema-mse-{a.size}-{a.calib_images}.qrt"
    if not artifact.is_file() or artifact.stat().st_mtime < (ctx.model_dir / "model.safetensors").stat().st_mtime:
        print(f"  quantizing {artifact.name} with qrt-detr ...", file=sys.stderr, flush=True)
        cmd = [str(binary), "quantize", "--model", str(ctx.model_dir), "--calib", str(a.calib_dir),
               "--images", str(a.calib_images), "--method", "ema-mse", "--bits", "w8a8", "--size", str(a.size),
               "--threads", str(a.threads), "-o", str(artifact)]
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
        if p.returncode != 0:
            tail = (p.stderr.decode(errors="replace").strip().splitlines() or ["(no stderr)"])[-1]
            return Row.skipped(label, f"quantize exited {p.returncode}: {tail}")
    return _qrt_bench(ctx, label, artifact)


def _qrt_bench(ctx: Context, label: str, model: Path) -> Row:
    a = ctx.args
    binary = Path(a.binary)
    if not binary.is_file() or not os.access(binary, os.X_OK):
        return Row.skipped(label, f"binary not found: {binary} (swift build -c release)")
    cmd = [str(binary), "bench", "--model", str(model), "--size", str(a.size), "--threads", str(a.threads),
           "--iters", str(a.iters), "--warmup", str(a.warmup), "--json"]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False)
    if p.returncode != 0:
        tail = (p.stderr.decode(errors="replace").strip().splitlines() or ["(no stderr)"])[-1]
        return Row.skipped(label, f"bench exited {p.returncode}: {tail}")
    obj = None
    for line in reversed(p.stdout.decode(errors="replace").splitlines()):
        line = line.strip()
        if line.startswith("{"):
            try:
                obj = json.loads(line)
                break
            except ValueError:
                continue
    if not obj or "median_ms" not in obj:
        return Row.skipped(label, "bench --json printed no JSON object with median_ms")
    note = "whole frame path"
    if obj.get("peak_rss_mb") is not None:
        note += f", peak RSS {float(obj['peak_rss_mb']):.0f} MB"
    if obj.get("precision"):
        note += f", {obj['precision']}"
    row = Row(label, float(obj["median_ms"]), float(obj["p90_ms"]) if "p90_ms" in obj else None, note)
    print(f"  {label}: median {row.median_ms:.1f} ms", file=sys.stderr, flush=True)
    return row


RUNTIMES = [
    bench_pytorch_fp32,
    bench_ort_fp32,
    bench_ort_int8,
    bench_ov_fp32,
    bench_ov_default,
    bench_ov_int8,
    bench_qrt_detr,
    bench_qrt_detr_int8,
]


def table(rows: list[Row], base_label: str = "ONNX Runtime FP32",
          int8_label: str = "ONNX Runtime INT8 (QDQ, per-channel, MinMax)") -> str:
    base = next((r.median_ms for r in rows if r.runtime == base_label and r.median_ms), None)
    int8 = next((r.median_ms for r in rows if r.runtime == int8_label and r.median_ms), None)
    out = ["| runtime | median ms | p90 ms | ratio to ORT FP32 | ratio to ORT INT8 | note |", "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        med = f"{r.median_ms:.1f}" if r.median_ms is not None else "—"
        p90 = f"{r.p90_ms:.1f}" if r.p90_ms is not None else "—"
        ratio = f"{r.median_ms / base:.2f}" if (base and r.median_ms is not None) else "—"
        ratio8 = f"{r.median_ms / int8:.2f}" if (int8 and r.median_ms is not None) else "—"
        out.append(f"| {r.runtime} | {med} | {p90} | {ratio} | {ratio8} | {r.note} |")
    return "\n".join(out)


def main(argv=None) -> int:
    from make_checkpoint import CONFIG_NAMES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="r18vd", choices=CONFIG_NAMES)
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--image", default=None, help="default: the first photo of shared/data/coco/val-dev/images")
    ap.add_argument("--binary", default=str(REPO / ".build" / "release" / "qrt-detr"))
    ap.add_argument("--no-int8", action="store_true", help="skip the ONNX Runtime / OpenVINO INT8 rows")
    ap.add_argument("--calib-images", type=int, default=8)
    ap.add_argument("--calib-dir", default=str(CALIB_DIR_DEFAULT))
    ap.add_argument("--only", default=None,
                    help="comma-separated substrings: run only runtimes whose function name contains one")
    a = ap.parse_args(argv)

    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    import torch
    import transformers

    from parity import ensure_checkpoint
    from preprocess import default_image, load_image

    transformers.logging.set_verbosity_error()
    torch.set_num_threads(a.threads)
    image = Path(a.image) if a.image else default_image()
    log = lambda s: print(s, file=sys.stderr, flush=True)  # noqa: E731
    model_dir = ensure_checkpoint(a.config, a.seed, log=log)
    ctx = Context(a, model_dir, load_image(image, a.size))

    rows: list[Row] = []
    runtimes = RUNTIMES
    if a.only:
        keys = [k.strip() for k in a.only.split(",") if k.strip()]
        runtimes = [f for f in RUNTIMES if any(k in f.__name__ for k in keys)]
    needs_onnx = any(f.__name__.startswith(("bench_ort", "bench_ov")) for f in runtimes)
    if needs_onnx:
        ctx.onnx_fp32 = export_onnx(ctx)
    for fn in runtimes:
        try:
            rows.append(fn(ctx))
        except Exception as e:  # noqa: BLE001 - one failing runtime must not hide the others
            label = fn.__name__.removeprefix("bench_")
            rows.append(Row.skipped(label, f"failed: {type(e).__name__}: {str(e).splitlines()[0][:160] if str(e) else ''}"))
            print(f"  {label} failed: {e}", file=sys.stderr)

    print(f"RT-DETR {a.config} (random weights, {model_dir}), {a.size}x{a.size}, batch 1, {a.threads} threads, "
          f"{a.iters} iterations after {a.warmup} warm-up; input {image.name}; {cpu_description()}")
    print()
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
