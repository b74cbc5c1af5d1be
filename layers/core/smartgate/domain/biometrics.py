"""A driver's face, as personal data of the most sensitive kind (Decree 13/2023 art. 2: biometric data;
PIPL art. 28): consented, minimal, encrypted, used 1:1 only, deleted on withdrawal or when its time is up,
and every use on the record the driver can ask for.

- :func:`enrol`: the embedding of the driver's photo (never the photo: the caller drops it once the
  embedding is made) is encrypted under the face key with the driver and company as encryption context
  (a blob moved to another driver does not decrypt) and kept with the consent that allows it, until the
  consent's retention runs out (and never past the driver's own record).
- :func:`reference`: the one embedding a lane compares the driver in the cab with (the booked driver's,
  decrypted for that use), or None: not enrolled, withdrawn, or expired (checked on read: a store's TTL
  deletion can lag by days). Every use is recorded, with its purpose.
- :func:`lane_reference`: the booked driver's face for one lane's 1:1 check, still encrypted (the lane
  decrypts it with :func:`open_reference` for that comparison and drops it with the vehicle); the use is
  recorded with the gate, lane and booking.
- :func:`withdraw`: consent withdrawn: the record (embedding and all) is deleted at once; the withdrawal
  itself is recorded (without any biometric data).
- :func:`uses`: the record of where the driver's face data was used (enrolment, each comparison, the
  withdrawal), for the driver through their company; reading it is recorded too.
"""

from __future__ import annotations

import base64
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from smartgate.ports import Clock
from smartgate.schemas import FaceReference, FaceRevoked, UtcDatetime

DIMENSIONS = 128
_PACKED = struct.Struct(f"<{DIMENSIONS}f")  # little-endian float32: 512 bytes
MODEL = "dlib_face_recognition_resnet_model_v1"
CONSENT_TEXT = "face-1to1-2026-12"
"""The version of the consent text a driver agrees to (shown in the trader app in vi / zh / en)."""
RETENTION = timedelta(days=365)
"""Longest a face embedding is kept after the consent (never longer than the driver's record)."""


class Consent(BaseModel):
    """The driver's consent to 1:1 face verification at the gate, as recorded by their company."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    given: Literal[True] = Field(description="the driver agreed (the only answer that allows enrolment)")
    text_version: Annotated[str, Field(min_length=1, max_length=40)] = CONSENT_TEXT
    method: Literal["app", "paper"] = "app"
    given_at: UtcDatetime


@dataclass(frozen=True)
class FaceRecord:
    company_id: str
    driver_id: str
    consent: Consent
    enrolled_at: datetime
    expires_at: datetime
    ciphertext: bytes
    model: str = MODEL

    def usable(self, now: datetime) -> bool:
        return now < self.expires_at


class FaceOpener(Protocol):
    """What a lane holds of the face key: decrypt only."""

    def decrypt(self, ciphertext: bytes, context: dict[str, str]) -> bytes: ...


class FaceCipher(FaceOpener, Protocol):
    def encrypt(self, plaintext: bytes, context: dict[str, str]) -> bytes: ...


class FaceStore(Protocol):
    def get(self, company_id: str, driver_id: str) -> FaceRecord | None: ...
    def put(self, record: FaceRecord) -> None: ...
    def delete(self, company_id: str, driver_id: str) -> bool:
        """True if there was a record."""
        ...


class UseLog(Protocol):
    def log_access(self, subject: str, who: str, what: str, at: datetime) -> None: ...
    def accesses_of(self, subject: str) -> list[tuple[str, str, str]]: ...


@dataclass(frozen=True)
class BiometricDeps:
    store: FaceStore
    cipher: FaceCipher
    uses: UseLog
    clock: Clock
    retention: timedelta = RETENTION


class BiometricError(ValueError):
    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(f"{field}: {message}")
        self.field, self.message, self.status = field, message, status


def subject(company_id: str, driver_id: str) -> str:
    return f"face#{company_id}#{driver_id}"


def face_context(company_id: str, driver_id: str) -> dict[str, str]:
    """The KMS encryption context of a driver's face data (a blob opens only for that driver)."""
    return {"purpose": "face-1to1", "company_id": company_id, "driver_id": driver_id}


def enrol(
    deps: BiometricDeps,
    company_id: str,
    driver_id: str,
    embedding: Sequence[float],
    consent: Consent,
    who: str,
    driver_expires: datetime | None = None,
) -> FaceRecord:
    """Keep the embedding (encrypted) under the consent; a new enrolment replaces the old one."""
    try:
        vector = [float(x) for x in embedding]
    except (TypeError, ValueError) as err:
        raise BiometricError("embedding", f"{DIMENSIONS} numbers are needed ({err})") from err
    if len(vector) != DIMENSIONS or not all(math.isfinite(x) for x in vector):
        raise BiometricError("embedding", f"{DIMENSIONS} finite numbers are needed (got {len(vector)})")
    now = deps.clock.now()
    if consent.given_at > now + timedelta(minutes=5):
        raise BiometricError("consent.given_at", "the consent cannot be given in the future")
    expires = consent.given_at + deps.retention
    if driver_expires is not None:
        expires = min(expires, driver_expires)
    if expires <= now:
        raise BiometricError("consent.given_at", "this consent's retention has already run out: ask again")
    blob = deps.cipher.encrypt(_PACKED.pack(*vector), face_context(company_id, driver_id))
    record = FaceRecord(company_id, driver_id, consent, now, expires, blob)
    deps.store.put(record)
    deps.uses.log_access(
        subject(company_id, driver_id),
        who,
        f"face enrolled (consent {consent.text_version}, {consent.method}; kept until {expires:%Y-%m-%d})",
        now,
    )
    return record


def _usable(deps: BiometricDeps, company_id: str, driver_id: str, now: datetime) -> FaceRecord | None:
    """The driver's record, or None when there is none or it is past its retention (the store's TTL lags)."""
    record = deps.store.get(company_id, driver_id)
    return record if record is not None and record.usable(now) else None


def _vector(plain: bytes, field: str, status: int = 422) -> tuple[float, ...]:
    """A decrypted embedding, or BiometricError naming ``field`` when it is not one of this model's."""
    if len(plain) != _PACKED.size:
        raise BiometricError(field, "the face data is not an embedding of this model", status)
    vector: tuple[float, ...] = _PACKED.unpack(plain)
    return vector


def _record_of(deps: BiometricDeps, key: str) -> list[tuple[str, str, str]]:
    """(when, who, what) of every use on a driver's record, oldest first."""
    return sorted(deps.uses.accesses_of(key), key=lambda row: row[0])


def reference(deps: BiometricDeps, company_id: str, driver_id: str, purpose: str, who: str) -> tuple[float, ...] | None:
    """The driver's embedding for one 1:1 comparison (``purpose``: which gate, lane, booking), or None. The
    cloud's own read (the lanes get theirs through :func:`lane_reference`): tools and tests check with it
    what the store holds."""
    now = deps.clock.now()
    record = _usable(deps, company_id, driver_id, now)
    if record is None:
        return None
    vector = _vector(deps.cipher.decrypt(record.ciphertext, face_context(company_id, driver_id)), "embedding", 500)
    deps.uses.log_access(subject(company_id, driver_id), who, f"face used: {purpose}", now)
    return vector


LANE_WHO = "lane "
"""How the record names a lane a face was sent to (``lane <gate>/<lane>``)."""
REFERENCE_LIFE = timedelta(minutes=10)
"""How long a lane may keep a face reference it was sent (used or not): the truck is at the barrier."""


def lane_reference(
    deps: BiometricDeps,
    record: FaceRecord,
    key_id: str,
    *,
    gate_id: str,
    lane_id: str,
    passage_id: str,
    booking_id: str,
) -> FaceReference | None:
    """The driver's face, encrypted, for the lane where their booking's pass was just shown; None when the
    record is past its retention. The use is recorded before the reference is given."""
    now = deps.clock.now()
    if not record.usable(now):
        return None
    deps.uses.log_access(
        subject(record.company_id, record.driver_id),
        f"{LANE_WHO}{gate_id}/{lane_id}",
        f"face sent for a 1:1 check at gate {gate_id} lane {lane_id} (booking {booking_id})",
        now,
    )
    return FaceReference(
        reference_id=f"face-ref-{passage_id}-{booking_id}"[:128],
        gate_id=gate_id,
        lane_id=lane_id,
        passage_id=passage_id,
        booking_id=booking_id,
        company_id=record.company_id,
        driver_ref=record.driver_id,
        key_id=key_id,
        ciphertext=base64.b64encode(record.ciphertext).decode(),
        model=record.model,
        issued_at=now,
        use_by=min(now + REFERENCE_LIFE, record.expires_at),
    )


class FacePublisher(Protocol):
    def publish(self, message: FaceReference | FaceRevoked) -> None: ...


class FaceChecks(Protocol):
    """What the crossing flow asks of face data (:class:`LaneFaces`, or a stand-in that builds it late)."""

    def enrolled(self, company_id: str, driver_id: str) -> FaceRecord | None: ...
    def send(self, record: FaceRecord, *, gate_id: str, lane_id: str, passage_id: str, booking_id: str) -> bool: ...


@dataclass(frozen=True)
class LaneFaces:
    """What the crossing flow asks of face data: is the booked driver enrolled, and send their face (still
    encrypted) to the lane where their pass was shown."""

    bio: BiometricDeps
    publisher: FacePublisher
    key_id: str

    def enrolled(self, company_id: str, driver_id: str) -> FaceRecord | None:
        return _usable(self.bio, company_id, driver_id, self.bio.clock.now())

    def send(self, record: FaceRecord, *, gate_id: str, lane_id: str, passage_id: str, booking_id: str) -> bool:
        reference = lane_reference(
            self.bio,
            record,
            self.key_id,
            gate_id=gate_id,
            lane_id=lane_id,
            passage_id=passage_id,
            booking_id=booking_id,
        )
        if reference is None:
            return False
        self.publisher.publish(reference)
        return True


def open_reference(reference: FaceReference, cipher: FaceOpener) -> tuple[float, ...]:
    """The lane's side: the embedding a reference carries, for its one comparison (BiometricError if it is
    not one of this model's: the lane compares nothing then)."""
    if reference.model != MODEL:
        raise BiometricError("model", f"the lane compares {MODEL} embeddings, not {reference.model}")
    try:
        blob = base64.b64decode(reference.ciphertext, validate=True)
    except ValueError as err:
        raise BiometricError("ciphertext", "not base64") from err
    return _vector(cipher.decrypt(blob, face_context(reference.company_id, reference.driver_ref)), "ciphertext")


def status(
    deps: BiometricDeps, company_id: str, driver_id: str, who: str
) -> tuple[FaceRecord | None, list[tuple[str, str, str]]]:
    """What the driver (through their company) may see of their face data: the record (for its consent and
    dates; the caller shows no face data) or None when there is none or it is past its retention, and every
    use, oldest first. One read, recorded once."""
    now = deps.clock.now()
    key = subject(company_id, driver_id)
    deps.uses.log_access(key, who, "face record read", now)
    return _usable(deps, company_id, driver_id, now), _record_of(deps, key)


def withdraw(deps: BiometricDeps, company_id: str, driver_id: str, who: str) -> bool:
    """Consent withdrawn: the face data is deleted now. True if there was some."""
    now = deps.clock.now()
    had = deps.store.delete(company_id, driver_id)
    what = "consent withdrawn: face data deleted" if had else "consent withdrawn: no face data was kept"
    deps.uses.log_access(subject(company_id, driver_id), who, what, now)
    return had


def revoke_on_lanes(deps: BiometricDeps, publisher: FacePublisher, company_id: str, driver_id: str) -> list[str]:
    """After a withdrawal: every lane the driver's face was sent to within :data:`REFERENCE_LIFE` (it may still
    hold it) is told to drop it; returns those lanes (``gate/lane``), the telling on the record."""
    now = deps.clock.now()
    key = subject(company_id, driver_id)
    holding = sorted(
        {
            who.removeprefix(LANE_WHO)
            for at, who, what in deps.uses.accesses_of(key)
            if who.startswith(LANE_WHO)
            and what.startswith("face sent")
            and datetime.fromisoformat(at) > now - REFERENCE_LIFE
        }
    )
    for lane in holding:
        gate_id, lane_id = lane.split("/", 1)
        publisher.publish(
            FaceRevoked(gate_id=gate_id, lane_id=lane_id, company_id=company_id, driver_ref=driver_id, revoked_at=now)
        )
    if holding:
        deps.uses.log_access(
            key, "smartgate", f"consent withdrawn: lanes told to drop the face ({', '.join(holding)})", now
        )
    return holding


def uses(deps: BiometricDeps, company_id: str, driver_id: str, who: str) -> list[tuple[str, str, str]]:
    """(when, who, what) of every use of the driver's face data, oldest first; this read is recorded too."""
    key = subject(company_id, driver_id)
    deps.uses.log_access(key, who, "record of face data uses read", deps.clock.now())
    return _record_of(deps, key)
