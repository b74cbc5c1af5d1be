"""Text line detection with PP-OCRv4 det (DB: a text-probability map, then boxes around its blobs)."""

from __future__ import annotations

import cv2
import numpy as np
import onnxruntime as ort

from smartgate_edge.vision.models import PP_OCRV4_DET, session

_MEAN = np.array((0.485, 0.456, 0.406), np.float32)
_STD = np.array((0.229, 0.224, 0.225), np.float32)


class TextDetector:
    def __init__(
        self,
        threads: int = 2,
        sess: ort.InferenceSession | None = None,
        *,
        threshold: float = 0.3,
        box_threshold: float = 0.6,
        unclip_ratio: float = 1.6,
        min_side: int = 4,
    ) -> None:
        self.session = sess or session(PP_OCRV4_DET, threads)
        self.input = self.session.get_inputs()[0].name
        self.threshold = threshold
        self.box_threshold = box_threshold
        self.unclip_ratio = unclip_ratio
        self.min_side = min_side

    def detect(self, image: np.ndarray, max_side: int = 960) -> list[np.ndarray]:
        """Quadrilaterals (4x2 float32, clockwise from top-left) around text lines, top to bottom."""
        h0, w0 = image.shape[:2]
        scale = min(1.0, max_side / max(h0, w0))
        h, w = max(32, int(round(h0 * scale / 32)) * 32), max(32, int(round(w0 * scale / 32)) * 32)
        resized = cv2.resize(image, (w, h))
        x = ((resized.astype(np.float32) / 255.0 - _MEAN) / _STD).transpose(2, 0, 1)[None]
        prob = self.session.run(None, {self.input: np.ascontiguousarray(x)})[0][0, 0]
        mask = (prob > self.threshold).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        quads = []
        for contour in contours:
            if cv2.contourArea(contour) < 4:
                continue
            blob = np.zeros_like(mask)
            cv2.drawContours(blob, [contour], -1, 1, -1)
            if float(prob[blob.astype(bool)].mean()) < self.box_threshold:
                continue
            (cx, cy), (rw, rh), angle = cv2.minAreaRect(contour)
            if min(rw, rh) < 2:
                continue
            grow = cv2.contourArea(contour) * self.unclip_ratio / max(cv2.arcLength(contour, True), 1e-6)
            rect = ((cx, cy), (rw + 2 * grow, rh + 2 * grow), angle)
            box = cv2.boxPoints(rect) * np.array([w0 / w, h0 / h], np.float32)
            if min(np.linalg.norm(box[0] - box[1]), np.linalg.norm(box[1] - box[2])) < self.min_side:
                continue
            quads.append(_clockwise(box))
        return sorted(quads, key=lambda q: (round(float(q[:, 1].mean()) / 16), float(q[:, 0].min())))


def _clockwise(points: np.ndarray) -> np.ndarray:
    s, d = points.sum(axis=1), points[:, 1] - points[:, 0]
    return np.array([points[s.argmin()], points[d.argmin()], points[s.argmax()], points[d.argmax()]], np.float32)
