"""The cab camera's part of the lane: the driver's face checked 1:1 against the booked driver's, and nothing else.

The cloud sends a :class:`~smartgate.schemas.FaceReference` to the lane (``.../faces``) when a pass is shown
there for a booking whose driver is enrolled: the driver's embedding, still encrypted under the face key,
bound to that driver by the encryption context. :class:`CabFaces` keeps one :class:`FaceTrack` per vehicle
in front of the cab camera:

- every frame is detected and assessed (the quality gate's reasons are counted), the best usable one kept;
- a vehicle starts with the first frame that shows a face and ends after ``gap_frames`` frames without one;
- a reference is for the vehicle in view (or the next to come, until its ``use_by``); it is decrypted when it
  is used and the comparison is made as soon as the vehicle has a usable frame (the decision waits for it),
  on the best frame so far: one embedding per vehicle;
- a vehicle that leaves with a reference but no usable frame is reported ``unusable``; one that leaves without
  a reference is forgotten: nothing is published for a driver the cloud did not ask about;
- a :class:`~smartgate.schemas.FaceRevoked` (the driver withdrew consent) drops their references unused.

The outcome is a :class:`FaceOutcome`: the fields of a FaceVerified event (score, decision, quality: never an
image or an embedding) and, after a mismatch only, the face crop for a policy that keeps evidence. Everything of
the face (frames, embedding, decrypted reference) is dropped when the vehicle ends.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from smartgate.domain.biometrics import BiometricError, FaceOpener, open_reference
from smartgate.schemas import FaceDecision, FaceReference, FaceRevoked
from smartgate_edge.transport import kv
from smartgate_edge.vision.faces import FaceCheck, FaceTrack, FaceVerifier

log = logging.getLogger("smartgate_edge.vision.cab")

PENDING_LIMIT = 8
"""References waiting for their vehicle, at most (the oldest is dropped beyond: a lane serves one truck at a time)."""


@dataclass(frozen=True)
class FaceOutcome:
    """One vehicle's check, for a FaceVerified event; ``crop`` (BGR) only after a mismatch."""

    reference: FaceReference
    check: FaceCheck
    first_at: datetime
    captured_at: datetime
    crop: np.ndarray | None = None

    def fields(self) -> dict[str, Any]:
        """The FaceVerified fields the lane fills in (gate, lane, event id and evidence key are the loop's)."""
        quality = self.check.quality
        return {
            "booking_id": self.reference.booking_id,
            "driver_ref": self.reference.driver_ref,
            "decision": self.check.decision,
            "score": self.check.score,
            "threshold": self.check.threshold,
            "quality": None
            if quality is None
            else {**quality.summary(), "frames": self.check.frames, "rejected": dict(self.check.rejected)},
            "captured_at": self.captured_at,
        }


class CabFaces:
    """The lane's face checks: frames in (:meth:`offer`), references in (:meth:`refer`, from any thread),
    outcomes out. ``cipher`` opens a reference (KMS on the lane; the lane's role may only decrypt)."""

    def __init__(
        self,
        verifier: FaceVerifier,
        cipher: FaceOpener,
        gate_id: str,
        lane_id: str,
        *,
        gap_frames: int = 5,
        keep_evidence: bool = False,
        on_fault: Callable[[str, str], None] | None = None,
    ) -> None:
        self.verifier = verifier
        self.cipher = cipher
        self.gate_id, self.lane_id = gate_id, lane_id
        self.gap_frames = gap_frames
        self.keep_evidence = keep_evidence
        self.on_fault = on_fault or (lambda kind, detail: None)
        self._pending: deque[FaceReference] = deque()
        self._lock = threading.Lock()
        self._track: FaceTrack | None = None
        self._reference: FaceReference | None = None
        self._done = False  # this vehicle's check was published
        self._absent = 0
        self._first_at: datetime | None = None
        self._last_at: datetime | None = None

    # ---- references (the uplink's thread)

    def refer(self, reference: FaceReference) -> bool:
        """A reference from the cloud; False (and logged) if it is not for this lane."""
        if (reference.gate_id, reference.lane_id) != (self.gate_id, self.lane_id):
            self.on_fault("face_reference", f"reference {reference.reference_id} is for another lane")
            return False
        with self._lock:
            if any(r.reference_id == reference.reference_id for r in self._pending) or (
                self._reference is not None and self._reference.reference_id == reference.reference_id
            ):
                return True  # a redelivery (QoS 1)
            if len(self._pending) >= PENDING_LIMIT:
                dropped = self._pending.popleft()
                log.warning(kv("face reference dropped: too many waiting", booking=dropped.booking_id))
            self._pending.append(reference)
        log.info(kv("face reference received", lane=self.lane_id, booking=reference.booking_id))
        return True

    def revoke(self, revoked: FaceRevoked) -> int:
        """The driver withdrew consent: their references here are dropped unused; returns how many."""

        def theirs(r: FaceReference | None) -> bool:
            return r is not None and (r.company_id, r.driver_ref) == (revoked.company_id, revoked.driver_ref)

        with self._lock:
            kept = deque(r for r in self._pending if not theirs(r))
            dropped = len(self._pending) - len(kept)
            self._pending = kept
            if theirs(self._reference) and not self._done:
                self._reference, dropped = None, dropped + 1
        log.info(kv("face reference dropped: consent withdrawn", lane=self.lane_id, dropped=dropped))
        return dropped

    def _take_reference(self, now: datetime) -> FaceReference | None:
        with self._lock:
            while self._pending:
                reference = self._pending.popleft()
                if reference.use_by > now:
                    return reference
                log.info(kv("face reference expired unused", lane=self.lane_id, booking=reference.booking_id))
        return None

    # ---- frames (the loop's thread)

    def offer(self, image: np.ndarray, captured_at: datetime) -> list[FaceOutcome]:
        """One cab frame; the outcomes it completes (this vehicle's check, or the previous one's end)."""
        outcomes: list[FaceOutcome] = []
        track = self._track
        if track is None:
            track = self.verifier.track()
        quality = track.offer(image)
        if quality.faces == 0:
            if self._track is not None:
                self._absent += 1
                if self._absent > self.gap_frames:
                    outcomes += self.end()
            return outcomes
        if self._track is None:  # a new vehicle's driver
            self._track, self._first_at = track, captured_at
        self._absent = 0
        self._last_at = captured_at
        if self._reference is None and not self._done:
            self._reference = self._take_reference(captured_at)
        outcome = self._check_now()
        if outcome is not None:
            outcomes.append(outcome)
        return outcomes

    def _check_now(self) -> FaceOutcome | None:
        """Compare once the vehicle has both a reference and a usable frame."""
        track, reference = self._track, self._reference
        if track is None or reference is None or self._done or track.best_quality is None:
            return None
        return self._verify(track, reference)

    def _verify(self, track: FaceTrack, reference: FaceReference) -> FaceOutcome | None:
        self._done = True
        assert self._first_at is not None and self._last_at is not None
        if track.best_quality is None:
            check = track.verify(None)  # unusable: no frame passed the gate
        else:
            try:
                vector = np.asarray(open_reference(reference, self.cipher), dtype=np.float32)
            except (BiometricError, RuntimeError) as exc:  # FaceKeyError: KMS refused (key, context, no link)
                self.on_fault("face_reference", f"booking {reference.booking_id}: {exc}")
                return None
            check = track.verify(vector)
            vector.fill(0)
        crop = track.evidence_crop() if self.keep_evidence and check.decision == FaceDecision.MISMATCH else None
        log.info(
            kv(
                "driver's face checked",
                lane=self.lane_id,
                booking=reference.booking_id,
                decision=check.decision.value,
                score=check.score,
                frames=check.frames,
            )
        )
        return FaceOutcome(reference, check, self._first_at, self._last_at, crop)

    def end(self) -> list[FaceOutcome]:
        """The vehicle left (or the source ended): an unanswered reference is reported unusable; all is dropped."""
        outcomes: list[FaceOutcome] = []
        track, reference = self._track, self._reference
        if track is not None and reference is not None and not self._done:
            outcome = self._verify(track, reference)
            if outcome is not None:
                outcomes.append(outcome)
        if track is not None:
            track.forget()
        self._track, self._reference, self._done = None, None, False
        self._absent, self._first_at, self._last_at = 0, None, None
        return outcomes
