#!/usr/bin/env python3
"""Builds the default model's training and evaluation data from ../shared (deterministic, ~3 minutes).

    python3 tools/train/prepare_data.py [--shared ../shared] [--cache tools/train/.cache]

Writes, under the cache (git-ignored):
  frames/<video>/<n>.jpg      the first 80% of each labelled video's frames (JPEG q95), for training
  train.json                  training items: those frames with teacher labels + train-calib photos with
                              their COCO ground truth, traffic classes only
  heldout/images/*.png        the last 20% of each labelled video's frames, lossless, never trained on
  heldout/instances.json      COCO-format teacher labels of those frames (the held-out "ground truth")
  val-dev-traffic.json        val-dev's ground truth restricted to the six traffic classes
Labels of video frames come from the YOLOv3-tiny teacher (teacher.py), except car-detection.mp4: it films
a parking lot from straight above, the teacher finds no car in any of its frames, and its cars are
labelled by background subtraction instead (motion_labels.py).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2

from motion_labels import CAR, motion_boxes
from teacher import TRAFFIC_NAMES, Teacher

VIDEOS = ("vtest.avi", "one-by-one-person-detection.mp4", "car-detection.mp4")
MOTION_LABELLED = {"car-detection.mp4"}
HELD_OUT_FRACTION = 0.2


def categories() -> list[dict]:
    return [{"id": cid, "name": name, "supercategory": ""} for cid, name in TRAFFIC_NAMES.items()]


def read_frames(path: Path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    if not frames:
        raise SystemExit(f"error: {path}: no frames decoded")
    return frames


def restrict_to_traffic(instances: dict) -> dict:
    keep = set(TRAFFIC_NAMES)
    return {
        "images": instances["images"],
        "annotations": [a for a in instances["annotations"] if a["category_id"] in keep],
        "categories": categories(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    here = Path(__file__).resolve().parent
    parser.add_argument("--shared", type=Path, default=here.parents[2] / "shared")
    parser.add_argument("--cache", type=Path, default=here / ".cache")
    args = parser.parse_args(argv)
    cv2.setNumThreads(2)
    teacher = Teacher(args.cache)
    train_items: list[dict] = []
    held_images, held_annotations = [], []

    for video in VIDEOS:
        frames = read_frames(args.shared / "data/video" / video)
        split = int(len(frames) * (1 - HELD_OUT_FRACTION))
        stem = Path(video).stem
        (args.cache / "frames" / stem).mkdir(parents=True, exist_ok=True)
        (args.cache / "heldout/images").mkdir(parents=True, exist_ok=True)
        motion = motion_boxes(frames) if video in MOTION_LABELLED else None
        for n, frame in enumerate(frames):
            found = [(CAR, box, 1.0) for box in motion[n]] if motion is not None else teacher(frame)
            if n < split:
                file = args.cache / "frames" / stem / f"{n:05d}.jpg"
                cv2.imwrite(str(file), frame, [cv2.IMWRITE_JPEG_QUALITY, 95])
                train_items.append({"file": str(file.relative_to(args.cache)), "source": stem,
                                    "boxes": [b for _, b, _ in found], "labels": [c for c, _, _ in found]})
            else:
                name = f"{stem}_{n:05d}.png"
                cv2.imwrite(str(args.cache / "heldout/images" / name), frame)
                image_id = len(held_images) + 1
                h, w = frame.shape[:2]
                held_images.append({"id": image_id, "file_name": name, "width": w, "height": h})
                for cid, box, score in found:
                    held_annotations.append({"id": len(held_annotations) + 1, "image_id": image_id,
                                             "category_id": cid, "bbox": [round(v, 2) for v in box],
                                             "area": round(box[2] * box[3], 2), "iscrowd": 0,
                                             "teacher_score": round(score, 4)})
            if n % 100 == 0:
                print(f"{video}: frame {n}/{len(frames)}", file=sys.stderr, flush=True)
        print(f"{video}: {split} training frames, {len(frames) - split} held out", file=sys.stderr)

    coco = json.loads((args.shared / "data/coco/train-calib/instances.json").read_text())
    by_image: dict[int, list[dict]] = {}
    for a in coco["annotations"]:
        if a["category_id"] in TRAFFIC_NAMES and not a.get("iscrowd", 0):
            by_image.setdefault(a["image_id"], []).append(a)
    for image in coco["images"]:
        anns = by_image.get(image["id"], [])
        train_items.append({"file": str((args.shared / "data/coco/train-calib/images" / image["file_name"]).resolve()),
                            "source": "coco", "boxes": [a["bbox"] for a in anns],
                            "labels": [a["category_id"] for a in anns]})

    (args.cache / "train.json").write_text(json.dumps(train_items))
    (args.cache / "heldout/instances.json").write_text(json.dumps(
        {"images": held_images, "annotations": held_annotations, "categories": categories()}))
    val = json.loads((args.shared / "data/coco/val-dev/instances.json").read_text())
    (args.cache / "val-dev-traffic.json").write_text(json.dumps(restrict_to_traffic(val)))
    boxes = sum(len(i["boxes"]) for i in train_items)
    print(f"{len(train_items)} training images with {boxes} boxes; {len(held_images)} held-out frames with "
          f"{len(held_annotations)} teacher boxes", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
