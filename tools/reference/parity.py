#!/usr/bin/env python3
"""End-to-end parity: the Swift `qrt-detr detect --raw` output against transformers' PyTorch, same weights and input.

    python tools/reference/parity.py --config r18vd [--size 640] [--image PATH] [--binary .build/release/qrt-detr]
    python tools/reference/parity.py --config r18vd --self-check      # test this script without the Swift binary

1. makes (or reuses) the random checkpoint /tmp/qrt-parity/<config>[-seed<N>] with make_checkpoint.py;
2. preprocesses IMAGE with preprocess.py (ffmpeg bilinear, /255, NCHW) and runs PyTorch float32 on it;
3. runs `<binary> detect --model DIR --size S --raw OUT.safetensors IMAGE`, which must write
   `logits` [N,300,C] (pre-sigmoid) and `pred_boxes` [N,300,4] (normalized cxcywh), any float dtype;
4. compares the 300 (logits, box) rows slot by slot and as a set, matched one-to-one by the Hungarian
   method on the cost mean|d logits| + mean|d box| (random weights can reorder slots; DESIGN.md, RT-DETR);
5. prints max |d| for logits and boxes both ways; exits 1 if a matched max |d| exceeds --tol (1e-3),
   2 on a usage/setup error (one line on stderr), 0 on success.

--self-check replaces step 3 by PyTorch itself in float64, slots shuffled, written as F64 safetensors.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
REPO = HERE.parents[1]

import numpy as np  # noqa: E402

CACHE = Path("/tmp/qrt-parity")


class SetupError(Exception):
    """Reported as one line, exit status 2."""


def checkpoint_dir(config: str, seed: int) -> Path:
    return CACHE / (config if seed == 0 else f"{config}-seed{seed}")


def ensure_checkpoint(config: str, seed: int, log=print) -> Path:
    """Make the random checkpoint once; reuse it while its provenance matches."""
    from make_checkpoint import RECIPE_VERSION, make_model, save_checkpoint

    d = checkpoint_dir(config, seed)
    prov_path = d / "qrt_random_checkpoint.json"
    want = {"config": config, "seed": seed, "dtype": "fp32", "score_scale": 300.0, "recipe": RECIPE_VERSION}
    if (d / "config.json").is_file() and (d / "model.safetensors").is_file() and prov_path.is_file():
        try:
            have = json.loads(prov_path.read_text())
            if all(have.get(k) == v for k, v in want.items()):
                return d
        except (OSError, ValueError):
            pass
    log(f"making random {config} checkpoint (seed {seed}) in {d} ...")
    model = make_model(config, seed)
    prov = dict(want, generator="tools/reference/make_checkpoint.py via parity.py",
                calib_size=96 if config == "tiny" else 320, note="random weights for parity tests")
    save_checkpoint(model, d, "fp32", prov)
    return d


def read_raw(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(logits [Q,C], boxes [Q,4]) as float64 from a --raw safetensors file (batch element 0)."""
    from safetensors.numpy import load_file

    try:
        t = load_file(str(path))
    except Exception as e:  # noqa: BLE001 - report any decode failure as one line
        raise SetupError(f"cannot read {path}: {e}") from None
    for k in ("logits", "pred_boxes"):
        if k not in t:
            raise SetupError(f"{path} has no tensor '{k}' (found: {', '.join(sorted(t)) or 'none'})")
    lg, bx = t["logits"], t["pred_boxes"]
    if lg.ndim == 3:
        lg = lg[0]
    if bx.ndim == 3:
        bx = bx[0]
    if lg.ndim != 2 or bx.ndim != 2 or bx.shape[1] != 4 or lg.shape[0] != bx.shape[0]:
        raise SetupError(f"{path}: unexpected shapes logits {t['logits'].shape}, pred_boxes {t['pred_boxes'].shape}")
    return lg.astype(np.float64), bx.astype(np.float64)


def compare(ref_l, ref_b, got_l, got_b) -> dict:
    """Slot-by-slot and Hungarian-matched max |d| of logits and boxes."""
    from scipy.optimize import linear_sum_assignment

    if ref_l.shape != got_l.shape or ref_b.shape != got_b.shape:
        raise SetupError(f"shape mismatch: reference logits {ref_l.shape} boxes {ref_b.shape}, "
                         f"candidate logits {got_l.shape} boxes {got_b.shape}")
    slot_l = float(np.abs(ref_l - got_l).max())
    slot_b = float(np.abs(ref_b - got_b).max())
    # cost[i, j]: reference row i against candidate row j
    cost = (np.abs(ref_l[:, None, :] - got_l[None, :, :]).mean(-1)
            + np.abs(ref_b[:, None, :] - got_b[None, :, :]).mean(-1))
    rows, cols = linear_sum_assignment(cost)
    dl = np.abs(ref_l[rows] - got_l[cols]).max(-1)
    db = np.abs(ref_b[rows] - got_b[cols]).max(-1)
    worst = np.argsort(-np.maximum(dl, db))[:5]
    return {
        "slot_max_logits": slot_l,
        "slot_max_boxes": slot_b,
        "matched_max_logits": float(dl.max()),
        "matched_max_boxes": float(db.max()),
        "moved_slots": int((rows != cols).sum()),
        "worst": [(int(rows[i]), int(cols[i]), float(dl[i]), float(db[i])) for i in worst],
    }


def check_binary(binary: Path) -> None:
    if not binary.is_file():
        raise SetupError(f"Swift binary not found: {binary} (build it: swift build -c release; or pass --binary PATH; "
                         "--self-check tests this script without it)")
    if not os.access(binary, os.X_OK):
        raise SetupError(f"Swift binary is not executable: {binary}")


def run_binary(binary: Path, model_dir: Path, size: int, image: Path, out: Path, threads: int) -> None:
    check_binary(binary)
    cmd = [str(binary), "detect", "--model", str(model_dir), "--size", str(size), "--raw", str(out), str(image)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    out.unlink(missing_ok=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, check=False)
    if p.returncode != 0:
        tail = (p.stderr.decode(errors="replace").strip().splitlines() or ["(no stderr)"])[-1]
        raise SetupError(f"`{' '.join(cmd)}` exited {p.returncode}: {tail}")
    if not out.is_file():
        raise SetupError(f"`{' '.join(cmd)}` succeeded but wrote no {out}")


def self_check_output(model_dir: Path, x, out: Path, seed: int, perturb: float) -> None:
    """Fake the Swift output: PyTorch float64, slots shuffled, stored as F64."""
    import torch
    from safetensors.numpy import save_file
    from transformers import RTDetrForObjectDetection

    m = RTDetrForObjectDetection.from_pretrained(str(model_dir)).eval().double()
    with torch.no_grad():
        o = m(pixel_values=x.double())
    lg = o.logits.numpy().astype(np.float64)
    bx = o.pred_boxes.numpy().astype(np.float64)
    perm = np.random.default_rng(seed + 12345).permutation(lg.shape[1])
    lg, bx = lg[:, perm].copy(), bx[:, perm].copy()
    if perturb:
        lg[0, 7, 3] += perturb
    save_file({"logits": lg, "pred_boxes": bx}, str(out))


def main(argv=None) -> int:
    from make_checkpoint import CONFIG_NAMES

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="r18vd", choices=CONFIG_NAMES)
    ap.add_argument("--checkpoint", type=Path, default=None,
                    help="an existing Hugging Face RT-DETR directory (e.g. models/rtdetr-r18vd-traffic) instead of --config's random one")
    ap.add_argument("--size", type=int, default=640)
    ap.add_argument("--image", default=None, help="default: the first photo of shared/data/coco/val-dev/images")
    ap.add_argument("--binary", default=str(REPO / ".build" / "release" / "qrt-detr"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--self-check", action="store_true",
                    help="fake the binary's output with PyTorch float64, slots shuffled")
    ap.add_argument("--perturb", type=float, default=0.0,
                    help="with --self-check: add this to one logit (tests the failure path)")
    ap.add_argument("--out", default=None, help="where the raw output goes (default /tmp/qrt-parity/<config>/raw.safetensors)")
    a = ap.parse_args(argv)

    try:
        from preprocess import default_image, load_image

        image = Path(a.image) if a.image else default_image()
        if not image.is_file():
            raise SetupError(f"image not found: {image}")
        binary = Path(a.binary)
        if not a.self_check:  # fail fast, before the PyTorch run
            check_binary(binary)

        import torch
        import transformers
        from transformers import RTDetrForObjectDetection

        from make_checkpoint import selection_report

        transformers.logging.set_verbosity_error()
        torch.set_num_threads(a.threads)
        model_dir = a.checkpoint if a.checkpoint else ensure_checkpoint(a.config, a.seed)
        if a.checkpoint and not (model_dir / "config.json").is_file():
            raise SetupError(f"{model_dir}: no config.json")
        scratch = Path("/tmp/qrt-parity") / model_dir.name
        scratch.mkdir(parents=True, exist_ok=True)
        out = Path(a.out) if a.out else (scratch if a.checkpoint else model_dir) / f"raw-{a.size}.safetensors"

        x = torch.from_numpy(load_image(image, a.size))
        model = RTDetrForObjectDetection.from_pretrained(str(model_dir), dtype=torch.float32).eval()
        with torch.no_grad():
            o = model(pixel_values=x)
        ref_l = o.logits[0].numpy().astype(np.float64)
        ref_b = o.pred_boxes[0].numpy().astype(np.float64)
        sel = selection_report(model, x)

        if a.self_check:
            self_check_output(model_dir, x, out, a.seed, a.perturb)
            who = "PyTorch float64, slots shuffled (--self-check)"
        else:
            run_binary(binary, model_dir, a.size, image, out, a.threads)
            who = str(binary)
        got_l, got_b = read_raw(out)
        r = compare(ref_l, ref_b, got_l, got_b)
    except SetupError as e:
        print(f"parity: error: {e}", file=sys.stderr)
        return 2

    print(f"parity {model_dir.name if a.checkpoint else a.config} {a.size}x{a.size} on {image.name}: PyTorch {torch.__version__} float32 vs {who}")
    print(f"  checkpoint {model_dir}; raw output {out}")
    print(f"  query selection: top-{sel['k']} boundary gap {sel['gap_at_k']:.4g} at score {sel['score_kth']:.1f}, "
          f"min gap inside {sel['min_gap_in_topk']:.3g}, masked positions selected {sel['masked_selected']}/{sel['masked_positions']}")
    print(f"  slot by slot : max|d logits| {r['slot_max_logits']:.3e}   max|d boxes| {r['slot_max_boxes']:.3e}")
    print(f"  matched (set): max|d logits| {r['matched_max_logits']:.3e}   max|d boxes| {r['matched_max_boxes']:.3e}"
          f"   ({r['moved_slots']} of {ref_l.shape[0]} rows matched to another slot)")
    ok = r["matched_max_logits"] <= a.tol and r["matched_max_boxes"] <= a.tol
    if not ok:
        print("  worst matched rows (ref slot, candidate slot, d logits, d boxes): "
              + "; ".join(f"({i}, {j}, {dl:.3g}, {db:.3g})" for i, j, dl, db in r["worst"]))
    print(f"  {'PASS' if ok else 'FAIL'} (tolerance {a.tol:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
