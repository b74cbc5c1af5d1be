"""The lane's cab camera: the booked driver's face, sent encrypted by the cloud, compared 1:1 with the driver in
the cab — real YuNet and dlib inference on cab frames made from the project's public-domain portraits. A
reference waits for its vehicle; one embedding per vehicle; a vehicle without a usable frame is reported
unusable; nothing is published for a driver the cloud did not ask about; no embedding leaves the lane."""

from __future__ import annotations

import json
import logging
import random
import re
from datetime import timedelta

import cv2
import numpy as np
import pytest
from domain_fixtures import AccessLog, ContextCipher
from smartgate_edge.vision.cab import CabFaces
from smartgate_edge.vision.faces import FaceEmbedder, FaceVerifier

from smartgate.adapters.biometrics import InMemoryFaceStore
from smartgate.domain import biometrics as B
from smartgate.facekey import FaceKeyError
from smartgate.schemas import FaceDecision, FaceReference, FaceRevoked, FaceVerified, utc_now
from smartgate_infra.lane_camera import DRIVER_PHOTOS, cab_frames

pytestmark = pytest.mark.integration
GATE, LANE = "sandbox", "cab-01"


class CountingEmbedder(FaceEmbedder):
    calls = 0

    def embed(self, image, face):  # type: ignore[no-untyped-def]
        CountingEmbedder.calls += 1
        return super().embed(image, face)


class RefusingKms:
    def decrypt(self, ciphertext: bytes, context: dict[str, str]) -> bytes:
        raise FaceKeyError(f"the face data did not decrypt for {context['driver_id']}: InvalidCiphertextException")

    encrypt = decrypt


class Clock:
    def now(self):  # type: ignore[no-untyped-def]
        return utc_now()


@pytest.fixture(scope="module")
def verifier() -> FaceVerifier:
    return FaceVerifier(embedder=CountingEmbedder())


def _reference(verifier: FaceVerifier, who: str, lane: str = LANE, life: timedelta | None = None) -> FaceReference:
    """What the cloud sends: ``who``'s enrolled embedding, encrypted for that driver."""
    bio = B.BiometricDeps(InMemoryFaceStore(), ContextCipher(), AccessLog(), Clock())
    embedding, quality = verifier.embedding(cv2.imread(str(DRIVER_PHOTOS[who])))
    assert embedding is not None, quality
    consent = B.Consent(given=True, given_at=utc_now() - timedelta(minutes=1))
    record = B.enrol(bio, "TR-CAB", f"DRV-{who}", embedding.tolist(), consent, "test")
    reference = B.lane_reference(
        bio, record, "key-1", gate_id=GATE, lane_id=lane, passage_id="psg-cab-test", booking_id=f"BK-{who}"
    )
    assert reference is not None
    return reference if life is None else reference.model_copy(update={"use_by": utc_now() + life})


def _drive(faces: CabFaces, frames: list[np.ndarray], empty_after: int = 0) -> list:  # type: ignore[type-arg]
    road = np.full_like(frames[0], 35)
    outcomes = []
    for frame in [*frames, *([road] * empty_after)]:
        outcomes += faces.offer(frame, utc_now())
    return outcomes


def _cab(verifier: FaceVerifier, **kw) -> CabFaces:  # type: ignore[no-untyped-def]
    return CabFaces(verifier, ContextCipher(), GATE, LANE, gap_frames=2, **kw)


@pytest.mark.parametrize(
    ("enrolled", "in_cab", "decision"),
    [
        ("grace_hopper", "grace_hopper", FaceDecision.MATCH),
        ("grace_hopper", "eileen_collins", FaceDecision.MISMATCH),
        ("eileen_collins", "eileen_collins", FaceDecision.MATCH),
    ],
)
def test_the_driver_in_the_cab_is_compared_with_the_booked_driver_only(  # type: ignore[no-untyped-def]
    verifier, caplog, enrolled: str, in_cab: str, decision: FaceDecision
) -> None:
    faces = _cab(verifier, keep_evidence=True)
    reference = _reference(verifier, enrolled)
    assert faces.refer(reference)
    before = CountingEmbedder.calls
    with caplog.at_level(logging.DEBUG):
        outcomes = _drive(faces, cab_frames(DRIVER_PHOTOS[in_cab], 6, random.Random(7)), empty_after=3)
    [outcome] = outcomes
    assert CountingEmbedder.calls - before == 1  # one embedding for the vehicle, on its best frame
    assert outcome.check.decision == decision, outcome.check
    event = FaceVerified(event_id="face-test", gate_id=GATE, lane_id=LANE, **outcome.fields())
    assert event.booking_id == f"BK-{enrolled}" and event.quality is not None and event.quality.face_px >= 60
    assert (event.score or 0) >= 1 - event.threshold if decision == FaceDecision.MATCH else (event.score or 1) < 0.4
    # the evidence crop exists only after a mismatch; no embedding in the event or in the logs
    assert (outcome.crop is not None) == (decision == FaceDecision.MISMATCH)
    text = event.model_dump_json() + caplog.text
    assert "embedding" not in json.loads(event.model_dump_json()) and "0." not in json.dumps(event.quality.rejected)
    plain = B.open_reference(reference, ContextCipher())
    assert all(f"{x:.4f}" not in text for x in plain[:16] if abs(x) > 0.01)


def test_a_reference_waits_for_its_vehicle_and_a_driver_nobody_asked_about_is_forgotten(verifier) -> None:  # type: ignore[no-untyped-def]
    faces = _cab(verifier)
    grace = cab_frames(DRIVER_PHOTOS["grace_hopper"], 4, random.Random(1))
    # a driver the cloud sent nothing for: checked by nobody, published nothing
    assert _drive(faces, grace, empty_after=3) == []
    # the reference comes before the truck does: it waits for the next driver in view
    faces.refer(_reference(verifier, "grace_hopper"))
    faces.refer(_reference(verifier, "grace_hopper"))  # QoS 1 redelivery: one reference
    [outcome] = _drive(faces, grace, empty_after=3)
    assert outcome.check.decision == FaceDecision.MATCH
    assert _drive(faces, grace, empty_after=3) == []  # used: the next vehicle is not compared with it


def test_a_vehicle_without_a_usable_frame_is_reported_unusable_with_the_reasons(verifier) -> None:  # type: ignore[no-untyped-def]
    faces = _cab(verifier)
    faces.refer(_reference(verifier, "grace_hopper"))
    blurred = [cv2.GaussianBlur(f, (0, 0), 9) for f in cab_frames(DRIVER_PHOTOS["grace_hopper"], 3, random.Random(2))]
    outcomes = _drive(faces, blurred, empty_after=3)
    [outcome] = outcomes
    assert outcome.check.decision == FaceDecision.UNUSABLE and outcome.check.score is None
    assert outcome.check.rejected.get("blurred", 0) >= 1, outcome.check.rejected
    event = FaceVerified(event_id="face-test", gate_id=GATE, lane_id=LANE, **outcome.fields())
    assert event.quality is None and event.decision == FaceDecision.UNUSABLE


def test_references_for_another_lane_or_past_their_use_are_not_used(verifier) -> None:  # type: ignore[no-untyped-def]
    faults: list[tuple[str, str]] = []
    faces = CabFaces(verifier, ContextCipher(), GATE, LANE, gap_frames=2, on_fault=lambda k, d: faults.append((k, d)))
    assert not faces.refer(_reference(verifier, "grace_hopper", lane="cab-02"))
    assert faults and "another lane" in faults[0][1]
    faces.refer(_reference(verifier, "grace_hopper", life=timedelta(seconds=-1)))  # already past its use
    assert _drive(faces, cab_frames(DRIVER_PHOTOS["grace_hopper"], 3, random.Random(4)), empty_after=3) == []
    # a reference that does not open (KMS refuses: another driver's context, a blob moved between records)
    refusing = CabFaces(verifier, RefusingKms(), GATE, LANE, gap_frames=2, on_fault=lambda k, d: faults.append((k, d)))
    refusing.refer(_reference(verifier, "grace_hopper"))
    assert _drive(refusing, cab_frames(DRIVER_PHOTOS["grace_hopper"], 3, random.Random(5)), empty_after=3) == []
    assert any(kind == "face_reference" and "booking BK-grace_hopper" in detail for kind, detail in faults[1:])


def test_bench_face_runs_on_any_labelled_folder_and_prints_the_cab_stream(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    from smartgate_edge.vision import face_bench

    rng = random.Random(11)
    for who in DRIVER_PHOTOS:
        for n, frame in enumerate(cab_frames(DRIVER_PHOTOS[who], 2, rng)):
            cv2.imwrite(str(tmp_path / f"{who}_{n}.jpg"), frame)
    (tmp_path / "labels.csv").write_text(
        "img_a,img_b,same\n"
        "grace_hopper_0.jpg,grace_hopper_1.jpg,1\n"
        "eileen_collins_0.jpg,eileen_collins_1.jpg,1\n"
        "grace_hopper_0.jpg,eileen_collins_1.jpg,0\n"
    )
    assert face_bench.main(["--data", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("cab stream (8 frames a vehicle") for line in lines), lines
    assert re.fullmatch(r"acc=1\.000 far=0\.000 frr=0\.000 auc=1\.000 p50_ms=\d+ n=3", lines[-1]), lines[-1]


def test_a_withdrawal_drops_the_drivers_reference_on_the_lane_unused(verifier) -> None:  # type: ignore[no-untyped-def]
    faces = _cab(verifier)
    reference = _reference(verifier, "grace_hopper")
    faces.refer(reference)
    other = _reference(verifier, "eileen_collins")
    faces.refer(other)
    revoked = FaceRevoked(
        gate_id=GATE, lane_id=LANE, company_id="TR-CAB", driver_ref="DRV-grace_hopper", revoked_at=utc_now()
    )
    assert faces.revoke(revoked) == 1
    # the next driver is compared with the reference still allowed (the other driver's), not the withdrawn one
    [outcome] = _drive(faces, cab_frames(DRIVER_PHOTOS["eileen_collins"], 3, random.Random(8)), empty_after=3)
    assert outcome.reference.booking_id == "BK-eileen_collins" and outcome.check.decision == FaceDecision.MATCH
    assert _drive(faces, cab_frames(DRIVER_PHOTOS["grace_hopper"], 3, random.Random(9)), empty_after=3) == []
