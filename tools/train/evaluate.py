#!/usr/bin/env python3
"""The default model's card numbers, measured with the project's own `qrt-detr eval`.

    python3 tools/train/evaluate.py [--binary .build/release/qrt-detr] [--model models/rtdetr-r18vd-traffic]

Needs prepare_data.py's held-out frames and labels in the cache. Scores the model (at the input size it
records) on (1) the held-out last 20% of each video against the teacher's labels and (2) COCO val-dev
restricted to the six traffic classes against the original ground truth, and prints the Markdown table
the model card carries: AP, AP50, AR100 and per-class AP50.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def evaluate(binary: Path, model: Path, coco: Path, images: Path, threads: int) -> dict:
    command = [str(binary), "eval", "--model", str(model), "--coco", str(coco), "--images", str(images),
               "--threads", str(threads), "--json"]
    print("$ " + " ".join(command), file=sys.stderr, flush=True)
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def split_by_video(instances: Path) -> dict[str, Path]:
    """One COCO file per video (held-out frames are named <video>_<frame>.png), beside `instances`."""
    data = json.loads(instances.read_text())
    files = {}
    for video in sorted({image["file_name"].rsplit("_", 1)[0] for image in data["images"]}):
        images = [image for image in data["images"] if image["file_name"].rsplit("_", 1)[0] == video]
        ids = {image["id"] for image in images}
        subset = {"images": images, "annotations": [a for a in data["annotations"] if a["image_id"] in ids],
                  "categories": data["categories"]}
        files[video] = instances.with_name(f"instances-{video}.json")
        files[video].write_text(json.dumps(subset))
    return files


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, default=REPO / ".build/release/qrt-detr")
    parser.add_argument("--model", type=Path, default=REPO / "models/rtdetr-r18vd-traffic")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    held_out = args.cache / "heldout/instances.json"
    sets = {"held-out video frames, all (teacher labels)": (held_out, args.cache / "heldout/images")}
    for video, labels in split_by_video(held_out).items():
        sets[f"  of which {video}"] = (labels, args.cache / "heldout/images")
    sets["COCO val-dev, six classes (ground truth)"] = (args.cache / "val-dev-traffic.json",
                                                        args.shared / "data/coco/val-dev/images")
    results = {name: evaluate(args.binary, args.model, coco, images, args.threads) for name, (coco, images) in sets.items()}
    (args.cache / "metrics.json").write_text(json.dumps(results, indent=1) + "\n")
    classes = ["person", "bicycle", "car", "motorcycle", "bus", "truck"]
    print("| data | images | boxes | AP | AP50 | AR100 | " + " | ".join(f"AP50 {c}" for c in classes) + " |")
    print("|---" * (6 + len(classes)) + "|")
    for name, result in results.items():
        per = {row["name"]: row["ap50"] for row in result["per_category"]}
        cells = [f"{per[c]:.3f}" if per.get(c, -1) >= 0 else "–" for c in classes]
        stats = result["stats"]
        print(f"| {name} | {result['images']} | {result['annotations']} | {stats['AP']:.3f} | {stats['AP50']:.3f} | "
              f"{stats['AR100']:.3f} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
