#!/usr/bin/env python3
"""Score a COCO results file with pycocotools, to cross-check `qrt-detr eval --results FILE`.

    python3 tools/eval/pycocotools_eval.py instances.json results.json [--limit N]

--limit N evaluates the first N images of instances.json, as `qrt-detr eval --limit N` does.
Prints pycocotools' 12 summary numbers as one JSON object (names as `qrt-detr eval --json`).
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json

STAT_NAMES = ["AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("instances")
    parser.add_argument("results")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args()

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(args.instances)
        with open(args.results) as f:
            results = json.load(f)
        detections = truth.loadRes(results) if results else COCO()
        evaluator = COCOeval(truth, detections, "bbox")
        if args.limit:
            evaluator.params.imgIds = sorted(i["id"] for i in truth.dataset["images"][: args.limit])
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    print(json.dumps(dict(zip(STAT_NAMES, (float(v) for v in evaluator.stats))), indent=1))


if __name__ == "__main__":
    main()
