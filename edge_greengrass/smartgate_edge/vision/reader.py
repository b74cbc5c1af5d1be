"""The lane's plate reader: find plate regions cheaply, rectify, split two-row plates, recognise, validate.

Cascade per frame:
1. The plate detector at 640 px (about 15 ms on 2 cores). On a large frame where nothing scores
   well, once more at up to 1280 px (small, far plates; Vietnamese plates score low).
2. When no region is a confident plate, the whole image is a candidate too: the camera may be
   framed on the plate, or the image is already a crop.
3. Each candidate is cut out (perspective-rectified on its four corners when the detector is
   sure of them), classified one- or two-row by its shape, split at the gap between rows, and
   read line by line with PP-OCRv4 restricted to the plate alphabet.
4. Every read is validated against the Vietnamese and Chinese formats; valid reads come first. An
   invalid read is returned as invalid with its confidence — never "fixed".
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from itertools import product

import cv2
import numpy as np

from smartgate.domain.plates import plate_key, validate_plate
from smartgate_edge.vision.detector import Candidate, PlateDetector
from smartgate_edge.vision.recognizer import LineText, TextRecognizer
from smartgate_edge.vision.text_detector import TextDetector
from smartgate_edge.vision.types import PlateReading

CONFIDENT = 0.5  # detector score above which a region is taken as a plate outright
LIKELY = 0.2  # a weaker region still read when a plate is already sure (a second vehicle)
TWO_ROW_ASPECT = 2.3  # width / height below which a plate has two rows of characters
MAX_CANDIDATES = 5


@dataclass(frozen=True)
class ReaderSettings:
    first_pass_side: int = 640
    second_pass_side: int = 1280
    min_score: float = 0.02
    max_candidates: int = MAX_CANDIDATES
    crop_max_side: int = 800  # images up to this size that are plate-shaped are read whole first (0: never)
    second_pass: bool = True  # large frames with no sure plate: detect again at up to second_pass_side
    weak_views: bool = True  # weak regions: read the rectified plate as well as the box
    max_log_drop: float = 4.0  # constrained decoding: how much less likely a valid alternative may be (0: off)
    text_regions: bool = True  # last resort: plate-shaped groups of text lines from the text detector
    text_side: int = 960  # the text detector's input size (longest side)
    max_text_regions: int = 8


def _as_bgr(image: np.ndarray) -> np.ndarray:
    if image is None or not isinstance(image, np.ndarray) or image.size == 0:
        raise ValueError("empty image: nothing to read")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image of shape {image.shape} is not BGR, BGRA or grayscale")
    if image.dtype != np.uint8:
        raise ValueError(f"image dtype {image.dtype} is not uint8")
    return image


def rectify(image: np.ndarray, corners: np.ndarray, margin: float = 0.06) -> np.ndarray:
    """The plate warped flat from its four corners, with a small margin around the characters."""
    corners = order_corners(corners)
    tl, tr, br, bl = corners
    width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    height = (np.linalg.norm(bl - tl) + np.linalg.norm(br - tr)) / 2
    if width < 8 or height < 4:
        raise ValueError("degenerate plate corners")
    centre = corners.mean(axis=0)
    grown = (corners - centre) * (1 + 2 * margin) + centre
    w, h = int(round(width * (1 + 2 * margin))), int(round(height * (1 + 2 * margin)))
    target = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
    matrix = cv2.getPerspectiveTransform(grown.astype(np.float32), target)
    return cv2.warpPerspective(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def order_corners(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left, whatever order the detector gave them in."""
    pts = points.astype(np.float32).reshape(4, 2)
    s, d = pts.sum(axis=1), pts[:, 1] - pts[:, 0]
    return np.array([pts[s.argmin()], pts[d.argmin()], pts[s.argmax()], pts[d.argmax()]], np.float32)


def crop_box(image: np.ndarray, box: tuple[int, int, int, int], margin: float = 0.08) -> np.ndarray:
    x1, y1, x2, y2 = box
    mx, my = int((x2 - x1) * margin), int((y2 - y1) * margin)
    h, w = image.shape[:2]
    return image[max(0, y1 - my) : min(h, y2 + my), max(0, x1 - mx) : min(w, x2 + mx)]


def split_rows(plate: np.ndarray, overlap: float = 0.04) -> list[np.ndarray]:
    """Top and bottom rows of a two-row plate, cut where the rows' texture is lowest near the middle."""
    gray = cv2.cvtColor(plate, cv2.COLOR_BGR2GRAY).astype(np.float32)
    h = gray.shape[0]
    texture = np.abs(np.diff(gray, axis=1)).mean(axis=1)
    texture = np.convolve(texture, np.ones(3) / 3, mode="same")
    lo, hi = int(h * 0.35), max(int(h * 0.65), int(h * 0.35) + 1)
    band = texture[lo:hi]
    quiet = np.flatnonzero(band <= band.min() + 0.1 * (band.max() - band.min() + 1e-6))
    cut = lo + int(np.median(quiet))  # the middle of the quietest rows: the gap between the two lines
    pad = int(h * overlap)
    return [plate[: min(h, cut + pad)], plate[max(0, cut - pad) :]]


class LaneReader:
    """Implements :class:`smartgate_edge.vision.types.PlateReader` with the packaged ONNX models."""

    def __init__(
        self,
        threads: int = 2,
        settings: ReaderSettings | None = None,
        detector: PlateDetector | None = None,
        recognizer: TextRecognizer | None = None,
        text_detector: TextDetector | None = None,
    ) -> None:
        self.settings = settings or ReaderSettings()
        self.detector = detector or PlateDetector(threads)
        self.recognizer = recognizer or TextRecognizer(threads)
        self.text_detector = text_detector or (TextDetector(threads) if self.settings.text_regions else None)
        self.warm()

    def warm(self) -> None:
        """One pass on a blank frame so the first real frame does not pay for allocation."""
        blank = np.full((360, 640, 3), 127, np.uint8)
        self.detector.detect(blank)
        self.recognizer.recognize([blank[:48, :160]])

    def candidates(self, image: np.ndarray) -> list[Candidate]:
        s = self.settings
        found = self.detector.detect(image, s.first_pass_side, s.min_score)
        big = max(image.shape[:2]) > 1.5 * s.first_pass_side
        if s.second_pass and big and not any(c.score >= CONFIDENT for c in found):
            found = _merge(
                found, self.detector.detect(image, min(s.second_pass_side, max(image.shape[:2])), s.min_score)
            )
        return sorted(found, key=lambda c: -c.score)[: s.max_candidates]

    def read(self, image: np.ndarray) -> list[PlateReading]:
        image = _as_bgr(image)
        h, w = image.shape[:2]
        plate_like = 0.8 <= w / h <= 8
        readings: list[PlateReading] = []
        # 0. a small, plate-shaped image is most likely framed on the plate: read it before detecting
        if plate_like and max(h, w) <= self.settings.crop_max_side:
            readings += self._read_region(image, (0, 0, w, h))
            if _sure(readings):
                return _best_first(readings)
        candidates = self.candidates(image)
        # 1. regions the detector is sure of, rectified on their corners
        for c in (c for c in candidates if c.score >= CONFIDENT):
            try:
                plate = rectify(image, c.corners)
            except ValueError:
                plate = crop_box(image, c.box)
            readings += self._read_region(plate, c.box)
        # 2. no sure read yet: the frame may be framed on the plate (or be a crop)
        if not _sure(readings) and plate_like and max(h, w) > self.settings.crop_max_side:
            readings += self._read_region(image, (0, 0, w, h))
        # 3. weak regions (far or Vietnamese plates score low): all of them while nothing is sure, else the
        #    likelier ones (another vehicle's plate in the same frame)
        floor = self.settings.min_score if not _sure(readings) else LIKELY
        for c in (c for c in candidates if floor <= c.score < CONFIDENT):
            # weak corners may be wrong: read both the rectified plate and the box, keep the better
            views = [crop_box(image, c.box, margin=0.12)]
            if self.settings.weak_views:
                with contextlib.suppress(ValueError):  # degenerate corners: the box alone
                    views.append(rectify(image, c.corners, margin=0.1))
            found = [r for view in views for r in self._read_region(view, c.box)]
            readings += _best_first(found)[:1]
        # 4. nothing sure, or a scene where the plate detector is sure of nothing (other plates in it may
        #    be ones it misses): plate-shaped groups of text lines
        scene_unsure = max(h, w) > self.settings.crop_max_side and not any(c.score >= CONFIDENT for c in candidates)
        if (not _sure(readings) or scene_unsure) and self.text_detector is not None:
            quads = self.text_detector.detect(image, self.settings.text_side)
            done = [r.box for r in readings if r.format_valid]
            for box in text_regions(quads, (h, w))[: self.settings.max_text_regions]:
                if not any(_iou(box, b) > 0.5 for b in done):
                    readings += self._read_region(crop_box(image, box, margin=0.1), box)
        return _dedupe(readings)

    def _read_region(self, plate: np.ndarray, box: tuple[int, int, int, int]) -> list[PlateReading]:
        if plate.shape[0] < 8 or plate.shape[1] < 8:
            return []
        reading = self.read_plate(plate, box)
        return [reading] if reading is not None else []

    def read_plate(self, plate: np.ndarray, box: tuple[int, int, int, int]) -> PlateReading | None:
        """Read one plate image (already cut out): one or two rows by its shape, the other if that fails."""
        h, w = plate.shape[:2]
        rows = 2 if w / max(h, 1) < TWO_ROW_ASPECT else 1
        reading = self._read_rows(plate, box, rows)
        if reading is None or not reading.format_valid:
            alt = self._read_rows(plate, box, 3 - rows)  # the shape can mislead (tilted, cut off)
            if alt is not None and (reading is None or alt.format_valid or alt.confidence > reading.confidence):
                return alt
        return reading

    def _read_rows(self, plate: np.ndarray, box: tuple[int, int, int, int], rows: int) -> PlateReading | None:
        lines = split_rows(plate) if rows == 2 else [plate]
        texts = [t for t in self.recognizer.recognize(lines) if t.text]
        if not texts:
            return None
        text, confidences = choose_reading(texts, self.settings.max_log_drop)
        check = validate_plate(text, rows=rows)
        if not check.key:
            return None
        confidence = float(np.exp(np.mean(np.log(np.clip(confidences, 1e-6, 1.0)))))
        return PlateReading(
            text=check.display if check.valid else text,
            country=check.country,
            format_valid=check.valid,
            confidence=round(confidence, 4),
            char_confidences=tuple(round(c, 4) for c in confidences),
            rows=rows,
            box=box,
            crop=plate,
        )


MAX_LOG_DROP = 4.0
"""How much less likely (in nats, e^-4 ≈ 1/55) than the model's best reading a format-valid
alternative may be and still be taken instead of an invalid best reading."""


def choose_reading(lines: list[LineText], max_log_drop: float = MAX_LOG_DROP) -> tuple[str, tuple[float, ...]]:
    """The model's best reading; if it fits no plate format, its most likely format-valid alternative.

    This is constrained decoding — choosing among the recogniser's own hypotheses — not a correction
    after the fact: the alternative's characters carry their own (lower) probabilities into the
    confidence, and when no hypothesis fits, the best reading is returned as read (invalid).
    """
    options = [[ln, *ln.alternatives] for ln in lines]
    best_text = " ".join(ln.text for ln in lines)
    best_conf = tuple(c for ln in lines for c in ln.confidences)
    if validate_plate(best_text).valid:
        return best_text, best_conf
    best_log = sum(ln.log_prob for ln in lines)
    combos = sorted(product(*options), key=lambda combo: -sum(h.log_prob for h in combo))
    for combo in combos:
        if best_log - sum(h.log_prob for h in combo) > max_log_drop:
            break
        text = " ".join(h.text for h in combo if h.text)
        if text and validate_plate(text).valid:
            return text, tuple(c for h in combo for c in h.confidences)
    return best_text, best_conf


def text_regions(quads: list[np.ndarray], shape: tuple[int, int]) -> list[tuple[int, int, int, int]]:
    """Boxes that could be plates, from text-line quads: two lines stacked like a two-row plate, or one
    line shaped like a one-row plate. Two-row groups first, then single lines, larger first."""
    h, w = shape
    boxes = [(int(q[:, 0].min()), int(q[:, 1].min()), int(q[:, 0].max()), int(q[:, 1].max())) for q in quads]
    boxes = [
        (max(0, x1), max(0, y1), min(w, x2), min(h, y2)) for x1, y1, x2, y2 in boxes if y2 - y1 >= 8 and x2 - x1 >= 16
    ]
    pairs, singles = [], []
    for i, (ax1, ay1, ax2, ay2) in enumerate(boxes):
        aw, ah = ax2 - ax1, ay2 - ay1
        if 2.0 <= aw / ah <= 9:
            singles.append(boxes[i])
        for bx1, by1, bx2, by2 in boxes:
            bw, bh = bx2 - bx1, by2 - by1
            overlap = min(ax2, bx2) - max(ax1, bx1)
            gap = by1 - ay2
            if (
                by1 > ay1
                and overlap >= 0.5 * min(aw, bw)
                and -0.3 * ah <= gap <= 0.8 * max(ah, bh)
                and 0.5 <= bh / ah <= 2
                and 0.4 <= bw / aw <= 2.5
            ):
                pairs.append((min(ax1, bx1), ay1, max(ax2, bx2), by2))
    area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
    return sorted(pairs, key=area, reverse=True) + sorted(singles, key=area, reverse=True)


SURE = 0.8
SURE_CHAR = 0.6
"""A valid reading at least this confident overall, with no character below SURE_CHAR, ends the
search for more regions. Measured on the dev photos and perturbed copies of them (scaled, JPEG 40,
rotated, darkened, padded): this keeps 220 of 249 right reads and 5 of 20 wrong ones, where the
overall confidence alone (>= 0.8) kept 13 wrong ones."""


def _sure(readings: list[PlateReading]) -> bool:
    return any(
        r.format_valid and r.confidence >= SURE and min(r.char_confidences, default=0) >= SURE_CHAR for r in readings
    )


def _iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def _merge(first: list[Candidate], second: list[Candidate]) -> list[Candidate]:
    merged = list(first)
    for c in second:
        same = [m for m in merged if _iou(m.box, c.box) > 0.3]
        if not same:
            merged.append(c)
        elif c.score > max(m.score for m in same):
            merged = [m for m in merged if m not in same] + [c]
    return merged


def _dedupe(readings: list[PlateReading]) -> list[PlateReading]:
    """One reading per plate (the best of its kind), best first."""
    out: list[PlateReading] = []
    for r in _best_first(readings):
        if not any(plate_key(r.text) == plate_key(o.text) for o in out):
            out.append(r)
    return out


def _best_first(readings: list[PlateReading]) -> list[PlateReading]:
    return sorted(readings, key=lambda r: (not r.format_valid, -r.confidence))


def build_reader(threads: int = 2) -> LaneReader:
    """The reader a lane component uses (models from the installed packages)."""
    return LaneReader(threads=threads)
