"""Face data encrypted by the stack's face key (KMS, on the local emulator): the embedding round-trips
under its own driver's context only, and is never stored in the clear."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from smartgate.adapters.biometrics import InMemoryFaceStore
from smartgate.domain import biometrics as B
from smartgate.facekey import FaceKeyError, KmsFaceCipher

pytestmark = pytest.mark.integration


class Clock:
    def now(self) -> datetime:
        return datetime.fromisoformat("2026-12-01T08:00:00+00:00")


class Log:
    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str]] = []

    def log_access(self, subject: str, who: str, what: str, at: datetime) -> None:
        self.rows.append((subject, who, what))

    def accesses_of(self, subject: str) -> list[tuple[str, str, str]]:
        return [("", w, x) for s, w, x in self.rows if s == subject]


def test_kms_keeps_the_embedding_for_its_own_driver_only(stack_client) -> None:  # type: ignore[no-untyped-def]
    kms = stack_client.client("kms")
    key = str(stack_client.template.resolve({"Ref": "FaceKey"}))  # the stack's face key (template.yaml)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is True
    cipher = KmsFaceCipher(kms, key)
    deps = B.BiometricDeps(InMemoryFaceStore(), cipher, Log(), Clock(), timedelta(days=365))
    vector = np.random.default_rng(3).normal(size=128).astype(np.float32)
    consent = B.Consent(given=True, given_at=Clock().now())

    record = B.enrol(deps, "CO-K", "DR-K", vector, consent, "trader")

    assert vector.astype("<f4").tobytes() not in record.ciphertext
    back = B.reference(deps, "CO-K", "DR-K", "a test", "lane")
    assert back is not None and np.array_equal(back, vector)
    with pytest.raises(FaceKeyError, match="did not decrypt for DR-OTHER"):
        cipher.decrypt(record.ciphertext, {"purpose": "face-1to1", "company_id": "CO-K", "driver_id": "DR-OTHER"})
