#!/usr/bin/env python3
"""Quantization ablation: generates docs/quantization.md (issue 4, item 7).

    python3 tools/ablation/run.py [--checkpoint DIR | --config r18vd [--seed 0]] [--size 640] [--calib 32]
                                  [--val-limit N] [--rounds 2] [--threads 2] [--reference-score 0.5]
                                  [--binary PATH] [--methods LIST] [--bits LIST] [--cache DIR] [--force]
                                  [--out docs/quantization.md] [--render-only] [--observations FILE]

The checkpoint: --checkpoint DIR (an FP32 Hugging Face RT-DETR directory, the trained model once it exists), or by
default a random-weight --config checkpoint from tools/reference/make_checkpoint.py, made in the cache; the report
then says so at its top and marks the AP column as meaningless. On random weights the sigmoid scores sit around
0.2, so use e.g. --reference-score 0.3 or FP-agreement's pseudo ground truth is (almost) empty.

Rows (--methods, comma-separated keys; default all):
  fp32                 the FP32 checkpoint itself (qrt-detr)
  minmax, ema-minmax, percentile, mse, ema-mse, qrt
                       `qrt-detr quantize --method KEY` (qrt = EMA-MSE + two-stage reconstruction, --rounds)
  ort-minmax, ort-entropy, ort-percentile
                       ONNX Runtime static quantization of the same checkpoint (torch.onnx.export, opset 17),
                       QDQ, per-channel symmetric s8 weights, asymmetric u8 activations, ORT's default operator
                       set (as tools/bench/anchors.py's ort_int8_model), calibrated with the named calibrator.
                       W8A8 only: ORT's static quantizer has no 6-bit or 4-bit activation path; other cells "n/a".
Columns (--bits): w8a8, w6a6, w4a8, w4a4.

Every row uses the same checkpoint, the same calibration images (the first --calib of
shared/data/coco/train-calib/images, sorted by name) and the same validation images (the first --val-limit
images of shared/data/coco/val-dev/instances.json, in file order, as `qrt-detr eval --limit`).

Cells (three numbers):
  AP        COCO box AP on val-dev's ground truth. qrt-detr rows: `qrt-detr eval --json`; ORT rows: pycocotools.
  FP-AP     FP-agreement AP: the detections scored against the FP32 model's detections with score >=
            --reference-score (default 0.5, qrt-detr's default) taken as ground truth. qrt-detr rows: `qrt-detr eval --against-fp32 --reference-model FP32 --json`;
            ORT rows: pycocotools against qrt-detr's FP32 detections (its `eval --results` file), with the
            pseudo ground truth built exactly as qrt-detr builds it. The script checks that this Python scoring
            reproduces qrt-detr's FP-AP (FP32 row and one quantized row) and prints the differences in the report.
  SQNR      logits SQNR in dB vs FP32 over the calibration images. qrt-detr rows: parsed from the quantize
            summary ("output SQNR vs FP32 (calibration images): logits X dB"), which matches query slots by the
            encoder token that seeded them. ORT rows: computed here the same way, INT8 ORT vs FP32 ORT: the export
            also outputs the encoder's top-k token indices (torch.topk on enc_outputs_class.max(-1), the very
            expression transformers' RTDetrModel selects queries with), so slots are matched by token as in
            qrt-detr; the share of matched slots is reported too.

Detection post-processing for ORT rows is qrt-detr's (and transformers'): sigmoid, top-k over queries x classes,
cxcywh -> xyxy in source pixels, class index -> COCO category id (make_checkpoint.COCO_CATEGORY_IDS), best 100
per image. Pre-processing is tools/reference/preprocess.py (ffmpeg bilinear, /255), the same pixels qrt-detr reads.

Cache (--cache, default /tmp/qrt-ablation/<config>-s<size>-c<calib>-v<val>): the checkpoint, .qrt artifacts,
ONNX models, detections and one JSON per finished cell. A rerun skips finished cells, so an interrupted run
resumes, and `--methods`/`--bits` reruns only some cells; the report is always rendered from every cached cell.
--force recomputes the selected cells. The cache records its settings and refuses a mismatching rerun.

Exit status: 0 when every selected cell finished, 1 when some failed (their error is in the report), 2 on setup
errors.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tools" / "reference"))
sys.path.insert(0, str(REPO / "tools" / "bench"))

from anchors import cpu_description, ort_session  # noqa: E402  (the anchors' settings, shared)

SHARED = REPO.parent / "shared"
if not (SHARED / "data" / "coco").is_dir():
    SHARED = Path("/work/shared")
CALIB_DIR = SHARED / "data" / "coco" / "train-calib" / "images"
VAL_DIR = SHARED / "data" / "coco" / "val-dev"

BITS = ["w8a8", "w6a6", "w4a8", "w4a4"]
QRT_METHODS = ["minmax", "ema-minmax", "percentile", "mse", "ema-mse", "qrt"]
ORT_METHODS = ["ort-minmax", "ort-entropy", "ort-percentile", "ort-minmax-convgemm"]
ROWS = ["fp32"] + QRT_METHODS + ORT_METHODS
LABELS = {
    "fp32": "FP32",
    "minmax": "MinMax",
    "ema-minmax": "EMA-MinMax",
    "percentile": "Percentile",
    "mse": "MSE",
    "ema-mse": "EMA-MSE",
    "qrt": "EMA-MSE + two-stage (QRT)",
    "ort-minmax": "ONNX Runtime static, MinMax",
    "ort-entropy": "ONNX Runtime static, Entropy",
    "ort-percentile": "ONNX Runtime static, Percentile",
    "ort-minmax-convgemm": "ONNX Runtime static, MinMax, Conv+Gemm inputs only",
}
ORT_CALIBRATORS = {"ort-minmax": "MinMax", "ort-entropy": "Entropy", "ort-percentile": "Percentile",
                   "ort-minmax-convgemm": "MinMax"}
# Operator types ORT quantizes; None: quantize_static's default set (QLinearOpsRegistry | QDQRegistry, which also
# quantizes Add, Mul, Sigmoid, Softmax, GridSample, attention MatMuls, Gather/Concat and the model outputs).
# Conv+Gemm inputs: exactly qrt-detr's quant points (the inputs and weights of every convolution and linear layer;
# torch exports Linear as Gemm), with OpTypesToExcludeOutputQuantization so their outputs stay float.
ORT_OP_TYPES = {"ort-minmax-convgemm": ["Conv", "Gemm"]}
MAX_DETS = 100
REFERENCE_SCORE = 0.5


class SetupError(Exception):
    pass


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------------------------
# settings and cache


class Run:
    def __init__(self, a: argparse.Namespace):
        self.a = a
        self.cache = Path(a.cache)
        self.random = a.checkpoint is None
        self.ckpt = Path(a.checkpoint).resolve() if a.checkpoint else self.cache / "checkpoint"
        self.artifacts = self.cache / "artifacts"
        self.results = self.cache / "results"
        self.dets = self.cache / "detections"
        self.logs = self.cache / "logs"
        self.onnx = self.cache / "onnx"
        for d in (self.artifacts, self.results, self.dets, self.logs, self.onnx):
            d.mkdir(parents=True, exist_ok=True)
        self.binary = Path(a.binary)

    def settings(self) -> dict:
        a = self.a
        return {"checkpoint": a.checkpoint, "config": a.config, "seed": a.seed, "size": a.size, "calib": a.calib, "val_limit": a.val_limit,
                "rounds": a.rounds, "calib_dir": str(a.calib_dir), "val_dir": str(a.val_dir),
                "ort_entropy_bins": a.ort_entropy_bins, "reference_score": a.reference_score,
                **({"frames": str(a.frames), "frames_stride": a.frames_stride} if a.frames else {})}

    def check_settings(self) -> None:
        p = self.cache / "settings.json"
        want = self.settings()
        if p.is_file():
            have = json.loads(p.read_text())
            if have != want:
                raise SetupError(f"cache {self.cache} was made with other settings ({have}); "
                                 f"use another --cache or delete it")
        else:
            p.write_text(json.dumps(want, indent=1) + "\n")

    def cell_path(self, row: str, bits: str) -> Path:
        return self.results / f"{row}-{bits}.json"

    def load_cell(self, row: str, bits: str) -> dict | None:
        p = self.cell_path(row, bits)
        if p.is_file():
            try:
                return json.loads(p.read_text())
            except ValueError:
                return None
        return None

    def save_cell(self, row: str, bits: str, cell: dict) -> None:
        p = self.cell_path(row, bits)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps(cell, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, p)

    # common qrt-detr options
    def model_opts(self) -> list[str]:
        return ["--size", str(self.a.size), "--threads", str(self.a.threads)]

    def splits(self) -> list[Split]:
        val = self.a.val_dir
        out = [Split("", val / "instances.json", val / "images", self.a.val_limit)]
        if self.a.frames:
            out.append(Split("-frames", self.frames_instances(), self.a.frames / "images", 0))
        return out

    def frames_instances(self) -> Path:
        """--frames' instances.json, or every --frames-stride-th image of it (written once into the cache)."""
        source = self.a.frames / "instances.json"
        if self.a.frames_stride == 1:
            return source
        out = self.cache / f"frames-every-{self.a.frames_stride}.json"
        if not out.is_file():
            gt = json.loads(source.read_text())
            images = gt["images"][:: self.a.frames_stride]
            ids = {im["id"] for im in images}
            gt.update(images=images, annotations=[x for x in gt["annotations"] if x["image_id"] in ids])
            out.write_text(json.dumps(gt))
        return out


class Split(NamedTuple):
    """A validation set: COCO ground truth and its image directory, the first `limit` images (0: all).
    `suffix` names its detection files (fp32{suffix}.json) and its keys in a cell (none for val-dev)."""
    suffix: str
    instances: Path
    images: Path
    limit: int

    def eval_opts(self) -> list[str]:
        o = ["--coco", str(self.instances), "--images", str(self.images)]
        if self.limit:
            o += ["--limit", str(self.limit)]
        return o

    def key(self, name: str) -> str:
        return name + self.suffix.replace("-", "_")


def run_cmd(cmd: list[str], log_path: Path, env: dict | None = None) -> tuple[str, float]:
    """Runs a command; stdout returned, stderr (progress bars) to log_path; raises on failure."""
    t0 = time.perf_counter()
    with open(log_path, "wb") as err:
        err.write(("$ " + shlex.join(cmd) + "\n").encode())
        err.flush()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=err, env=env, check=False)
    dt = time.perf_counter() - t0
    out = p.stdout.decode(errors="replace")
    if p.returncode != 0:
        tail = log_path.read_bytes().decode(errors="replace").replace("\r", "\n").strip().splitlines()
        raise RuntimeError(f"{Path(cmd[0]).name} {cmd[1]} exited {p.returncode}: {tail[-1] if tail else ''}")
    return out, dt


def last_json(text: str) -> dict:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError("no JSON object in output")


# ---------------------------------------------------------------------------------------------------------------
# the checkpoint


def ensure_checkpoint(r: Run) -> None:
    if (r.ckpt / "config.json").is_file() and (r.ckpt / "model.safetensors").is_file():
        return
    if not r.random:
        raise SetupError(f"--checkpoint {r.ckpt}: no config.json + model.safetensors")
    log(f"making random {r.a.config} checkpoint in {r.ckpt}")
    cmd = [sys.executable, str(REPO / "tools" / "reference" / "make_checkpoint.py"), "--config", r.a.config,
           "--seed", str(r.a.seed), "-o", str(r.ckpt)]
    run_cmd(cmd, r.logs / "make_checkpoint.log")


# ---------------------------------------------------------------------------------------------------------------
# qrt-detr rows

SQNR_RE = re.compile(r"output SQNR vs FP32 \(calibration images\): logits (\S+) dB, boxes (\S+) dB; "
                     r"(\d+)% of queries selected alike")
STAGE_RE = re.compile(r"^\s+(.+?): relative error (\S+) → (\S+)\s*$")
NARROWED_RE = re.compile(r"this CPU has no VNNI: (\d+) layers run their activations on fewer levels \(fewest (\d+)\)")
SIZE_RE = re.compile(r"size: ([\d.]+) MB \(([\d.]+)× the (?:FP32|source) checkpoint")


def parse_quantize_summary(text: str) -> dict:
    m = SQNR_RE.search(text)
    if not m:
        raise RuntimeError("quantize summary has no 'output SQNR vs FP32' line")
    out = {"sqnr_logits": float(m.group(1)), "sqnr_boxes": float(m.group(2)), "query_overlap": int(m.group(3)) / 100,
           "stages": []}
    for line in text.splitlines():
        s = STAGE_RE.match(line)
        if s:
            out["stages"].append({"name": s.group(1), "before": float(s.group(2)), "after": float(s.group(3))})
    z = SIZE_RE.search(text)
    if z:
        out["artifact_mb"], out["artifact_ratio"] = float(z.group(1)), float(z.group(2))
    return out


def eval_stats(obj: dict) -> dict:
    out = {"ap": obj["stats"]["AP"], "ap50": obj["stats"]["AP50"], "images": obj["images"],
           "detections": obj["detections"], "eval_seconds": obj.get("seconds")}
    fa = obj.get("fp_agreement")
    if fa:
        out.update(fp_ap=fa["stats"]["AP"], fp_ap50=fa["stats"]["AP50"], fp_objects=fa["objects"])
    return out


def split_stats(split: Split, obj: dict) -> dict:
    return {split.key(k): v for k, v in eval_stats(obj).items()}


def cell_fp32(r: Run) -> dict:
    ensure_checkpoint(r)
    cell, total = {}, 0.0
    for split in r.splits():
        dets = r.dets / f"fp32{split.suffix}.json"
        cmd = [str(r.binary), "eval", "--model", str(r.ckpt), *r.model_opts(), *split.eval_opts(), "--json",
               "--against-fp32", "--reference-score", str(r.a.reference_score), "--results", str(dets)]
        out, dt = run_cmd(cmd, r.logs / f"eval-fp32{split.suffix}.log")
        cell.update(split_stats(split, last_json(out)))
        total += dt
        if not split.suffix:
            cell["command"] = shlex.join(cmd)
    cell.update(sqnr_logits=math.inf, eval_wall_s=total, wall_s=total)
    return cell


def cell_qrt(r: Run, method: str, bits: str) -> dict:
    ensure_checkpoint(r)
    art = r.artifacts / f"{method}-{bits}.qrt"
    qcmd = [str(r.binary), "quantize", "--model", str(r.ckpt), "--calib", str(r.a.calib_dir), "--images",
            str(r.a.calib), "--bits", bits, "--method", method, *r.model_opts(), "-o", str(art)]
    if method == "qrt":
        qcmd[-2:-2] = ["--rounds", str(r.a.rounds)]
    log(f"  quantize {method} {bits}")
    qout, qdt = run_cmd(qcmd, r.logs / f"quantize-{method}-{bits}.log")
    (r.logs / f"quantize-{method}-{bits}.out").write_text(qout)
    cell = parse_quantize_summary(qout)
    cell["quantize_summary"] = qout.strip()
    edt = 0.0
    for split in r.splits():
        dets = r.dets / f"{method}-{bits}{split.suffix}.json"
        ecmd = [str(r.binary), "eval", "--model", str(art), *r.model_opts(), *split.eval_opts(), "--json",
                "--against-fp32", "--reference-model", str(r.ckpt), "--reference-score", str(r.a.reference_score),
                "--results", str(dets)]
        log(f"  eval {method} {bits}{split.suffix}")
        eout, dt = run_cmd(ecmd, r.logs / f"eval-{method}-{bits}{split.suffix}.log")
        cell.update(split_stats(split, last_json(eout)))
        edt += dt
    cell.update(quantize_wall_s=qdt, eval_wall_s=edt, wall_s=qdt + edt, command=shlex.join(qcmd))
    return cell


# ---------------------------------------------------------------------------------------------------------------
# COCO scoring in Python (pycocotools), the same rules as qrt-detr eval


def val_images(split: Split) -> tuple[dict, list[dict]]:
    gt = json.loads(split.instances.read_text())
    images = gt["images"][: split.limit] if split.limit else gt["images"]
    return gt, images


def coco_ap(gt_dict: dict, detections: list[dict], image_ids: list[int]) -> dict:
    """pycocotools bbox evaluation restricted to image_ids; returns AP and AP50."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = gt_dict
        gt.createIndex()
        if not detections:
            return {"ap": 0.0, "ap50": 0.0}
        dt = gt.loadRes([dict(d) for d in detections])
        ev = COCOeval(gt, dt, "bbox")
        ev.params.imgIds = list(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    ap, ap50 = float(ev.stats[0]), float(ev.stats[1])
    # pycocotools reports -1 where there is no ground truth at all; qrt-detr does the same.
    return {"ap": ap, "ap50": ap50}


def pseudo_ground_truth(images: list[dict], categories: list[dict], reference: list[dict],
                        min_score: float) -> dict:
    """qrt-detr's CocoGroundTruth.pseudoLabels: reference detections with score >= min_score become annotations
    (area = box area, not crowd), in the reference's order."""
    ids = {im["id"] for im in images}
    cats = {c["id"] for c in categories}
    anns = []
    for d in reference:
        if d["score"] >= min_score and d["image_id"] in ids and d["category_id"] in cats:
            x, y, w, h = d["bbox"]
            anns.append({"id": len(anns) + 1, "image_id": d["image_id"], "category_id": d["category_id"],
                         "bbox": [x, y, w, h], "area": w * h, "iscrowd": 0})
    return {"images": images, "categories": categories, "annotations": anns}


def python_fp_ap(r: Run, split: Split, detections: list[dict]) -> dict:
    gt, images = val_images(split)
    ref = json.loads((r.dets / f"fp32{split.suffix}.json").read_text())
    pseudo = pseudo_ground_truth(images, gt["categories"], ref, r.a.reference_score)
    out = coco_ap(pseudo, detections, [im["id"] for im in images])
    return {"fp_ap": out["ap"], "fp_ap50": out["ap50"], "fp_objects": len(pseudo["annotations"])}


def python_gt_ap(split: Split, detections: list[dict]) -> dict:
    gt, images = val_images(split)
    ids = {im["id"] for im in images}
    restricted = dict(gt, images=images, annotations=[a for a in gt["annotations"] if a["image_id"] in ids])
    return coco_ap(restricted, detections, sorted(ids))


# ---------------------------------------------------------------------------------------------------------------
# ONNX Runtime rows


def onnx_fp32(r: Run) -> Path:
    """HF checkpoint -> ONNX (opset 17): pixel_values -> logits, pred_boxes, topk_indices (the encoder tokens that
    seeded the query slots, recomputed with transformers' own expression so the graph's two TopK agree)."""
    out = r.onnx / f"model-{r.a.size}.onnx"
    if out.is_file():
        return out
    import warnings

    import torch
    import transformers
    from transformers import RTDetrForObjectDetection

    from preprocess import load_image

    ensure_checkpoint(r)
    transformers.logging.set_verbosity_error()
    model = RTDetrForObjectDetection.from_pretrained(str(r.ckpt)).float().eval()  # fp16 checkpoints export in fp32
    k = model.config.num_queries

    class Outputs(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, pixel_values):
            o = self.m(pixel_values=pixel_values)
            topk = torch.topk(o.enc_outputs_class.max(-1).values, k, dim=1).indices
            return o.logits, o.pred_boxes, topk

    wrapper = Outputs(model).eval()
    x = torch.from_numpy(load_image(sorted_images(r.a.calib_dir)[0], r.a.size))
    log(f"  exporting {out}")
    tmp = out.with_suffix(".onnx.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(wrapper, (x,), str(tmp), opset_version=17, input_names=["pixel_values"],
                          output_names=["logits", "pred_boxes", "topk_indices"], dynamo=False)
    os.replace(tmp, out)
    return out


def sorted_images(d: Path) -> list[Path]:
    """The calibration images as qrt-detr quantize lists them: JPEG/PNG, sorted by name."""
    return sorted((p for p in Path(d).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}),
                  key=lambda p: p.name)


class CalibReader:
    """CalibrationDataReader over the preprocessed calibration images; supports ORT's strided collection."""

    def __init__(self, arrays):
        self.arrays = arrays
        self.start, self.end = 0, len(arrays)
        self.i = 0

    def __len__(self):
        return len(self.arrays)

    def set_range(self, start_index: int, end_index: int):
        self.start, self.end, self.i = start_index, end_index, start_index

    def get_next(self):
        if self.i >= self.end:
            return None
        self.i += 1
        return {"pixel_values": self.arrays[self.i - 1]}

    def rewind(self):
        self.i = self.start


def calib_arrays(r: Run):
    from preprocess import load_image

    imgs = sorted_images(r.a.calib_dir)[: r.a.calib]
    if len(imgs) < r.a.calib:
        raise SetupError(f"need {r.a.calib} calibration images in {r.a.calib_dir}, found {len(imgs)}")
    return [load_image(p, r.a.size) for p in imgs]


def ort_int8(r: Run, method: str, arrays) -> tuple[Path, float]:
    """ORT static INT8 QDQ model, calibrated by ORT's own calibrator on the calibration images.

    The ranges are computed with onnxruntime.quantization.calibrate.create_calibrator (the calibrator
    quantize_static builds, on the same operator types), collecting 4 images at a time (as quantize_static's
    CalibStridedMinMax does; histograms and ranges are merged by ORT), saved with save_tensors_data and handed
    to quantize_static(calibration_cache_path=...). This is quantize_static's own path; it only lets Entropy
    take --ort-entropy-bins: with ORT's default 128 bins = 128 quantized bins the KL search has a single
    candidate and Entropy returns MinMax's ranges exactly (checked: byte-identical models)."""
    import logging

    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry
    from onnxruntime.quantization.shape_inference import quant_pre_process

    calibrator = ORT_CALIBRATORS[method]
    tag = calibrator.lower() + (f"{r.a.ort_entropy_bins}bins" if calibrator == "Entropy" else "")
    only = ORT_OP_TYPES.get(method)
    if only:
        tag += "-" + "".join(o.lower() for o in only) + "-inputs"
    out = r.onnx / f"model-{r.a.size}-int8-qdq-{tag}-{r.a.calib}.onnx"
    if out.is_file():
        return out, 0.0
    t0 = time.perf_counter()
    src = onnx_fp32(r)
    pre = r.onnx / f"model-{r.a.size}-preprocessed.onnx"
    if not pre.is_file():
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
    logging.getLogger().setLevel(logging.ERROR)
    op_types = only or sorted(set(QLinearOpsRegistry) | set(QDQRegistry))  # default: quantize_static's
    cm = getattr(CalibrationMethod, calibrator)
    opts = {"num_bins": r.a.ort_entropy_bins, "num_quantized_bins": 128} if calibrator == "Entropy" else {}
    log(f"  ORT {calibrator} calibration on {len(arrays)} images ({opts or 'ORT defaults'})")
    cal = create_calibrator(pre, op_types, augmented_model_path=str(r.onnx / f"augmented-{tag}.onnx"),
                            calibrate_method=cm, extra_options=opts)
    stride = 4
    for i in range(0, len(arrays), stride):
        cal.collect_data(CalibReader(arrays[i:i + stride]))
    ranges = cal.compute_data()
    del cal
    (r.onnx / f"augmented-{tag}.onnx").unlink(missing_ok=True)
    cache = r.onnx / f"ranges-{tag}-{r.a.calib}.json"
    save_tensors_data(ranges, cache)
    tmp = out.with_suffix(".onnx.tmp")
    log(f"  quantize_static {calibrator}")
    quantize_static(str(pre), str(tmp), CalibReader(arrays), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, calibrate_method=cm,
                    op_types_to_quantize=only,
                    extra_options={"ActivationSymmetric": False, "WeightSymmetric": True,
                                   **({"OpTypesToExcludeOutputQuantization": only} if only else {})},
                    calibration_cache_path=str(cache))
    os.replace(tmp, out)
    return out, time.perf_counter() - t0


class SQNR:
    """qrt-detr's OutputComparison: slots matched by seeding token; Σ signal² / Σ noise² in dB."""

    def __init__(self):
        self.signal = self.noise = 0.0
        self.signal_slot = self.noise_slot = 0.0
        self.matched = self.total = 0

    def add(self, ref_logits, ref_tokens, q_logits, q_tokens):
        import numpy as np

        ref_logits = ref_logits.astype(np.float64)
        q_logits = q_logits.astype(np.float64)
        slot_of = {int(t): i for i, t in enumerate(q_tokens)}
        self.total += len(ref_tokens)
        for slot, t in enumerate(ref_tokens):
            other = slot_of.get(int(t))
            if other is None:
                continue
            self.matched += 1
            d = ref_logits[slot] - q_logits[other]
            self.signal += float(ref_logits[slot] @ ref_logits[slot])
            self.noise += float(d @ d)
        d = ref_logits - q_logits
        self.signal_slot += float((ref_logits * ref_logits).sum())
        self.noise_slot += float((d * d).sum())

    @staticmethod
    def db(s, n):
        return math.inf if n == 0 else 10 * math.log10(s / n)


def ort_detections(session, r: Run, split: Split) -> list[dict]:
    import numpy as np

    from make_checkpoint import COCO_CATEGORY_IDS
    from preprocess import load_image

    _, images = val_images(split)
    dets = []
    for im in images:
        x = load_image(split.images / im["file_name"], r.a.size)
        logits, boxes, _ = session.run(None, {"pixel_values": x})
        logits, boxes = logits[0], boxes[0]
        q, c = logits.shape
        flat = logits.reshape(-1)
        # qrt-detr: top-k (k = queries) over queries x classes ranked on logits (ties by index), then the best 100
        order = np.argsort(-flat, kind="stable")[:MAX_DETS]
        w, h = float(im["width"]), float(im["height"])
        for idx in order:
            score = float(1 / (1 + np.exp(-np.float64(flat[idx]))))
            query, label = divmod(int(idx), c)
            cx, cy, bw, bh = (float(v) for v in boxes[query])
            x0, y0, x1, y1 = (cx - 0.5 * bw) * w, (cy - 0.5 * bh) * h, (cx + 0.5 * bw) * w, (cy + 0.5 * bh) * h
            dets.append({"image_id": im["id"], "category_id": COCO_CATEGORY_IDS[label],
                         "bbox": [x0, y0, x1 - x0, y1 - y0], "score": score})
    return dets


def ort_fp32_session(r: Run):
    return ort_session(onnx_fp32(r), r.a.threads)


def cell_ort(r: Run, method: str, arrays_cache: dict) -> dict:
    if "arrays" not in arrays_cache:
        arrays_cache["arrays"] = calib_arrays(r)
    arrays = arrays_cache["arrays"]
    t0 = time.perf_counter()
    path, qdt = ort_int8(r, method, arrays)
    if "fp32" not in arrays_cache:
        arrays_cache["fp32"] = ort_fp32_session(r)
    fp = arrays_cache["fp32"]
    q = ort_session(path, r.a.threads)
    import numpy as np

    sq = SQNR()
    for x in arrays:
        rl, _, rt = fp.run(None, {"pixel_values": x})
        ql, _, qt = q.run(None, {"pixel_values": x})
        sq.add(rl[0], rt[0], ql[0], qt[0])
    t1 = time.perf_counter()
    cell = {}
    for split in r.splits():
        log(f"  ORT {method}: detections on {split.instances.name}")
        dets = ort_detections(q, r, split)
        (r.dets / f"{method}-w8a8{split.suffix}.json").write_text(json.dumps(dets))
        scores = python_gt_ap(split, dets)
        scores.update(python_fp_ap(r, split, dets), images=len(val_images(split)[1]), detections=len(dets))
        cell.update({split.key(k): v for k, v in scores.items()})
    t2 = time.perf_counter()
    n_q = sum(1 for n in __import__("onnx").load(str(path), load_external_data=False).graph.node
              if n.op_type == "QuantizeLinear")
    cell.update(sqnr_logits=SQNR.db(sq.signal, sq.noise), sqnr_logits_slot=SQNR.db(sq.signal_slot, sq.noise_slot),
                query_overlap=sq.matched / max(sq.total, 1), quantize_linear_nodes=n_q,
                quantize_wall_s=qdt, eval_wall_s=t2 - t1, wall_s=time.perf_counter() - t0 if qdt else t2 - t0,
                artifact_mb=path.stat().st_size / 1e6,
                command=f"onnxruntime.quantization.quantize_static(calibrate_method={ORT_CALIBRATORS[method]}, "
                        f"QDQ, per_channel, QUInt8 activations, QInt8 weights, "
                        f"op_types_to_quantize={ORT_OP_TYPES.get(method) or 'default'}"
                        f"{', outputs not quantized' if ORT_OP_TYPES.get(method) else ''})")
    del np
    return cell


def cell_ort_fp32_check(r: Run, arrays_cache: dict) -> dict:
    """ORT FP32 through the Python detection path, scored against qrt-detr FP32: checks the ORT pipeline."""
    split = r.splits()[0]
    dets = ort_detections(ort_fp32_session(r), r, split)
    out = python_fp_ap(r, split, dets)
    out.update({"gt_" + k: v for k, v in python_gt_ap(split, dets).items()})
    return out


# ---------------------------------------------------------------------------------------------------------------
# check: the Python scoring reproduces qrt-detr's FP-agreement AP


def scoring_check(r: Run) -> list[dict]:
    out = []
    # FP32, the first finished quantized cell, and QRT W8A8
    candidates = [("fp32", "w8a8")] + [(m, b) for m in QRT_METHODS for b in BITS if (m, b) != ("qrt", "w8a8")]
    candidates.insert(1, ("qrt", "w8a8"))
    for row, bits in candidates:
        cell = r.load_cell(row, bits)
        dpath = r.dets / ("fp32.json" if row == "fp32" else f"{row}-{bits}.json")
        if not cell or "fp_ap" not in cell or not dpath.is_file() or not (r.dets / "fp32.json").is_file():
            continue
        dets = json.loads(dpath.read_text())
        split = r.splits()[0]
        py = python_fp_ap(r, split, dets)
        gt = python_gt_ap(split, dets)
        out.append({"row": row, "bits": bits, "qrt_fp_ap": cell["fp_ap"], "py_fp_ap": py["fp_ap"],
                    "qrt_ap": cell["ap"], "py_ap": gt["ap"]})
        if len(out) == 3:
            break
    return out


# ---------------------------------------------------------------------------------------------------------------
# report


def fmt(v, spec=".3f"):
    if v is None:
        return "—"
    if isinstance(v, float) and math.isinf(v):
        return "∞"
    return format(v, spec)


def machine() -> str:
    return f"{cpu_description()}, {os.cpu_count()} cores (shared with other jobs), Linux {platform.release()}"


def git_rev() -> str:
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True).stdout.strip()
        return rev
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def versions() -> str:
    out = []
    from importlib import metadata

    for mod in ("onnxruntime", "onnx", "torch", "transformers", "pycocotools", "numpy"):
        try:
            out.append(f"{mod} {metadata.version(mod)}")
        except metadata.PackageNotFoundError:
            pass
    return ", ".join(out)


def render(r: Run, command: str, meta: dict) -> str:
    a = r.a
    cells = {(row, b): r.load_cell(row, b) for row in ROWS for b in BITS}
    val_n = a.val_limit or len(json.loads((a.val_dir / "instances.json").read_text())["images"])
    L = []
    custom_calib = Path(a.calib_dir).resolve() != CALIB_DIR.resolve()
    L.append("# Quantization ablation" + (f", calibrated on `{a.calib_dir}`" if custom_calib else ""))
    L.append("")
    if r.random:
        L.append("> **Random weights.** No trained default checkpoint exists yet, so this table is measured on a "
                 f"random-weight RT-DETR {a.config} (`python3 tools/reference/make_checkpoint.py --config {a.config} "
                 f"--seed {a.seed}`: the official architecture, weights conditioned for parity tests). **The AP column "
                 "(against val-dev's ground truth) is meaningless on random weights** — it is ~0 for every row, FP32 "
                 "included, and is shown only so the table has its final shape. The measures of quantization damage "
                 "here are **FP-agreement AP** and **logits SQNR**. Regenerate with the trained checkpoint once it "
                 "exists (`--checkpoint DIR`).")
        L.append("")
    if not r.random and a.frames:
        fp32 = cells[("fp32", "w8a8")] or {}
        L.append(f"> **Two validation sets.** The checkpoint is `{a.checkpoint}`. Its AP on COCO val-dev's ground "
                 f"truth is shown as asked (FP32: {fmt(fp32.get('ap'))}), but a model trained on a few hundred images "
                 "of a few traffic scenes barely detects COCO's photos, so that column cannot rank the methods; its "
                 "FP-agreement AP there rests on the few confident FP32 detections. The second table scores the same "
                 "models on held-out frames of the videos the model was trained for "
                 f"(FP32 AP50 {fmt(fp32.get('ap50_frames'))}), where both AP and FP-agreement are measured on many "
                 "confident detections.")
        L.append("")
    if a.reference_score != REFERENCE_SCORE:
        fp = (r.dets / "fp32.json")
        counts = ""
        if fp.is_file():
            d = json.loads(fp.read_text())
            n_default = sum(1 for x in d if x["score"] >= REFERENCE_SCORE)
            n_used = sum(1 for x in d if x["score"] >= a.reference_score)
            counts = (f" On these images the FP32 model has {n_default} detection(s) with score ≥ {REFERENCE_SCORE} "
                      f"and {n_used} with score ≥ {a.reference_score}.")
        L.append(f"> **FP-agreement threshold {a.reference_score}, not qrt-detr's default {REFERENCE_SCORE}.** A random-"
                 "weight model's sigmoid scores sit around 0.2, so at 0.5 the pseudo ground truth is (almost) empty and "
                 f"FP-agreement AP degenerates to 0 or 1.{counts} Every FP-AP here (qrt-detr's `eval --reference-score` "
                 "and the Python scoring of the ORT rows) uses the same threshold.")
        L.append("")
    L.append("Generated by `tools/ablation/run.py` — do not edit by hand. Command (regenerates the whole report; "
             "with the cache in place it only re-renders):")
    L.append("")
    L.append("```")
    L.append(command)
    L.append("```")
    L.append("")

    built = meta.get("built_from") or f"git {meta['rev']}{meta.get('rev_note', '')} (the checkout's HEAD at the run)"
    L.append(f"- date: {meta['date']}; machine: {machine()}")
    L.append(f"- qrt-detr: `swift build -c release` from {built}; binary `{a.binary}`")
    model = f"{a.config}, random weights (seed {a.seed})" if r.random else f"`{a.checkpoint}`"
    L.append(f"- model: {model}; input {a.size}×{a.size}; {a.threads} threads "
             "for every runtime")
    calib = "shared/data/coco/train-calib/images" if Path(a.calib_dir).resolve() == CALIB_DIR.resolve() else a.calib_dir
    L.append(f"- calibration: the first {a.calib} images of `{calib}` by name, the same "
             "images for every row (qrt-detr `quantize --images`, ORT's CalibrationDataReader)")
    which = f"the first {val_n} images (`qrt-detr eval --limit {val_n}`)" if a.val_limit else f"all {val_n} images"
    L.append(f"- validation: {which} of `shared/data/coco/val-dev/instances.json`; FP-agreement pseudo ground truth: "
             f"the FP32 model's detections with score ≥ {a.reference_score} on them")
    narrowed = [(b, NARROWED_RE.search(c.get("quantize_summary", ""))) for (row, b), c in cells.items()
                 if c and row in QRT_METHODS]
    narrowed = [(b, m) for b, m in narrowed if m]
    if narrowed:
        fewest = min(int(m.group(2)) for _, m in narrowed)
        widths = [b.upper() for b in BITS if any(b == w for w, _ in narrowed)]
        L.append(f"- INT8 on this CPU (no VNNI: u8·s8 products go through vpmaddubsw's saturating 16-bit pair sums): "
                 f"in {', '.join(widths)} qrt-detr runs each layer's activations on as many levels as its weights "
                 f"allow without saturation — as few as {fewest} of 256 — on the calibrated ranges (its quantize "
                 "summaries say so; other bit widths fit as they are). ONNX Runtime runs without its `reduce_range` "
                 "option, as in tools/bench/anchors.py, so its u8·s8 sums may saturate here instead.")
    L.append(f"- QRT: `--method qrt --rounds {a.rounds}`; everything else at qrt-detr's defaults (per-channel "
             "symmetric weights with MSE scale search, every convolution and linear layer quantized, none kept in FP32)")
    L.append(f"- versions: {versions()}")
    L.append("")
    inv = meta.get("invocations") or []
    if len(inv) > 1 or (inv and inv[0]["command"] != command):
        L.append("Produced by these invocations, sharing one cache (cells finished by one are reused by the next):")
        L.append("")
        for i in inv:
            L.append(f"- `{i['command']}` — finished {i['finished']}, {i['wall_s'] / 60:.1f} min")
        L.append("")
    L.append("## Results")
    L.append("")
    meaning = "meaningless here" if r.random else "see the note above" if a.frames else "ground truth"
    L.append(f"Cell: **AP** (val-dev ground truth; {meaning}) / **FP-AP** (FP-agreement AP) / **SQNR** "
             "(logits, dB, calibration images). \"n/a\": the runtime has no such mode; \"—\": not run.")
    L.append("")
    L.extend(method_table(cells, ROWS, lambda row, c: f"{fmt(c.get('ap'))} / **{fmt(c.get('fp_ap'))}** / "
                                                     f"{fmt(c.get('sqnr_logits'), '.1f')}"))
    L.append("FP32 is the unquantized model (the same cell repeated: its FP-AP is its agreement with itself, SQNR ∞).")
    L.append("")
    if a.frames:
        L.extend(frames_table(r, cells))

    # details
    L.append("### Details")
    L.append("")
    L.append("FP-agreement AP50 / share of query slots seeded by the same encoder token as in FP32 (calibration "
             "images) / boxes SQNR dB (qrt-detr rows) or slot-by-slot logits SQNR dB (ORT rows, no matching):")
    L.append("")
    def details(row: str, c: dict) -> str:
        third = c.get("sqnr_boxes") if not row.startswith("ort-") else c.get("sqnr_logits_slot")
        return f"{fmt(c.get('fp_ap50'))} / {fmt(100 * c.get('query_overlap', 0), '.0f')}% / {fmt(third, '.1f')}"
    L.extend(method_table(cells, ROWS[1:], details))

    # wall time
    L.append("### Wall time")
    L.append("")
    L.append(f"Seconds per cell, quantize + eval. qrt-detr: `quantize` (statistics, calibration, SQNR pass) + "
             f"`eval` ({val_n} images through the model and again through the FP32 reference for `--against-fp32`). "
             "ORT: export (first row only) + calibration + quantize_static, then the val detections and scoring; the "
             "row total also counts the SQNR pass. The 2 cores are shared with other jobs, so the figures move "
             "with their load.")
    L.append("")
    L.append("| method | " + " | ".join(b.upper() for b in BITS) + " | row total |")
    L.append("|---|" + "---:|" * (len(BITS) + 1))
    for row in ROWS:
        parts, tot = [], 0.0
        for b in BITS:
            if row == "fp32" and b != "w8a8":
                parts.append("")
                continue
            c = cells[(row, b)]
            if row.startswith("ort-") and b != "w8a8":
                parts.append("n/a")
            elif c is None or "error" in c:
                parts.append("—")
            else:
                tot += c.get("wall_s", 0)
                if "quantize_wall_s" in c:
                    parts.append(f"{c['quantize_wall_s']:.0f} + {c['eval_wall_s']:.0f}")
                else:
                    parts.append(f"{c.get('wall_s', 0):.0f}")
        L.append(f"| {LABELS[row]} | " + " | ".join(parts) + f" | {tot:.0f} |")
    L.append("")
    inv = meta.get("invocations") or []
    if inv:
        L.append(f"Total wall time of the run{' (all invocations)' if len(inv) > 1 else ''}: "
                 f"{sum(i['wall_s'] for i in inv) / 60:.1f} min.")
        L.append("")

    # QRT stage errors
    L.append("### QRT stage errors")
    L.append("")
    L.append("From the `qrt-detr quantize --method qrt` summaries: relative error before → after each stage.")
    L.append("")
    any_stage = False
    for b in BITS:
        c = cells[("qrt", b)]
        if not c or "error" in c or not c.get("stages"):
            continue
        any_stage = True
        L.append(f"- **{b.upper()}**: " + "; ".join(
            f"{s['name']}: {s['before']:.3e} → {s['after']:.3e} ({ratio(s)})" for s in c["stages"]))
    if not any_stage:
        L.append("(no QRT cell has been run)")
    L.append("")

    # checks
    L.append("### Checks")
    L.append("")
    checks = scoring_check(r)
    if checks:
        L.append("Python scoring (pycocotools, the pseudo ground truth built as qrt-detr builds it) of qrt-detr's own "
                 "detections (`eval --results`) against qrt-detr's reported numbers; the ORT rows use this scoring:")
        L.append("")
        L.append("| cell | qrt-detr FP-AP | Python FP-AP | \\|Δ\\| | qrt-detr AP | Python AP |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for k in checks:
            L.append(f"| {LABELS[k['row']]} {k['bits'].upper() if k['row'] != 'fp32' else ''} | {k['qrt_fp_ap']:.4f} | "
                     f"{k['py_fp_ap']:.4f} | {abs(k['qrt_fp_ap'] - k['py_fp_ap']):.4f} | {k['qrt_ap']:.4f} | "
                     f"{k['py_ap']:.4f} |")
        L.append("")
    ofc = meta.get("ort_fp32_check")
    if ofc:
        L.append(f"ONNX Runtime FP32 (the exported graph, unquantized) through the Python detection path, scored "
                 f"against qrt-detr FP32's detections: FP-AP {ofc['fp_ap']:.4f} (AP50 {ofc['fp_ap50']:.4f}) — the "
                 "ORT pipeline (export, preprocessing, post-processing, category ids) reproduces qrt-detr's FP32 "
                 "detections, so ORT FP-AP is comparable with the qrt-detr rows.")
        L.append("")
    errs = [(row, b, c["error"]) for (row, b), c in cells.items() if c and "error" in c]
    for row, b, e in errs:
        L.append(f"- failed: {LABELS[row]} {b.upper()}: {e}")
    if errs:
        L.append("")

    L.append("## How the numbers are made")
    L.append("")
    L.append("- **qrt-detr rows**: `qrt-detr quantize --model CKPT --calib train-calib/images --images N --bits B "
             "--method M --size S --threads T -o M-B.qrt`, then `qrt-detr eval --model M-B.qrt --coco "
             "val-dev/instances.json --images val-dev/images --limit V --json --against-fp32 --reference-model CKPT` "
             "(the .qrt runs on the INT8 oneDNN executor). SQNR is the quantize summary's logits SQNR: INT8 vs FP32 "
             "on the calibration images, query slots matched by the encoder token that seeded them.")
    L.append("- **ONNX Runtime rows**: `torch.onnx.export` of the same checkpoint at the same size (opset 17; "
             "outputs logits, pred_boxes and the encoder's top-k token indices), `quant_pre_process`, then "
             "`quantize_static(QDQ, per_channel=True, activation QUInt8 asymmetric, weight QInt8 symmetric, "
             "calibrate_method=MinMax|Entropy|Percentile)` on the same calibration images — the configuration of "
             "`tools/bench/anchors.py`'s `ort_int8_model`. Ranges come from ORT's own calibrator (`create_calibrator` on quantize_static's "
             "default operator types, 4 images at a time, merged by ORT) through quantize_static's "
             "`calibration_cache_path`. MinMax and Percentile (99.999th, 2048 bins, symmetric) at ORT's defaults; "
             f"Entropy with {a.ort_entropy_bins} histogram bins → 128 quantized bins, because at ORT's default "
             "(128 → 128) the KL search has one candidate and Entropy returns MinMax's ranges exactly "
             "(byte-identical models). The first three rows quantize ORT's "
             "default operator set, which is much wider than qrt-detr's quant points (every convolution and linear "
             "layer input): Q/DQ also go around Add, Mul, Sigmoid, Softmax, LayerNormalization, GridSample, the "
             "attention MatMuls, Reshape/Gather/Concat — and the model outputs themselves, so the final logits "
             "and boxes are u8 (a quantization step of the logits' whole range, which alone caps SQNR and ties "
             "close scores). The extra row *MinMax, Conv+Gemm inputs only* (`op_types_to_quantize=['Conv', 'Gemm']`, "
             "`OpTypesToExcludeOutputQuantization=['Conv', 'Gemm']`; torch exports every Linear as Gemm) quantizes "
             "exactly qrt-detr's quant points — the inputs and weights of every convolution and linear layer, "
             "outputs left in float — for a like-for-like comparison. "
             "Detections: ORT INT8 on the val images with tools/reference/preprocess.py and qrt-detr's "
             "post-processing, scored with pycocotools (AP against val-dev, FP-AP against qrt-detr FP32's "
             f"detections with score ≥ {a.reference_score}). SQNR: ORT INT8 logits vs ORT FP32 logits on the calibration images, "
             "query slots matched by seeding token exactly as qrt-detr does (the exported topk_indices); the "
             "unmatched slot-by-slot figure is in Details. ORT has no 6- or 4-bit static path: those cells are n/a.")
    if a.frames:
        L.append("- **Held-out frames**: the same `qrt-detr eval` (and for ORT the same Python scoring) with `--coco` "
                 "the frames' instances.json (every --frames-stride-th image, written into the cache) and `--images` "
                 "their folder; FP-agreement there against the FP32 model's detections on those frames.")
    L.append("- **FP-agreement AP**: COCO AP (IoU .50:.95, 100 detections per image) of a model's detections with "
             f"the FP32 model's detections of score ≥ {a.reference_score} on the same images taken as ground truth. "
             "1.0 means the "
             "quantized model reproduces every confident FP32 detection and ranks them first.")
    L.append("")
    obs = meta.get("observations")
    if obs:
        L.append("## Observations")
        L.append("")
        L.append(obs)
        L.append("")
    return "\n".join(L)


def frames_table(r: Run, cells: dict) -> list[str]:
    a = r.a
    gt = json.loads(r.frames_instances().read_text())
    every = f", every {a.frames_stride}th frame" if a.frames_stride != 1 else ""
    L = [f"### On the model's own domain: {len(gt['images'])} held-out video frames", ""]
    L.append(f"`{a.frames}`{every} ({len(gt['annotations'])} labelled objects), frames the trained model never saw "
             "(tools/train/prepare_data.py: the last 20% of each shared video, labelled by the YOLOv3-tiny teacher, "
             "the overhead cars by background subtraction). Cell: **AP50** against those labels / **FP-AP** "
             f"(FP-agreement AP, the FP32 model's detections there with score ≥ {a.reference_score} as ground truth) "
             "/ FP-agreement AP50 (the same detections matched at IoU 0.5 only: found at all, boxes aside).")
    L.append("")
    L.extend(method_table(cells, ROWS, lambda row, c: f"{fmt(c.get('ap50_frames'))} / **{fmt(c.get('fp_ap_frames'))}** / "
                                                     f"{fmt(c.get('fp_ap50_frames'))}",
                          needs="ap50_frames"))
    return L


def method_table(cells: dict, rows: list[str], text, needs: str | None = None) -> list[str]:
    """A method x bit-width Markdown table; `text(row, cell)` renders a finished cell. FP32 repeats its one cell;
    ORT has W8A8 only; "—" is not run (or lacks `needs`), "failed" has an error."""
    L = ["| method | " + " | ".join(b.upper() for b in BITS) + " |", "|---|" + "---:|" * len(BITS)]
    for row in rows:
        parts = []
        for b in BITS:
            c = cells[(row, b)] if row != "fp32" else cells[("fp32", "w8a8")]
            if row.startswith("ort-") and b != "w8a8":
                parts.append("n/a")
            elif c is None or (needs and "error" not in c and needs not in c):
                parts.append("—")
            elif "error" in c:
                parts.append("failed")
            else:
                parts.append(text(row, c))
        L.append(f"| {LABELS[row]} | " + " | ".join(parts) + " |")
    L.append("")
    return L


def canonical_command(a: argparse.Namespace) -> str:
    """The command that regenerates the whole report with these settings (no --methods/--bits subsets)."""
    parts = ["python3", "tools/ablation/run.py"]
    parts += ["--checkpoint", a.checkpoint] if a.checkpoint else ["--config", a.config]
    parts += ["--size", str(a.size), "--calib", str(a.calib)]
    if Path(a.calib_dir).resolve() != CALIB_DIR.resolve():
        parts += ["--calib-dir", str(a.calib_dir)]
    if a.val_limit:
        parts += ["--val-limit", str(a.val_limit)]
    if a.frames:
        parts += ["--frames", str(a.frames)]
        if a.frames_stride != 1:
            parts += ["--frames-stride", str(a.frames_stride)]
    if a.seed != 0:
        parts += ["--seed", str(a.seed)]
    if a.rounds != 2:
        parts += ["--rounds", str(a.rounds)]
    if a.threads != 2:
        parts += ["--threads", str(a.threads)]
    if a.reference_score != REFERENCE_SCORE:
        parts += ["--reference-score", str(a.reference_score)]
    if a.ort_entropy_bins != 512:
        parts += ["--ort-entropy-bins", str(a.ort_entropy_bins)]
    parts += ["--binary", str(a.binary)]
    return shlex.join(parts)


def ratio(s: dict) -> str:
    if s["before"] == 0:
        return "—"
    return f"×{s['after'] / s['before']:.2f}"


# ---------------------------------------------------------------------------------------------------------------


def main(argv=None) -> int:
    from make_checkpoint import CONFIG_NAMES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", default=None,
                    help="an FP32 Hugging Face checkpoint directory (the trained model); default: a random-weight "
                         "--config checkpoint made by tools/reference/make_checkpoint.py")
    ap.add_argument("--config", default="r18vd", choices=CONFIG_NAMES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--calib", type=int, default=32, help="calibration images (first N by name)")
    ap.add_argument("--val-limit", type=int, default=0, help="first N val-dev images (0: all)")
    ap.add_argument("--rounds", type=int, default=2, help="QRT alternations")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--binary", default=str(REPO / ".build" / "release" / "qrt-detr"))
    ap.add_argument("--methods", default=",".join(ROWS), help=f"rows to (re)run: {','.join(ROWS)}")
    ap.add_argument("--bits", default=",".join(BITS), help=f"columns to (re)run: {','.join(BITS)}")
    ap.add_argument("--cache", default=None, help="artifacts and results (default /tmp/qrt-ablation/<settings>)")
    ap.add_argument("--out", default=str(REPO / "docs" / "quantization.md"))
    ap.add_argument("--force", action="store_true", help="recompute the selected cells even if cached")
    ap.add_argument("--render-only", action="store_true", help="only re-render the report from the cache")
    ap.add_argument("--observations", default=None, help="markdown file with the observations paragraph")
    ap.add_argument("--calib-dir", type=Path, default=CALIB_DIR)
    ap.add_argument("--val-dir", type=Path, default=VAL_DIR)
    ap.add_argument("--frames", type=Path, default=None,
                    help="a second validation set in the model's own domain (instances.json + images/, e.g. the "
                         "trained model's held-out video frames, tools/train/.cache/heldout): AP and FP-AP there too")
    ap.add_argument("--frames-stride", type=int, default=1, help="use every K-th image of --frames")
    ap.add_argument("--rev-note", default="", help="appended to the git revision in the header")
    ap.add_argument("--built-from", default=None,
                    help="what the binary was built from, for the header (default: the current git revision)")
    ap.add_argument("--reference-score", type=float, default=REFERENCE_SCORE,
                    help="FP32 detections at or above this score are the FP-agreement ground truth (qrt-detr eval "
                         "--reference-score; default 0.5 as qrt-detr)")
    ap.add_argument("--ort-entropy-bins", type=int, default=512,
                    help="histogram bins of ORT's Entropy calibrator (ORT's default 128 degenerates to MinMax)")
    a = ap.parse_args(argv)

    methods = [m.strip() for m in a.methods.split(",") if m.strip()]
    bits = [b.strip().lower() for b in a.bits.split(",") if b.strip()]
    bad = [m for m in methods if m not in ROWS] + [b for b in bits if b not in BITS]
    if bad:
        print(f"unknown method or bits: {', '.join(bad)}", file=sys.stderr)
        return 2
    if a.cache is None:
        name = Path(a.checkpoint).resolve().name if a.checkpoint else a.config
        a.cache = f"/tmp/qrt-ablation/{name}-s{a.size}-c{a.calib}-v{a.val_limit or 'all'}"
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    r = Run(a)
    try:
        r.check_settings()
        if a.checkpoint and not (Path(a.checkpoint) / "model.safetensors").is_file():
            raise SetupError(f"--checkpoint {a.checkpoint}: no model.safetensors there")
        if not a.render_only and any(m in ROWS[:7] for m in methods):
            if not r.binary.is_file():
                raise SetupError(f"binary not found: {r.binary} (swift build -c release)")
    except SetupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2

    t_start = time.perf_counter()
    failed = 0
    meta_path = r.cache / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    if "command" in meta and "invocations" not in meta:  # a cache written before invocations were recorded
        meta["invocations"] = [{"command": meta["command"], "finished": meta.get("date", "?"),
                                "wall_s": meta.get("total_wall_s", 0.0)}]
    if not a.render_only:
        import torch

        torch.set_num_threads(a.threads)
        arrays_cache: dict = {}
        # FP32 first: its detections are every FP-agreement's reference
        order = (["fp32"] if "fp32" in methods or any(m != "fp32" for m in methods) else []) + \
                [m for m in ROWS[1:] if m in methods]
        for row in order:
            row_bits = ["w8a8"] if row == "fp32" or row.startswith("ort-") else bits
            if row.startswith("ort-") and "w8a8" not in bits:
                continue
            for b in row_bits:
                cached = r.load_cell(row, b)
                forced = a.force and row in methods and (b in bits or row == "fp32")
                if cached and "error" not in cached and not forced:
                    continue
                log(f"{LABELS[row]} {b.upper() if row != 'fp32' else ''}")
                try:
                    if row == "fp32":
                        cell = cell_fp32(r)
                    elif row.startswith("ort-"):
                        cell = cell_ort(r, row, arrays_cache)
                    else:
                        cell = cell_qrt(r, row, b)
                except Exception as e:  # noqa: BLE001 - one failed cell must not stop the table
                    failed += 1
                    msg = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
                    log(f"  failed: {msg}")
                    cell = {"error": msg}
                r.save_cell(row, b, cell)
                c = cell
                if "error" not in c:
                    log(f"  AP {fmt(c.get('ap'))}  FP-AP {fmt(c.get('fp_ap'))}  SQNR {fmt(c.get('sqnr_logits'), '.1f')} dB"
                        f"  ({c.get('wall_s', 0):.0f} s)")
        if any(m.startswith("ort-") for m in methods) and (r.dets / "fp32.json").is_file() \
                and not meta.get("ort_fp32_check"):
            try:
                log("check: ORT FP32 through the Python path vs qrt-detr FP32")
                meta["ort_fp32_check"] = cell_ort_fp32_check(r, arrays_cache)
            except Exception as e:  # noqa: BLE001
                log(f"  ORT FP32 check failed: {e}")
        meta["checks"] = scoring_check(r)
        meta["total_wall_s"] = time.perf_counter() - t_start
        meta["date"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        meta["rev"] = git_rev()
        meta["rev_note"] = a.rev_note
        meta["command"] = "python3 tools/ablation/run.py " + shlex.join(argv if argv is not None else sys.argv[1:])
        meta.setdefault("invocations", []).append(
            {"command": meta["command"], "finished": meta["date"], "wall_s": meta["total_wall_s"]})
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    # --observations and --built-from are kept in the cache, so a later re-render keeps them
    if a.observations:
        meta["observations"] = Path(a.observations).read_text().strip()
    if a.built_from:
        meta["built_from"] = a.built_from
    if a.rev_note:
        meta["rev_note"] = a.rev_note
    if a.observations or a.built_from or a.rev_note:
        meta_path.write_text(json.dumps(meta, indent=1) + "\n")
    meta.setdefault("date", _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"))
    meta.setdefault("rev", git_rev())
    command = canonical_command(a)
    text = render(r, command, meta)
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text + "\n")
    log(f"wrote {a.out}")
    for k in meta.get("checks") or []:
        log(f"check {k['row']} {k['bits']}: qrt-detr FP-AP {k['qrt_fp_ap']:.4f}, Python {k['py_fp_ap']:.4f}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
