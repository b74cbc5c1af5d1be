"""A driver's face data: enrolled only with consent, encrypted, used 1:1 and on the record, gone on withdrawal
and unusable once its time is up (whatever the store's TTL deletion lags)."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest
from domain_fixtures import AccessLog, ContextCipher, RecordingFaces
from pydantic import ValidationError

from smartgate.adapters.biometrics import InMemoryFaceStore
from smartgate.domain import biometrics as B
from smartgate.domain.biometrics import LaneFaces
from smartgate.schemas import FaceRevoked

T0 = datetime.fromisoformat("2026-12-01T08:00:00+00:00")


class Clock:
    def __init__(self) -> None:
        self.t = T0

    def now(self) -> datetime:
        return self.t


@pytest.fixture
def deps() -> B.BiometricDeps:
    return B.BiometricDeps(InMemoryFaceStore(), ContextCipher(), AccessLog(), Clock(), retention=timedelta(days=365))


def _embedding(seed: int = 1) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return v / np.linalg.norm(v)


def test_an_enrolled_face_is_kept_encrypted_and_given_back_for_one_use_on_the_record(deps: B.BiometricDeps) -> None:
    consent = B.Consent(given=True, given_at=T0)
    record = B.enrol(deps, "CO-1", "DR-1", _embedding(), consent, "trader-co-1")
    assert record.expires_at == T0 + timedelta(days=365)
    assert _embedding().astype("<f4").tobytes() != record.ciphertext  # never kept in the clear
    deps.clock.t += timedelta(hours=3)  # type: ignore[attr-defined]
    got = B.reference(deps, "CO-1", "DR-1", "kimthanh2/out-1 booking BK-1", "lane:kimthanh2/out-1")
    assert got is not None and np.allclose(got, _embedding())
    assert B.reference(deps, "CO-1", "DR-2", "kimthanh2/out-1 booking BK-2", "lane") is None  # not enrolled
    used = [what for _, _, what in B.uses(deps, "CO-1", "DR-1", "trader-co-1")]
    assert used[0].startswith("face enrolled (consent face-1to1-2026-12, app")
    assert used[1] == "face used: kimthanh2/out-1 booking BK-1"
    assert used[2] == "record of face data uses read"  # reading the record is on it too


def test_withdrawing_consent_deletes_the_face_data_at_once(deps: B.BiometricDeps) -> None:
    B.enrol(deps, "CO-1", "DR-1", _embedding(), B.Consent(given=True, given_at=T0), "trader")
    assert B.withdraw(deps, "CO-1", "DR-1", "trader") is True
    assert deps.store.get("CO-1", "DR-1") is None
    assert B.reference(deps, "CO-1", "DR-1", "a lane", "lane") is None
    assert B.withdraw(deps, "CO-1", "DR-1", "trader") is False
    whats = [w for _, _, w in deps.uses.accesses_of(B.subject("CO-1", "DR-1"))]
    assert "consent withdrawn: face data deleted" in whats and "consent withdrawn: no face data was kept" in whats


def test_face_data_past_its_retention_is_never_used_even_before_the_store_deletes_it(deps: B.BiometricDeps) -> None:
    driver_expires = T0 + timedelta(days=30)
    record = B.enrol(deps, "CO-1", "DR-1", _embedding(), B.Consent(given=True, given_at=T0), "t", driver_expires)
    assert record.expires_at == driver_expires  # never past the driver's own record
    deps.clock.t = driver_expires  # type: ignore[attr-defined]
    assert deps.store.get("CO-1", "DR-1") is not None  # still stored (TTL deletion lags)
    assert B.reference(deps, "CO-1", "DR-1", "a lane", "lane") is None


def test_no_consent_no_enrolment_and_bad_embeddings_are_refused(deps: B.BiometricDeps) -> None:
    with pytest.raises(ValidationError):
        B.Consent(given=False, given_at=T0)  # type: ignore[arg-type]
    consent = B.Consent(given=True, given_at=T0)
    with pytest.raises(B.BiometricError, match="embedding: 128 finite numbers"):
        B.enrol(deps, "CO-1", "DR-1", np.zeros(64), consent, "t")
    with pytest.raises(B.BiometricError, match="embedding"):
        B.enrol(deps, "CO-1", "DR-1", np.full(128, np.nan), consent, "t")
    with pytest.raises(B.BiometricError, match="consent.given_at: the consent cannot be given in the future"):
        B.enrol(deps, "CO-1", "DR-1", _embedding(), B.Consent(given=True, given_at=T0 + timedelta(days=1)), "t")
    old = B.Consent(given=True, given_at=T0 - timedelta(days=400))
    with pytest.raises(B.BiometricError, match="retention has already run out"):
        B.enrol(deps, "CO-1", "DR-1", _embedding(), old, "t")
    assert deps.store.get("CO-1", "DR-1") is None  # nothing was kept by a refused enrolment


def test_face_data_encrypted_for_one_driver_does_not_open_as_another(deps: B.BiometricDeps) -> None:
    record = B.enrol(deps, "CO-1", "DR-1", _embedding(), B.Consent(given=True, given_at=T0), "t")
    deps.store.put(B.FaceRecord("CO-1", "DR-2", record.consent, T0, record.expires_at, record.ciphertext))
    moved = B.reference(deps, "CO-1", "DR-2", "a lane", "lane")
    assert moved is not None and not np.allclose(moved, _embedding())  # garbage, not the other driver's face


def test_a_withdrawal_tells_the_lanes_still_holding_the_face_to_drop_it(deps: B.BiometricDeps) -> None:
    consent = B.Consent(given=True, given_at=T0)
    record = B.enrol(deps, "TR-1", "DRV-1", _embedding(), consent, "trader-1")
    sent = RecordingFaces()
    lanes = LaneFaces(deps, sent, "key-1")
    # sent to one lane long ago (its reference is past use), to two lanes in the last minutes
    lanes.send(record, gate_id="mongcai", lane_id="out-1", passage_id="psg-a", booking_id="BK-A")
    deps.clock.t = T0 + timedelta(minutes=30)  # type: ignore[attr-defined]
    lanes.send(record, gate_id="mongcai", lane_id="in-1", passage_id="psg-b", booking_id="BK-B")
    lanes.send(record, gate_id="kimthanh2", lane_id="out-1", passage_id="psg-c", booking_id="BK-C")
    assert [r.reference_id for r in sent.sent] == ["face-ref-psg-a-BK-A", "face-ref-psg-b-BK-B", "face-ref-psg-c-BK-C"]
    deps.clock.t = T0 + timedelta(minutes=35)  # type: ignore[attr-defined]
    assert B.withdraw(deps, "TR-1", "DRV-1", "trader-1")
    told = B.revoke_on_lanes(deps, sent, "TR-1", "DRV-1")
    assert told == ["kimthanh2/out-1", "mongcai/in-1"]
    revoked = [m for m in sent.sent if isinstance(m, FaceRevoked)]
    assert [(m.gate_id, m.lane_id, m.driver_ref) for m in revoked] == [
        ("kimthanh2", "out-1", "DRV-1"),
        ("mongcai", "in-1", "DRV-1"),
    ]
    whats = [what for _, _, what in deps.uses.accesses_of(B.subject("TR-1", "DRV-1"))]
    assert whats[-1] == "consent withdrawn: lanes told to drop the face (kimthanh2/out-1, mongcai/in-1)"
    assert B.revoke_on_lanes(deps, sent, "TR-2", "DRV-9") == []  # nobody else's lanes are told anything
