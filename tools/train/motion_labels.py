"""Car boxes for car-detection.mp4 by background subtraction, where the YOLOv3-tiny teacher sees nothing.

The Intel sample films an empty parking lot from straight above with a fixed camera; the only things that
move are cars, which the teacher (trained on COCO's side views) never detects from overhead. There, a
moving blob is a car: the background is the per-pixel median of the video, each frame's difference to it
(after matching overall brightness, since the camera's exposure drifts) is thresholded, cleaned by
morphology, and every connected component larger than a small car becomes a car box. Checked by eye on
frames of every pass (see tools/train/README.md).
"""
from __future__ import annotations

import cv2
import numpy as np

CAR = 3  # COCO category id


def motion_boxes(frames: list[np.ndarray], threshold: float = 45.0, min_area: int = 2000,
                 max_fraction: float = 0.4) -> list[list[list[float]]]:
    """Per frame, [x, y, w, h] pixel boxes of the moving objects."""
    stack = np.stack(frames[::4]).astype(np.float32)
    background = cv2.GaussianBlur(np.median(stack, axis=0), (7, 7), 0)
    h, w = frames[0].shape[:2]
    boxes_per_frame = []
    for frame in frames:
        blurred = cv2.GaussianBlur(frame.astype(np.float32), (7, 7), 0)
        gain = np.median(blurred) / max(float(np.median(background)), 1e-3)
        moving = (np.abs(blurred - background * gain).max(axis=2) > threshold).astype(np.uint8)
        moving = cv2.morphologyEx(moving, cv2.MORPH_OPEN, np.ones((5, 5), np.uint8))
        moving = cv2.morphologyEx(moving, cv2.MORPH_CLOSE, np.ones((21, 21), np.uint8))
        count, _, stats, _ = cv2.connectedComponentsWithStats(moving)
        boxes_per_frame.append([
            [float(v) for v in stats[k, :4]] for k in range(1, count)
            if stats[k, 4] > min_area and stats[k, 2] * stats[k, 3] < max_fraction * w * h
        ])
    return boxes_per_frame
