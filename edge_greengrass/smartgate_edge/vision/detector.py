"""Plate detector: ``clp_det.onnx`` (RetinaFace-style, trained on Chinese plates) with our own decoding.

It returns candidate plate regions with a score and the plate's four corners (for perspective
rectification). It is confident on Chinese blue plates and much less so on Vietnamese plates, so
the reader takes low-scoring candidates too and lets recognition + format validation decide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import cv2
import numpy as np
import onnxruntime as ort

from smartgate_edge.vision.models import CLP_DET, session

_MEAN_BGR = np.array((104, 117, 123), np.float32)
_MIN_SIZES = ((24, 48), (96, 192), (384, 768))
_STEPS = (8, 16, 32)
_VARIANCE = (0.1, 0.2)


@dataclass(frozen=True)
class Candidate:
    score: float
    box: tuple[int, int, int, int]  # x1, y1, x2, y2 in image pixels, clipped to the image
    corners: np.ndarray  # 4x2 float32: top-left, top-right, bottom-right, bottom-left


@cache
def _priors(h: int, w: int) -> np.ndarray:
    """Anchor boxes (cx, cy, w, h, relative) in the order the network emits them."""
    out = []
    for step, sizes in zip(_STEPS, _MIN_SIZES, strict=True):
        fh, fw = math.ceil(h / step), math.ceil(w / step)
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        cx = (xs + 0.5) * step / w
        cy = (ys + 0.5) * step / h
        per_size = [np.stack([cx, cy, np.full_like(cx, s / w), np.full_like(cy, s / h)], -1) for s in sizes]
        out.append(np.stack(per_size, axis=2).reshape(-1, 4))
    return np.concatenate(out).astype(np.float32)


class PlateDetector:
    def __init__(self, threads: int = 2, sess: ort.InferenceSession | None = None) -> None:
        self.session = sess or session(CLP_DET, threads)
        self.input = self.session.get_inputs()[0].name

    def detect(
        self, image: np.ndarray, max_side: int = 640, min_score: float = 0.02, nms_iou: float = 0.3, top_k: int = 6
    ) -> list[Candidate]:
        h0, w0 = image.shape[:2]
        scale = min(1.0, max_side / max(h0, w0))
        small = (
            cv2.resize(image, (max(1, round(w0 * scale)), max(1, round(h0 * scale))), interpolation=cv2.INTER_AREA)
            if scale < 1
            else image
        )
        h, w = small.shape[:2]
        x = np.ascontiguousarray((small.astype(np.float32) - _MEAN_BGR).transpose(2, 0, 1)[None])
        loc, conf, landmarks = self.session.run(None, {self.input: x})
        priors = _priors(h, w)
        scores = conf[0][:, 1]
        keep = np.flatnonzero(scores > min_score)
        if keep.size == 0:
            return []
        keep = keep[np.argsort(-scores[keep])][:200]
        p, lo, lm = priors[keep], loc[0][keep], landmarks[0][keep]
        centre = p[:, :2] + lo[:, :2] * _VARIANCE[0] * p[:, 2:]
        size = p[:, 2:] * np.exp(lo[:, 2:] * _VARIANCE[1])
        boxes = np.concatenate([centre - size / 2, centre + size / 2], 1) * np.array([w, h, w, h]) / scale
        corners = np.concatenate([p[:, :2] + lm[:, 2 * i : 2 * i + 2] * _VARIANCE[0] * p[:, 2:] for i in range(4)], 1)
        corners = corners.reshape(-1, 4, 2) * np.array([w, h]) / scale
        rects = [[float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])] for b in boxes]
        chosen = np.array(cv2.dnn.NMSBoxes(rects, scores[keep].tolist(), min_score, nms_iou)).flatten()[:top_k]
        out = []
        for i in chosen:
            x1, y1, x2, y2 = boxes[i]
            box = (max(0, int(x1)), max(0, int(y1)), min(w0, int(math.ceil(x2))), min(h0, int(math.ceil(y2))))
            if box[2] - box[0] >= 8 and box[3] - box[1] >= 4:
                out.append(Candidate(float(scores[keep][i]), box, corners[i].astype(np.float32)))
        return out
