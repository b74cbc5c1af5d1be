"""The driver's face at the lane: 1:1 verification against the booked driver's enrolled embedding only.

Per cab frame (:meth:`FaceTrack.offer`): the YuNet detector (OpenCV's ``FaceDetectorYN``, the vendored
model, its SHA-256 checked) finds the faces, and a quality gate accepts the frame or says why not:

- ``no_face``: nothing the detector is sure of (its score under ``detect_score``);
- ``several_faces``: a second face at least ``SECOND_FACE_SHARE`` as wide as the largest (a passenger
  leaning in: whose is the cab?); a small face far behind is ignored;
- ``too_small``: the face is narrower than ``min_face_px`` in the frame (too far, or a low-resolution
  camera): an embedding of it would be a guess;
- ``blurred``: the face's sharpness (its detail against its contrast, :func:`sharpness`) under
  ``min_sharpness`` (motion, focus, a dirty windscreen).

The best accepted frame of the vehicle (sharpest and largest, detector-sure) is the only one the
embedding is computed on (:meth:`FaceTrack.verify`): dlib's ResNet descriptor (128-D), the face aligned
by dlib's 5-point predictor. It is compared with the one reference given (the booked driver's) by
Euclidean distance: ``match`` at or under the threshold, else ``mismatch``. Without a usable frame the
answer is ``unusable``; without a reference (not enrolled, consent withdrawn) ``no_reference``.

Nothing of the face outlives the vehicle: :meth:`FaceTrack.forget` drops the kept frame and the
embedding. The check (:class:`FaceCheck`) carries the score, the decision and the quality, never the
image or the embedding; a mismatch's face crop is given only on request (:meth:`FaceTrack.evidence`),
for a policy that keeps evidence.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from smartgate.domain.biometrics import DIMENSIONS
from smartgate.schemas import FaceDecision, FaceRejection
from smartgate_edge.vision.models import DLIB_RESNET, DLIB_SHAPE_5, YUNET, verify

DETECT_SCORE = 0.7
"""YuNet's confidence for a face to count (a dev photo's plain frontal face scored 0.799)."""
MIN_FACE_PX = 60
"""The face box's width in the frame, at least (dlib aligns faces to 150 px chips)."""
MIN_SHARPNESS = 1.0
"""The face's :func:`sharpness`, at least. The dev set's photos (soft LFW JPEGs) are 1.3 and more (median 4.5);
a Gaussian blur of sigma 4 px on them brings the median to 1.2, of 6 px under 1."""
SECOND_FACE_SHARE = 0.5
"""A second face at least this share of the largest one's width makes the frame ambiguous."""
THRESHOLD = 0.6
"""Largest descriptor distance still taken as the same person: dlib's own operating point for this model
(99.38 % on LFW), not one fitted to our dev set. On the dev set (greyscale, soft) it gives FAR 0 and FRR
0.013 (make bench-face prints the sweep and the closest impostor pair). A false refusal costs
an officer's look; a false acceptance is what the check is for."""
MAX_SIDE = 640
"""Frames are scaled down to this longest side for detection (the boxes are mapped back)."""
CROP_PX = 112


Reason = FaceRejection
"""Why the gate refused a frame (the FaceVerified contract's reasons)."""
Decision = FaceDecision
"""match, mismatch, unusable (no usable frame) or no_reference (not enrolled)."""


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]
    """x, y, width, height in the frame"""
    landmarks: tuple[tuple[float, float], ...]
    """right eye, left eye, nose tip, right and left mouth corners"""
    score: float


@dataclass(frozen=True)
class Quality:
    """What the gate found in one frame; ``usable`` or the ``reason`` it was refused."""

    usable: bool
    reason: Reason | None
    faces: int
    face_px: int = 0
    sharpness: float = 0.0
    detector_score: float = 0.0

    @property
    def rank(self) -> float:
        """Which of a vehicle's usable frames to embed: sharp, large, and one the detector is sure of."""
        return min(self.sharpness, 4 * MIN_SHARPNESS) * min(self.face_px, 4 * MIN_FACE_PX) * self.detector_score

    def summary(self) -> dict[str, Any]:
        return {
            "face_px": self.face_px,
            "sharpness": round(self.sharpness, 2),
            "detector_score": round(self.detector_score, 3),
        }


@dataclass(frozen=True)
class FaceCheck:
    """The outcome for one vehicle: what a FaceVerified event says (no image, no embedding)."""

    decision: Decision
    distance: float | None
    threshold: float
    quality: Quality | None
    """the frame the embedding came from"""
    frames: int
    rejected: dict[str, int] = field(default_factory=dict)
    """frames refused, by reason"""

    @property
    def score(self) -> float | None:
        """Similarity, 0..1 (1 - distance): higher is more alike; ``1 - threshold`` is the line."""
        return None if self.distance is None else round(max(0.0, min(1.0, 1.0 - self.distance)), 4)


class FaceDetector:
    """YuNet through OpenCV: every face in a frame, largest first."""

    def __init__(self, detect_score: float = DETECT_SCORE, max_side: int = MAX_SIDE) -> None:
        self.max_side = max_side
        self._net = cv2.FaceDetectorYN.create(str(verify(YUNET)), "", (320, 320), detect_score, 0.3, 50)
        self._size: tuple[int, int] | None = None

    def detect(self, image: np.ndarray) -> list[Face]:
        frame = _bgr(image)
        h, w = frame.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        small = (
            frame
            if scale == 1.0
            else cv2.resize(frame, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        )
        size = (small.shape[1], small.shape[0])
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, found = self._net.detect(small)
        faces = []
        for row in found if found is not None else []:
            box = tuple(float(v) / scale for v in row[0:4])
            marks = tuple((float(row[i]) / scale, float(row[i + 1]) / scale) for i in range(4, 14, 2))
            faces.append(Face(box, marks, float(row[14])))  # type: ignore[arg-type]
        return sorted(faces, key=lambda f: -f.box[2])


def sharpness(image: np.ndarray, face: Face) -> float:
    """The face's detail against its contrast: the variance of the Laplacian of its grey 112 px crop over
    the variance of the crop itself (x 100). Blur takes the first away and leaves the second; dividing
    keeps a dim cab or a dark face from reading as blurred."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    x, y, w, h = face.box
    x0, y0 = max(0, int(x)), max(0, int(y))
    x1, y1 = min(grey.shape[1], int(x + w)), min(grey.shape[0], int(y + h))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return 0.0
    crop = cv2.resize(grey[y0:y1, x0:x1], (CROP_PX, CROP_PX), interpolation=cv2.INTER_AREA).astype(np.float64)
    return float(cv2.Laplacian(crop, cv2.CV_64F).var() / max(1.0, crop.var()) * 100)


def assess(
    image: np.ndarray,
    faces: list[Face],
    min_face_px: int = MIN_FACE_PX,
    min_sharpness: float = MIN_SHARPNESS,
) -> Quality:
    """The quality gate for one frame (``faces`` as :meth:`FaceDetector.detect` found them)."""
    if not faces:
        return Quality(False, Reason.NO_FACE, 0)
    main = faces[0]
    others = [f for f in faces[1:] if f.box[2] >= SECOND_FACE_SHARE * main.box[2]]
    px = round(main.box[2])
    if others:
        return Quality(False, Reason.SEVERAL_FACES, len(faces), px, detector_score=main.score)
    if px < min_face_px:
        return Quality(False, Reason.TOO_SMALL, len(faces), px, detector_score=main.score)
    sharp = sharpness(image, main)
    if sharp < min_sharpness:
        return Quality(False, Reason.BLURRED, len(faces), px, sharp, main.score)
    return Quality(True, None, len(faces), px, sharp, main.score)


class FaceEmbedder:
    """dlib's ResNet descriptor of a face, aligned on dlib's 5 landmarks (never the 68-point model)."""

    def __init__(self) -> None:
        import dlib  # the lane's and the enrolment function's; nothing else needs it

        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(verify(DLIB_SHAPE_5)))
        self._net = dlib.face_recognition_model_v1(str(verify(DLIB_RESNET)))

    def embed(self, image: np.ndarray, face: Face) -> np.ndarray:
        rgb = np.ascontiguousarray(cv2.cvtColor(_bgr(image), cv2.COLOR_BGR2RGB))
        x, y, w, h = face.box
        rect = self._dlib.rectangle(int(x), int(y), int(x + w), int(y + h))
        shape = self._shape(rgb, rect)
        return np.asarray(self._net.compute_face_descriptor(rgb, shape, 0), dtype=np.float32)


def distance(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != (DIMENSIONS,) or b.shape != (DIMENSIONS,):
        raise ValueError(f"face embeddings are {DIMENSIONS} numbers (got {a.shape} and {b.shape})")
    return float(np.linalg.norm(a.astype(np.float64) - b.astype(np.float64)))


class FaceVerifier:
    """The detector, the embedder and the settings of a lane; :meth:`track` for each vehicle."""

    def __init__(
        self,
        detector: FaceDetector | None = None,
        embedder: FaceEmbedder | None = None,
        *,
        threshold: float = THRESHOLD,
        min_face_px: int = MIN_FACE_PX,
        min_sharpness: float = MIN_SHARPNESS,
    ) -> None:
        if not 0.0 < threshold < 2.0:
            raise ValueError("threshold: a descriptor distance between 0 and 2")
        self.detector = detector or FaceDetector()
        self.embedder = embedder or FaceEmbedder()
        self.threshold = threshold
        self.min_face_px = min_face_px
        self.min_sharpness = min_sharpness

    def track(self) -> FaceTrack:
        return FaceTrack(self)

    def assess(self, image: np.ndarray) -> tuple[Quality, Face | None]:
        faces = self.detector.detect(image)
        quality = assess(image, faces, self.min_face_px, self.min_sharpness)
        return quality, faces[0] if quality.usable else None

    def embedding(self, image: np.ndarray) -> tuple[np.ndarray | None, Quality]:
        """One photo's embedding (an enrolment photo), or None and the quality that refused it."""
        quality, face = self.assess(image)
        return (self.embedder.embed(image, face) if face is not None else None), quality

    def verify(self, frames: list[np.ndarray], reference: np.ndarray | None) -> FaceCheck:
        """Frames of one vehicle against one reference (a convenience over :meth:`track`)."""
        track = self.track()
        for frame in frames:
            track.offer(frame)
        try:
            return track.verify(reference)
        finally:
            track.forget()


class FaceTrack:
    """One vehicle's cab frames: each is detected and assessed as it comes; the best usable one is kept
    (in memory only) until :meth:`verify` computes the one embedding; :meth:`forget` drops it all."""

    def __init__(self, verifier: FaceVerifier) -> None:
        self.verifier = verifier
        self.frames = 0
        self.rejected: Counter[str] = Counter()
        self._best: tuple[np.ndarray, Face, Quality] | None = None
        self._embedding: np.ndarray | None = None
        self._check: FaceCheck | None = None

    def offer(self, frame: np.ndarray) -> Quality:
        self.frames += 1
        quality, face = self.verifier.assess(frame)
        if face is None:
            assert quality.reason is not None
            self.rejected[quality.reason.value] += 1
        elif self._best is None or quality.rank > self._best[2].rank:
            self._best = (frame, face, quality)
            self._embedding = None
        return quality

    @property
    def best_quality(self) -> Quality | None:
        return self._best[2] if self._best else None

    def verify(self, reference: np.ndarray | None) -> FaceCheck:
        v = self.verifier
        quality = self.best_quality
        if self._best is None:
            decision, gap = Decision.UNUSABLE, None
        elif reference is None:
            decision, gap = Decision.NO_REFERENCE, None
        else:
            if self._embedding is None:
                image, face, _ = self._best
                self._embedding = v.embedder.embed(image, face)
            gap = distance(self._embedding, np.asarray(reference, dtype=np.float32))
            decision = Decision.MATCH if gap <= v.threshold else Decision.MISMATCH
        self._check = FaceCheck(decision, gap, v.threshold, quality, self.frames, dict(self.rejected))
        return self._check

    def evidence_crop(self) -> np.ndarray | None:
        """The best frame's face (with a margin) after a mismatch, for a policy that keeps evidence; else None."""
        if self._best is None or self._check is None or self._check.decision != Decision.MISMATCH:
            return None
        image, face, _ = self._best
        x, y, w, h = face.box
        pad = 0.25 * w
        x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
        return np.ascontiguousarray(image[y0 : int(y + h + pad), x0 : int(x + w + pad)])

    def evidence(self, quality: int = 85) -> bytes | None:
        """:meth:`evidence_crop` as JPEG."""
        crop = self.evidence_crop()
        if crop is None:
            return None
        ok, jpeg = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, quality])
        return jpeg.tobytes() if ok else None

    def forget(self) -> None:
        """Nothing of the face outlives the vehicle."""
        if self._embedding is not None:
            self._embedding.fill(0)
        self._best = None
        self._embedding = None


def _bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image
