#!/usr/bin/env python3
"""Exports the training state as the shipped default model: Hugging Face RTDetrForObjectDetection, fp16.

    python3 tools/train/export.py [--cache tools/train/.cache] [-o models/rtdetr-r18vd-traffic]

Writes config.json + model.safetensors (fp16; the backbone's trained batch norms become the frozen batch
norms a stock RT-DETR config expects) and preprocessor_config.json (RTDetrImageProcessor: square resize to
the training size, 1/255, no mean/std), which qrt-detr reads for the model's default input size.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "reference"))
from make_checkpoint import build_config  # noqa: E402

LIMIT_BYTES = 45 * 1024 * 1024


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    parser.add_argument("-o", "--output", type=Path, default=HERE.parents[1] / "models/rtdetr-r18vd-traffic")
    args = parser.parse_args(argv)
    from transformers import RTDetrForObjectDetection

    state = torch.load(args.cache / "train-state.pt", weights_only=False)
    model = RTDetrForObjectDetection(build_config("r18vd"))
    weights = {k: v for k, v in state["model"].items() if not k.endswith("num_batches_tracked")}
    missing, unexpected = model.load_state_dict(weights, strict=False)
    if missing or unexpected:
        raise SystemExit(f"error: training state does not match r18vd: missing {missing[:3]}, unexpected {unexpected[:3]}")
    model = model.to(torch.float16).eval()
    args.output.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.output, safe_serialization=True)
    for file in args.output.iterdir():
        file.chmod(0o644)
    size = int(state["size"])
    (args.output / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "RTDetrImageProcessor", "format": "coco_detection",
        "do_resize": True, "size": {"height": size, "width": size}, "resample": 2,
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": False, "do_pad": False,
        "do_convert_annotations": True,
    }, indent=2) + "\n")
    weights_file = args.output / "model.safetensors"
    if weights_file.stat().st_size > LIMIT_BYTES:
        raise SystemExit(f"error: {weights_file} is {weights_file.stat().st_size} bytes, over the 45 MiB limit")
    print(f"{args.output}: step {state['step']}, {state['hours']:.2f} h of training, input {size}x{size}, "
          f"{weights_file.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
