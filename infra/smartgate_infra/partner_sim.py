"""A partner gate simulator: plays the Chinese side of the exchange (``sandboxcn`` across from our
``sandbox``; ``hekou`` or ``dongxing`` by argument) on the local stack.

It speaks only through the published contract (docs/partner/README.md, ``smartgate.partner``), as the
partner's own system would: it reads our signed messages where our forward rule delivers them (the
outbound queue, standing in for the partner's bus), opens them with our published public key, and puts
its own signed, minimised events on our inbound partner bus. Nothing else of the stack is touched.

- Our ``VehicleDeparted`` of an export (a truck left our gate towards it) is answered after ``delay_s``: a
  ``VehicleCleared`` (it checked the documents, or nothing), or at ``refusal_rate`` (seeded) a
  ``ConsignmentRefused`` (``reason_code`` documents); a cleared truck then leaves its gate too
  (``VehicleDeparted``, ``delay_s`` later). Our other events are read and kept (:attr:`received`).
- :meth:`publish_capacity` publishes its acceptance capacity of one window.
- :meth:`send_raw` puts anything on our inbound bus (faults: malformed, unknown versions, other keys).

Use: ``sim = PartnerSimulator(client); sim.run_until(lambda s: s.stats.answered >= 4, 30)``.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from smartgate import keys, partner
from smartgate.schemas import Channel, Direction, utc_now
from smartgate.schemas.partner import (
    CapacityPublished,
    ConsignmentEvent,
    ConsignmentRefused,
    CrossBorderMessage,
    Inspection,
    PartnerEvent,
    ReasonCode,
    VehicleCleared,
    VehicleDeparted,
)
from smartgate_infra.client import StackClient
from smartgate_infra.stack import StackState

DEV_KEY_ID = "partner-dev-1"
DEV_SEED = "c21hcnRnYXRlLXBhcnRuZXItZGV2LWtleS1zaW0tMDE="
"""The simulator's development signing key (32-byte seed, base64); its public half is the template's
default PartnerPublicKeys. Public on purpose: no real gate ever trusts it."""

STAGE = "local"
HIDE_OTHERS_S = 5
"""How long a read message for another gate stays hidden in the outbound queue (which every partner gate's
messages share locally)."""
WINDOW = timedelta(minutes=15)


@dataclass
class SimStats:
    """What one simulator did since it was made."""

    consumed: int = 0
    """our messages read and opened (addressed to this gate, signature good)"""
    answered: int = 0
    """its consignment events sent in answer: VehicleCleared, ConsignmentRefused, VehicleDeparted"""
    refused: int = 0
    """of those, ConsignmentRefused"""
    cleared: int = 0
    departed: int = 0
    capacity: int = 0
    """CapacityPublished sent"""
    raw: int = 0
    """messages put by send_raw (faults)"""
    ignored: int = 0
    """our messages about consignments it was told not to answer (``references``)"""
    unreadable: int = 0
    """our messages that did not open (they would be in the partner's dead-letter queue)"""
    by_type: Counter[str] = field(default_factory=Counter)
    """consumed, by type"""

    def line(self) -> str:
        return (
            f"consumed={self.consumed} answered={self.answered} refused={self.refused} cleared={self.cleared} "
            f"departed={self.departed} capacity={self.capacity} raw={self.raw} ignored={self.ignored} "
            f"unreadable={self.unreadable}"
        )


@dataclass(frozen=True)
class _Due:
    at: float  # time.monotonic()
    make: Callable[[], PartnerEvent]


def our_public_keys(client: StackClient) -> dict[str, Ed25519PublicKey]:
    """Our side's published key, as the partner holds it. Locally it is derived from the template's
    PartnerKeyId / PartnerSigningKey (a public development seed); in a real deployment the partner gets
    only the public half, handed over with the agreement (docs/partner/README.md, "Keys")."""
    params = client.template.parameters
    seed = str(params["PartnerSigningKey"])
    return {str(params["PartnerKeyId"]): keys.private_key(seed, "our partner signing key").public_key()}


class PartnerSimulator:
    """The partner gate, speaking the contract: :meth:`step` reads our messages and sends the answers that
    are due; :meth:`run_until` steps until a predicate holds; :meth:`publish_capacity`; :meth:`send_raw`."""

    def __init__(
        self,
        client: StackClient | StackState,
        gate: str = "sandboxcn",
        *,
        delay_s: float = 1.0,
        refusal_rate: float = 0.0,
        documents_rate: float = 0.3,
        seed: int | None = 0,
        references: Collection[str] | None = None,
        refuse: Collection[str] | None = None,
        key_id: str = DEV_KEY_ID,
        signing_seed: str = DEV_SEED,
        stage: str = STAGE,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        """``references``: answer only these consignments (our booking ids; others are read and dropped),
        so that a run does not answer what another left in the queue. ``refuse``: these consignments are
        refused whatever ``refusal_rate`` draws (a run that decided already which). ``documents_rate``: how
        often its clearance says it checked the documents (else nothing)."""
        if not 0.0 <= refusal_rate <= 1.0 or not 0.0 <= documents_rate <= 1.0:
            raise ValueError("refusal_rate and documents_rate are between 0 and 1")
        self.client = client if isinstance(client, StackClient) else StackClient(client)
        self.gate = gate
        agreements = partner.default_agreements(stage)
        peer = agreements.partner_of(gate)
        if peer is None:
            raise ValueError(f"no partner agreement of gate {gate!r} in stage {stage!r} (smartgate/data/partner.yaml)")
        self.peer = peer
        self.agreement = agreements.between(gate, peer)
        self.delay_s = delay_s
        self.refusal_rate = refusal_rate
        self.documents_rate = documents_rate
        self.rng = random.Random(seed)
        self.references = set(references) if references is not None else None
        self.refuse = set(refuse or ())
        self.key_id = key_id
        self.key: Ed25519PrivateKey = keys.private_key(signing_seed, "partner simulator key")
        self.clock = clock
        self.our_keys = our_public_keys(self.client)
        self.stats = SimStats()
        self.received: list[PartnerEvent] = []
        """our events it read, in the order it read them"""
        self.sent: list[CrossBorderMessage] = []
        """its own messages as it sent them (answers and capacity; not send_raw)"""
        self.sent_events: list[PartnerEvent] = []
        """the events of :attr:`sent`, before minimising and signing"""
        self.problems: list[str] = []
        """why our messages did not open, or its puts failed"""
        self._due: list[_Due] = []
        self._answered: set[str] = set()  # our event ids already answered (a redelivery is not answered twice)
        self._sqs = self.client.client("sqs")
        self._events = self.client.client("events")
        self.queue_url = self._sqs.get_queue_url(QueueName=self.client.name("PartnerOutboundQueue"))["QueueUrl"]
        self.bus_name = self.client.name("PartnerInboundBus")
        self._check_trusted()

    def _check_trusted(self) -> None:
        """The stack must hold this simulator's key among the partner keys it checks (PartnerPublicKeys)."""
        published = keys.public_keys_by_gate(str(self.client.template.parameters.get("PartnerPublicKeys", "")))
        trusted = published.get(self.gate, {})
        ours = self.key.public_key().public_bytes_raw()
        if self.key_id not in trusted or trusted[self.key_id].public_bytes_raw() != ours:
            raise ValueError(
                f"the stack's PartnerPublicKeys does not publish key {self.key_id!r} of this simulator's signing key "
                f"for {self.gate}"
            )

    # ---- the loop

    @property
    def pending(self) -> int:
        """Answers scheduled, not yet sent."""
        return len(self._due)

    def step(self) -> int:
        """Read what waits in the outbound queue, schedule the answers, send those that are due; returns
        how many of our messages it read."""
        read = self._read()
        self._send_due()
        return read

    def run_until(self, predicate: Callable[[PartnerSimulator], bool], timeout: float, every: float = 0.2) -> bool:
        """Step until ``predicate(self)`` holds (True) or ``timeout`` seconds passed (False)."""
        deadline = time.monotonic() + timeout
        while True:
            self.step()
            if predicate(self):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(every)

    def drain(self, timeout: float) -> bool:
        """Step until every scheduled answer is sent."""
        return self.run_until(lambda sim: sim.pending == 0, timeout)

    def _read(self) -> int:
        """Everything waiting, batch after batch: its own messages are deleted once read; another gate's
        stay hidden for ``HIDE_OTHERS_S`` (so that the next batch gets further into the queue), then
        reappear for their own reader."""
        read = 0
        seen: set[str] = set()
        while True:
            reply = self._sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=HIDE_OTHERS_S
            )
            fresh = [m for m in reply.get("Messages", []) if m["MessageId"] not in seen]
            if not fresh:
                return read
            for message in fresh:
                seen.add(message["MessageId"])
                if self._take(message["Body"]):
                    read += 1
                    self._sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _take(self, body: str) -> bool:
        """One message of the queue: False if it is not for this gate (left alone)."""
        try:
            event = json.loads(body)
        except json.JSONDecodeError:
            event = None
        detail = event.get("detail") if isinstance(event, dict) else None
        if not isinstance(detail, dict) or detail.get("to_gate") != self.gate:
            return False
        try:
            opened = partner.open_event(event, self.our_keys, self.gate, self.peer)  # type: ignore[arg-type]
        except partner.PartnerMessageRefused as refused:
            self.stats.unreadable += 1
            self.problems.append(f"{detail.get('type')} {detail.get('message_id')}: {refused}")
            return True
        refs = self.references
        if isinstance(opened, ConsignmentEvent) and refs is not None and opened.reference not in refs:
            self.stats.ignored += 1
            return True
        self.stats.consumed += 1
        self.stats.by_type[partner.message_type(opened)] += 1
        self.received.append(opened)
        if (
            isinstance(opened, VehicleDeparted)
            and opened.direction == Direction.VN_TO_CN  # an import that left us went inland: nothing to answer
            and opened.event_id not in self._answered
        ):
            self._answered.add(opened.event_id)
            self._answer(opened)
        return True

    # ---- answers

    def _answer(self, ours: VehicleDeparted) -> None:
        """Our truck is on its way: after the delay this gate clears it (and it leaves) or refuses it."""
        now = time.monotonic()
        refused = self.rng.random() < self.refusal_rate or ours.reference in self.refuse
        checked = Inspection.DOCUMENTS if self.rng.random() < self.documents_rate else Inspection.NONE
        if refused:
            self._due.append(_Due(now + self.delay_s, lambda: self._refusal(ours)))
            return
        self._due.append(_Due(now + self.delay_s, lambda: self._clearance(ours, checked)))
        self._due.append(_Due(now + 2 * self.delay_s, lambda: self._departure(ours)))

    def _common(self, kind: str, ours: ConsignmentEvent) -> dict[str, Any]:
        return {
            "event_id": f"{self.gate}-{kind}-{ours.reference}",
            "from_gate": self.gate,
            "to_gate": self.peer,
            "occurred_at": self.clock(),
            "reference": ours.reference,
        }

    def _clearance(self, ours: VehicleDeparted, checked: Inspection) -> VehicleCleared:
        common = self._common("vc", ours)
        return VehicleCleared(
            **common,
            plate_text=ours.plate_text,
            country=ours.country,
            container_nos=list(ours.container_nos),
            direction=ours.direction,
            channel=Channel.YELLOW if checked == Inspection.DOCUMENTS else Channel.GREEN,
            inspection=checked,
            cleared_at=common["occurred_at"],
        )

    def _departure(self, ours: VehicleDeparted) -> VehicleDeparted:
        common = self._common("vd", ours)
        return VehicleDeparted(
            **common,
            plate_text=ours.plate_text,
            country=ours.country,
            container_nos=list(ours.container_nos),
            direction=ours.direction,
            seal_nos=list(ours.seal_nos) if ours.seal_nos else None,
            departed_at=common["occurred_at"],
        )

    def _refusal(self, ours: VehicleDeparted) -> ConsignmentRefused:
        return ConsignmentRefused(
            **self._common("cr", ours),
            direction=ours.direction,
            plate_text=ours.plate_text,
            reason_code=ReasonCode.DOCUMENTS,
            note="the documents do not match the goods (simulated partner)",
        )

    def _send_due(self) -> None:
        now = time.monotonic()
        due = [d for d in self._due if d.at <= now]
        if not due:
            return
        self._due = [d for d in self._due if d.at > now]
        self.send([d.make() for d in sorted(due, key=lambda d: d.at)])

    # ---- sending

    def sign(
        self, event: PartnerEvent, key: Ed25519PrivateKey | None = None, key_id: str | None = None
    ) -> CrossBorderMessage:
        """The event as this gate sends it: minimised to the agreement, signed (its key unless given)."""
        return partner.minimise_and_sign(event, self.agreement, key_id or self.key_id, key or self.key)

    def send(self, events: list[PartnerEvent]) -> list[CrossBorderMessage]:
        """Sign and put these events on our inbound bus (in this order); counted in :attr:`stats`."""
        messages = [self.sign(event) for event in events]
        self._put([partner.put_events_entry(m, self.bus_name) for m in messages])
        for event, message in zip(events, messages, strict=True):
            self.sent.append(message)
            self.sent_events.append(event)
            if isinstance(event, CapacityPublished):
                self.stats.capacity += 1
                continue
            self.stats.answered += 1
            self.stats.refused += isinstance(event, ConsignmentRefused)
            self.stats.cleared += isinstance(event, VehicleCleared)
            self.stats.departed += isinstance(event, VehicleDeparted)
        return messages

    def publish_capacity(self, direction: Direction | str, window_start: datetime, capacity: int) -> CrossBorderMessage:
        """This gate's acceptance capacity of one 15-minute window (UTC, on a quarter hour), at once."""
        event = CapacityPublished(
            event_id=f"{self.gate}-cap-{uuid.uuid4().hex[:16]}",
            from_gate=self.gate,
            to_gate=self.peer,
            occurred_at=self.clock(),
            direction=Direction(direction),
            window_start=window_start,
            window_end=window_start + WINDOW,
            capacity=capacity,
        )
        return self.send([event])[0]

    def send_raw(
        self,
        detail: Mapping[str, Any] | CrossBorderMessage | str,
        source: str | None = None,
        detail_type: str | None = None,
    ) -> dict[str, Any]:
        """Put anything on our inbound bus as this gate (faults): ``detail`` as given (an envelope, a dict,
        a string), ``source`` by default this gate's, ``detail_type`` by default the detail's ``type``."""
        if isinstance(detail, CrossBorderMessage):
            text = detail.model_dump_json(by_alias=True)
            kind = detail.type
        elif isinstance(detail, str):
            text, kind = detail, "unknown"
        else:
            text = json.dumps(dict(detail), default=str)
            kind = str(detail.get("type", "unknown"))
        entry = {
            "Source": source or partner.partner_source(self.gate),
            "DetailType": detail_type or kind,
            "Detail": text,
            "EventBusName": self.bus_name,
        }
        reply = self._put([entry])
        self.stats.raw += 1
        return reply[0] if reply else {}

    def _put(self, entries: list[dict[str, str]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for start in range(0, len(entries), 10):
            reply = self._events.put_events(Entries=entries[start : start + 10])
            if reply.get("FailedEntryCount"):
                failed = [e for e in reply["Entries"] if e.get("ErrorCode")]
                self.problems.append(f"put_events refused {failed}")
                raise RuntimeError(f"EventBridge refused {len(failed)} partner message(s): {failed}")
            out += reply["Entries"]
        return out
