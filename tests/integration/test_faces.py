"""Driver face verification on real photos: the dev set's genuine and impostor pairs, and the quality gate on
frames made from them (no face, two faces, a tiny face, a blurred face). Real ONNX (YuNet) and dlib
inference; the photos are read where they are (../shared/data/faces/dev), never copied into the project."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from smartgate_edge.vision import face_bench
from smartgate_edge.vision.faces import Decision, FaceEmbedder, FaceVerifier, Reason

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "data" / "faces" / "dev"


def _pairs() -> list[tuple[str, str, bool]]:
    if not (DEV / "labels.csv").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the face dev photos are missing at {DEV}")
        pytest.skip(f"no face dev photos at {DEV}")
    with (DEV / "labels.csv").open(newline="") as fh:
        return [(r["img_a"], r["img_b"], r["same"] == "1") for r in csv.DictReader(fh)]


def _photo(name: str) -> np.ndarray:
    image = cv2.imread(str(DEV / name))
    assert image is not None, name
    return image


class CountingEmbedder(FaceEmbedder):
    """The real embedder, counting how often it runs."""

    calls = 0

    def embed(self, image, face):  # type: ignore[no-untyped-def]
        self.calls += 1
        return super().embed(image, face)


@pytest.fixture(scope="module")
def verifier() -> FaceVerifier:
    return FaceVerifier(embedder=CountingEmbedder())


def _reference(verifier: FaceVerifier, name: str) -> np.ndarray:
    embedding, quality = verifier.embedding(_photo(name))
    assert embedding is not None, quality
    return embedding


def test_the_same_driver_matches_and_another_person_does_not(verifier: FaceVerifier) -> None:
    pairs = _pairs()
    genuine = [p for p in pairs if p[2]][::16][:5]  # five people
    impostor = [p for p in pairs if not p[2]][::16][:5]
    for a, b, _ in genuine:
        check = verifier.verify([_photo(b)], _reference(verifier, a))
        assert check.decision == Decision.MATCH, (a, b, check)
        assert check.score is not None and check.score >= 1 - check.threshold
    for a, b, _ in impostor:
        check = verifier.verify([_photo(b)], _reference(verifier, a))
        assert check.decision == Decision.MISMATCH, (a, b, check)
        assert check.quality is not None and check.quality.usable


def test_a_frame_without_a_face_is_refused_and_nothing_is_decided(verifier: FaceVerifier) -> None:
    rng = np.random.default_rng(5)
    noise = rng.integers(0, 255, (480, 640, 3), dtype=np.uint8)
    wall = np.full((480, 640, 3), 128, np.uint8)
    check = verifier.verify([noise, wall], _reference(verifier, _pairs()[0][0]))
    assert check.decision == Decision.UNUSABLE and check.distance is None and check.score is None
    assert check.rejected == {"no_face": 2} and check.frames == 2


def test_two_faces_in_the_cab_are_refused(verifier: FaceVerifier) -> None:
    a, b = _pairs()[0][0], _pairs()[-1][1]
    both = np.hstack([_photo(a), _photo(b)])
    quality, face = verifier.assess(both)
    assert quality.reason == Reason.SEVERAL_FACES and face is None and quality.faces == 2


def test_a_face_too_small_in_the_frame_is_refused(verifier: FaceVerifier) -> None:
    canvas = np.full((480, 640, 3), 90, np.uint8)  # a far-off driver: the face about 47 px wide
    canvas[200:260, 300:360] = cv2.resize(_photo(_pairs()[0][0]), (60, 60), interpolation=cv2.INTER_AREA)
    quality, face = verifier.assess(canvas)
    assert face is None and quality.reason == Reason.TOO_SMALL, quality
    assert 0 < quality.face_px < verifier.min_face_px


def test_a_blurred_face_is_refused_and_the_next_sharp_frame_is_the_one_embedded(verifier: FaceVerifier) -> None:
    a, b, _ = next(p for p in _pairs() if p[2])
    sharp = _photo(b)
    blurred = [cv2.GaussianBlur(sharp, (0, 0), sigma) for sigma in (4, 5, 6)]
    assert all(verifier.assess(f)[0].reason == Reason.BLURRED for f in blurred)
    reference = _reference(verifier, a)
    embedder = verifier.embedder
    assert isinstance(embedder, CountingEmbedder)
    track = verifier.track()
    for frame in [*blurred, sharp, cv2.GaussianBlur(sharp, (0, 0), 1.0)]:
        track.offer(frame)
    before = embedder.calls
    check = track.verify(reference)
    assert embedder.calls == before + 1  # one embedding for the vehicle, on its best frame
    assert check.decision == Decision.MATCH and check.frames == 5 and check.rejected == {"blurred": 3}
    assert check.quality is not None and check.quality.sharpness >= verifier.min_sharpness
    assert track.evidence() is None  # a match keeps no image
    track.forget()
    assert track.best_quality is None


def test_a_mismatch_can_give_its_face_crop_as_evidence_and_forget_drops_it(verifier: FaceVerifier) -> None:
    a, b, _ = next(p for p in _pairs() if not p[2])
    track = verifier.track()
    track.offer(_photo(b))
    check = track.verify(_reference(verifier, a))
    assert check.decision == Decision.MISMATCH
    jpeg = track.evidence()
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    crop = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert crop is not None and crop.shape[0] < _photo(b).shape[0] * 1.5
    track.forget()
    assert track.evidence() is None


def test_no_reference_means_no_decision_on_the_face(verifier: FaceVerifier) -> None:
    check = verifier.verify([_photo(_pairs()[0][0])], None)
    assert check.decision == Decision.NO_REFERENCE and check.quality is not None and check.quality.usable


def test_the_dev_set_meets_the_goal_at_the_configured_threshold() -> None:
    _pairs()
    bench = face_bench.run(DEV)
    acc, far, frr = bench.rates()
    assert len(bench.pairs) == 160
    assert far <= 0.01 and frr <= 0.05, bench.line()
    assert bench.auc >= 0.98 and acc >= 0.97, bench.line()
