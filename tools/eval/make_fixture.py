#!/usr/bin/env python3
"""Build the COCO-evaluation test fixture and pycocotools' answers for it.

    pip install pycocotools
    python3 tools/eval/make_fixture.py [--coco ../shared/data/coco/val-dev/instances.json]
                                       [--out Tests/QRTCoreTests/Fixtures/coco] [--images 20] [--seed 4]

Writes, into OUT:

  instances.json   a ground truth: `--images` images of the source file (every image that has a crowd
                   annotation first, then a seeded sample), their annotations (bbox, area, iscrowd,
                   category_id; no segmentation), all categories. One image keeps no annotations, one
                   annotation carries `"ignore": 1` (pycocotools overwrites that flag with iscrowd).
  detections.json  synthetic results in COCO's result format: jittered copies of the ground-truth boxes
                   (loose to tight), duplicates, wrong categories, detections on crowd regions, random
                   false positives, detections on the empty image, more than 100 detections of one
                   category in one image, and scores with many exact ties.
  expected.json    pycocotools' COCOeval (iouType bbox, default parameters) on the two: the 12 summary
                   numbers, and the same with all detections below score 0.5 dropped.

Coordinates are rounded to 2 decimals and scores to 3, so both sides parse the same doubles.
Tests/QRTCoreTests/CocoEvalFixtureTests.swift recomputes everything with CocoEvaluator.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def build_ground_truth(source: dict, count: int, rng: random.Random) -> dict:
    by_image: dict[int, list] = {}
    for ann in source["annotations"]:
        by_image.setdefault(ann["image_id"], []).append(ann)
    crowd_images = sorted({a["image_id"] for a in source["annotations"] if a["iscrowd"]})
    chosen = crowd_images[: count // 2]
    others = sorted(i["id"] for i in source["images"] if i["id"] not in set(chosen))
    chosen += rng.sample(others, count - len(chosen))
    chosen_set = set(chosen)
    # Keep the source file's image order (COCOeval sorts ids itself; the loader must not care).
    images = [
        {"id": i["id"], "file_name": i["file_name"], "width": i["width"], "height": i["height"]}
        for i in source["images"] if i["id"] in chosen_set
    ]
    empty_image = images[-1]["id"]
    annotations = []
    for ann in source["annotations"]:
        if ann["image_id"] not in chosen_set or ann["image_id"] == empty_image:
            continue
        annotations.append({
            "id": ann["id"], "image_id": ann["image_id"], "category_id": ann["category_id"],
            "bbox": [round(v, 2) for v in ann["bbox"]], "area": round(ann["area"], 2),
            "iscrowd": ann["iscrowd"],
        })
    # pycocotools' _prepare() replaces `ignore` with iscrowd, so this flag must change nothing.
    next(a for a in annotations if not a["iscrowd"])["ignore"] = 1
    categories = [{"id": c["id"], "name": c["name"], "supercategory": c["supercategory"]}
                  for c in source["categories"]]
    return {"images": images, "annotations": annotations, "categories": categories}


def clip_box(x: float, y: float, w: float, h: float, width: int, height: int) -> list[float]:
    x1, y1 = max(0.0, x), max(0.0, y)
    x2, y2 = min(float(width), x + w), min(float(height), y + h)
    return [round(x1, 2), round(y1, 2), round(max(0.0, x2 - x1), 2), round(max(0.0, y2 - y1), 2)]


def jitter(box: list[float], scale: float, rng: random.Random) -> list[float]:
    x, y, w, h = box
    return [x + rng.gauss(0, scale * w), y + rng.gauss(0, scale * h),
            w * (1 + rng.gauss(0, scale)), h * (1 + rng.gauss(0, scale))]


def score(rng: random.Random, low: float = 0.01, high: float = 1.0) -> float:
    # Half of the scores come from a coarse grid, so exact ties across and within images are common.
    if rng.random() < 0.5:
        return round(rng.choice([0.05, 0.1, 0.25, 0.3, 0.5, 0.6, 0.75, 0.9]), 3)
    return round(rng.uniform(low, high), 3)


def build_detections(gt: dict, rng: random.Random) -> list[dict]:
    images = {i["id"]: i for i in gt["images"]}
    category_ids = [c["id"] for c in gt["categories"]]
    detections: list[dict] = []

    def add(image_id: int, category_id: int, box: list[float], s: float) -> None:
        image = images[image_id]
        detections.append({"image_id": image_id, "category_id": category_id,
                           "bbox": clip_box(*box, image["width"], image["height"]), "score": s})

    for ann in gt["annotations"]:
        image_id, category_id, box = ann["image_id"], ann["category_id"], ann["bbox"]
        if ann["iscrowd"]:
            # Several detections inside a crowd region: all may match it and are then ignored.
            x, y, w, h = box
            for _ in range(rng.randint(2, 5)):
                dw, dh = w * rng.uniform(0.1, 0.4), h * rng.uniform(0.1, 0.4)
                add(image_id, category_id, [x + rng.uniform(0, w - dw), y + rng.uniform(0, h - dh), dw, dh],
                    score(rng))
            continue
        roll = rng.random()
        if roll < 0.12:
            continue  # missed
        scale = rng.choice([0.01, 0.03, 0.06, 0.1, 0.2, 0.35])
        add(image_id, category_id, jitter(box, scale, rng), score(rng, 0.2))
        if rng.random() < 0.25:  # a duplicate, sometimes with the very same score
            s = detections[-1]["score"] if rng.random() < 0.5 else score(rng)
            add(image_id, category_id, jitter(box, rng.choice([0.02, 0.1, 0.3]), rng), s)
        if rng.random() < 0.1:  # right place, wrong category
            add(image_id, rng.choice(category_ids), jitter(box, 0.05, rng), score(rng))

    for image in gt["images"]:
        for _ in range(rng.randint(1, 8)):  # false positives of all sizes
            w = rng.choice([8, 20, 40, 80, 200]) * rng.uniform(0.5, 1.5)
            h = w * rng.uniform(0.5, 2)
            add(image["id"], rng.choice(category_ids[:10]),
                [rng.uniform(0, image["width"] - 4), rng.uniform(0, image["height"] - 4), w, h], score(rng))

    # More than maxDets (100) of one category in one image: only the 100 best count.
    busy = gt["annotations"][0]
    image = images[busy["image_id"]]
    for _ in range(130):
        w = rng.uniform(5, 150)
        add(image["id"], busy["category_id"],
            [rng.uniform(0, image["width"] - 5), rng.uniform(0, image["height"] - 5), w, w * rng.uniform(0.5, 2)],
            round(rng.uniform(0.0, 0.4), 3))
    # A category no ground truth has: pycocotools leaves it out of every mean.
    used = {a["category_id"] for a in gt["annotations"]}
    absent = next((c for c in category_ids if c not in used), None)
    if absent is not None:
        add(gt["images"][0]["id"], absent, [10, 10, 50, 50], 0.99)

    rng.shuffle(detections)  # file order matters for ties; keep it arbitrary
    return detections


def pycocotools_eval(gt: dict, detections: list[dict]):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = json.loads(json.dumps(gt))
        coco.createIndex()
        results = coco.loadRes(json.loads(json.dumps(detections)))
        evaluator = COCOeval(coco, results, "bbox")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def pycocotools_stats(gt: dict, detections: list[dict]) -> list[float]:
    return [float(v) for v in pycocotools_eval(gt, detections).stats]


def per_category(gt: dict, detections: list[dict]) -> dict:
    """{category id: [AP, AP50]} over all areas, 100 detections; -1 where a category has no ground truth."""
    evaluator = pycocotools_eval(gt, detections)
    result = {}
    for k, cid in enumerate(evaluator.params.catIds):
        p = evaluator.eval["precision"][:, :, k, 0, -1]
        ap = float(p[p > -1].mean()) if (p > -1).any() else -1.0
        ap50 = float(p[0][p[0] > -1].mean()) if (p[0] > -1).any() else -1.0
        result[str(cid)] = [ap, ap50]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--coco", type=Path, default=REPO.parent / "shared/data/coco/val-dev/instances.json")
    parser.add_argument("--out", type=Path, default=REPO / "Tests/QRTCoreTests/Fixtures/coco")
    parser.add_argument("--images", type=int, default=20)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()

    from importlib.metadata import version

    rng = random.Random(args.seed)
    source = json.loads(args.coco.read_text())
    gt = build_ground_truth(source, args.images, rng)
    detections = build_detections(gt, rng)
    confident = [d for d in detections if d["score"] >= 0.5]
    expected = {
        "producer": f"tools/eval/make_fixture.py --images {args.images} --seed {args.seed}",
        "pycocotools": version("pycocotools"),
        "stat_names": STAT_NAMES,
        "all": pycocotools_stats(gt, detections),
        "score_at_least_0.5": pycocotools_stats(gt, confident),
        "per_category_all": per_category(gt, detections),
    }

    args.out.mkdir(parents=True, exist_ok=True)
    # One object per line: compact, yet diffs stay readable.
    def write_lines(path: Path, head: str, items: list[dict], tail: str) -> None:
        body = ",\n".join(json.dumps(item, separators=(",", ":")) for item in items)
        path.write_text(f"{head}\n{body}\n{tail}\n")

    with (args.out / "instances.json").open("w") as f:
        f.write('{"images":[\n' + ",\n".join(json.dumps(i, separators=(",", ":")) for i in gt["images"]))
        f.write('\n],"annotations":[\n' + ",\n".join(json.dumps(a, separators=(",", ":")) for a in gt["annotations"]))
        f.write('\n],"categories":' + json.dumps(gt["categories"], separators=(",", ":")) + "}\n")
    write_lines(args.out / "detections.json", "[", detections, "]")
    (args.out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    crowd = sum(a["iscrowd"] for a in gt["annotations"])
    print(f"{len(gt['images'])} images, {len(gt['annotations'])} annotations ({crowd} crowd), "
          f"{len(detections)} detections ({len(confident)} with score >= 0.5)")
    for name, a, b in zip(STAT_NAMES, expected["all"], expected["score_at_least_0.5"]):
        print(f"  {name:6s} {a:.6f}  {b:.6f}")


if __name__ == "__main__":
    main()
