"""The officer on duty: alerts raised, delivered, acknowledged and escalated; actions taken on passages.

Alerts: an event that needs an officer becomes one stored alert (its id is stable per cause), delivered to
its gate's topic for its severity once per language, the subscriptions filtering on role and language.
A passage that keeps producing alerts is rate-limited (the rest are kept, marked suppressed). Unless
acknowledged (or the passage acted on) in time, the alert escalates to the next role.

Actions: refused or accepted, every attempt is written to the gate's audit chain; an accepted one is a
conditional write on the version the officer saw (of two racing officers, one wins), answered by a
barrier command when the vehicle is at its lane's barrier, and it resolves the passage's open alerts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smartgate.domain import alerts as A
from smartgate.domain.audit import record
from smartgate.domain.commands import CommandSigner
from smartgate.domain.correlation import LaneTrack
from smartgate.domain.crossing import at_barrier, make_command
from smartgate.domain.gates import GateRegistry
from smartgate.domain.officers import ActionRefused, ActionRequest, Officer, apply_action, barrier_action
from smartgate.domain.passages import QUEUED, Change, depart
from smartgate.domain.stored import ATTEMPTS, change_stored
from smartgate.ports import (
    AlertSender,
    AlertStore,
    AuditLog,
    Clock,
    CommandPublisher,
    Conflict,
    EscalationTimer,
    LabelledExamples,
    PassageStore,
    RateLimiter,
)
from smartgate.schemas import LaneStatusChanged, Passage, PassageStatus
from smartgate.schemas.officers import (
    LOCALES,
    ActionAttempt,
    AlertStatus,
    Delivery,
    OfficerAction,
    OfficerAlert,
    PlateCorrection,
    Severity,
)


@dataclass(frozen=True)
class AlertDeps:
    alerts: AlertStore
    sender: AlertSender
    topic_for: Callable[[str, Severity], str]  # (gate, severity) -> topic ARN
    escalations: EscalationTimer
    limiter: RateLimiter
    store: PassageStore
    gates: GateRegistry
    clock: Clock
    ack_within: timedelta


def _gate_name(gates: GateRegistry, gate_id: str) -> str:
    gate = gates.gates.get(gate_id)
    return gate.name.split(",")[0].split(" (")[0] if gate else gate_id


def _deliver(alert: OfficerAlert, deps: AlertDeps) -> OfficerAlert:
    """Send the alert at its level in every language not sent yet (a retry sends only what is missing)."""
    sent = {(d.level, d.locale) for d in alert.deliveries}
    topic = deps.topic_for(alert.gate_id, alert.severity)
    minutes = max(1, round(deps.ack_within.total_seconds() / 60))
    deliveries = list(alert.deliveries)
    for locale in LOCALES:
        if (alert.level, locale) in sent:
            continue
        subject, text = A.render(alert, locale, _gate_name(deps.gates, alert.gate_id), minutes)
        attributes = {
            "role": alert.role.value,
            "locale": locale,
            "gate_id": alert.gate_id,
            "severity": alert.severity.value,
            "alert_id": alert.alert_id,
            "kind": alert.kind.value,
        }
        message_id = deps.sender.publish(topic, subject, text, attributes)
        deliveries.append(
            Delivery(
                level=alert.level,
                role=alert.role,
                locale=locale,
                topic=topic.rsplit(":", 1)[-1],
                subject=subject,
                text=text,
                message_id=message_id,
                at=deps.clock.now(),
            )
        )
    return alert.model_copy(update={"deliveries": deliveries, "version": alert.version + 1})


def _send_and_store(alert: OfficerAlert, deps: AlertDeps) -> OfficerAlert:
    delivered = _deliver(alert, deps)
    if delivered.deliveries == alert.deliveries:
        return alert
    deps.alerts.save(delivered, alert.version)
    if delivered.status == AlertStatus.OPEN and delivered.ack_due_at is not None:
        deps.escalations.schedule(delivered.alert_id, delivered.level, delivered.ack_due_at)
    return delivered


def raise_alert(event: Any, deps: AlertDeps) -> OfficerAlert | None:
    """The alert an event calls for, stored and sent once; None when it calls for none."""
    now = deps.clock.now()
    if isinstance(event, LaneStatusChanged) and event.online:  # back: its outage's alert needs nobody now
        return _change_alert(deps.alerts, A.lane_alert_id(event), lambda a: A.resolve(a, "lane back online", now))
    alert = A.alert_for(event, now, deps.ack_within)
    if alert is None:
        return None
    if not deps.alerts.create(alert):
        stored = deps.alerts.get(alert.alert_id)
        if stored is None or stored.status == AlertStatus.SUPPRESSED:
            return stored
        return _send_and_store(stored, deps)  # a retry after a failed send: what is missing goes out
    limit = A.catalogue().rate_limit
    window = limit.minutes * 60
    subject = alert.passage_id or f"{alert.gate_id}:{alert.lane_id}"  # a passage, or a lane
    key = f"alerts#{subject}#{int(now.timestamp() // window)}"  # TTL deletes late
    if not deps.limiter.take(key, limit.alerts, timedelta(seconds=2 * window)):
        suppressed = alert.model_copy(
            update={"status": AlertStatus.SUPPRESSED, "ack_due_at": None, "version": alert.version + 1}
        )
        deps.alerts.save(suppressed, alert.version)
        return suppressed
    return _send_and_store(alert, deps)


def escalate_due(alert_id: str, level: int, deps: AlertDeps) -> OfficerAlert | None:
    """The acknowledgement time of an alert ran out: hand it to the next role, unless nobody needs to be."""
    for _ in range(ATTEMPTS):
        alert = deps.alerts.get(alert_id)
        if alert is None or alert.level != level or alert.status != AlertStatus.OPEN:
            return alert  # gone, escalated already (a repeated timer), or dealt with
        now = deps.clock.now()
        if alert.ack_due_at and now + timedelta(seconds=1) < alert.ack_due_at:
            deps.escalations.schedule(alert_id, level, alert.ack_due_at)  # a wait longer than SQS delays
            return alert
        passage = deps.store.get(alert.passage_id) if alert.passage_id else None
        if passage is not None and passage.status not in (*QUEUED, PassageStatus.OPEN):
            closed = A.resolve(alert, f"passage {passage.status.value}", now)
            try:
                deps.alerts.save(closed, alert.version)
            except Conflict:
                continue
            return closed
        nxt = A.escalate(alert, now, deps.ack_within)
        if nxt is None:
            return alert
        try:
            deps.alerts.save(nxt, alert.version)
        except Conflict:
            continue  # acknowledged meanwhile: look again
        return _send_and_store(nxt, deps)
    raise Conflict(f"alert {alert_id}: {ATTEMPTS} concurrent changes in a row")


def _change_alert(
    alerts: AlertStore, alert_id: str, change: Callable[[OfficerAlert], OfficerAlert]
) -> OfficerAlert | None:
    def save(read: OfficerAlert, changed: OfficerAlert) -> OfficerAlert:
        alerts.save(changed, read.version)  # the alert's own changes raise its version
        return changed

    return change_stored(lambda: alerts.get(alert_id), change, save, f"alert {alert_id}")


def acknowledge(alerts: AlertStore, alert_id: str, officer: Officer, at: datetime) -> OfficerAlert | None:
    return _change_alert(alerts, alert_id, lambda a: A.acknowledge(a, officer.username, at))


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True)
class ActionDeps:
    store: PassageStore
    audit: AuditLog
    commands: CommandPublisher
    alerts: AlertStore
    examples: LabelledExamples
    clock: Clock
    signer: CommandSigner
    command_ttl: timedelta


@dataclass(frozen=True)
class ActionResult:
    passage: Passage
    attempt: ActionAttempt
    command_id: str | None = None


class PassageMissing(LookupError):
    pass


def _audit_attempt(deps: ActionDeps, passage: Passage, attempt: ActionAttempt, at: datetime) -> None:
    key = f"{passage.passage_id}:action:{uuid.uuid4().hex[:16]}"
    record(deps.audit, [Change("officer_action", key, passage, attempt.model_dump(mode="json"))], at)


def act(passage_id: str, request: ActionRequest, officer: Officer, deps: ActionDeps) -> ActionResult:
    """Do the officer's action, or raise ActionRefused; either way the attempt is on the gate's record."""
    passage = deps.store.get(passage_id)
    if passage is None:
        raise PassageMissing(f"passage {passage_id} not found")
    now = deps.clock.now()
    attempt = ActionAttempt(
        action=request.action,
        officer=officer.username,
        roles=sorted(r.value for r in officer.roles),
        reason=request.reason.strip()[:500],
        outcome="accepted",
        from_status=passage.status.value,
        version_seen=request.version,
        plate=request.plate,
        tests=list(request.tests),
    )
    try:
        changed = apply_action(passage, request, officer, now)
        try:
            deps.store.save(changed, passage.version)
        except Conflict as err:
            latest = deps.store.get(passage_id) or passage
            raise ActionRefused(
                "body.version",
                f"another change came first ({latest.status.value} by {latest.status_by}); look again and decide",
                409,
            ) from err
    except ActionRefused as refused:
        _audit_attempt(deps, passage, attempt.model_copy(update={"outcome": "refused", "refusal": str(refused)}), now)
        raise
    track = deps.store.lane(changed.gate_id, changed.lane_id)
    command_id = _answer_at_lane(changed, track, request, officer, deps, now)
    changed = _out_of_the_yard(changed, track, deps, now)
    if request.action == OfficerAction.CORRECT_PLATE:
        _keep_example(passage, changed, request, officer, deps, now)
    done = attempt.model_copy(update={"to_status": changed.status.value, "command_id": command_id})
    _audit_attempt(deps, changed, done, now)
    if request.action != OfficerAction.CORRECT_PLATE:
        for alert in deps.alerts.for_passage(passage_id):
            if alert.status == AlertStatus.OPEN:
                _change_alert(deps.alerts, alert.alert_id, lambda a: A.resolve(a, officer.username, now))
    return ActionResult(changed, done, command_id)


def _answer_at_lane(
    passage: Passage, track: LaneTrack, request: ActionRequest, officer: Officer, deps: ActionDeps, now: datetime
) -> str | None:
    action = barrier_action(request)
    if action is None or not at_barrier(passage, track):
        return None
    command = make_command(
        passage,
        action,
        passage.status_reason,
        now,
        f"officer:{officer.username}:{passage.version}",
        deps.signer,
        deps.command_ttl,
    )
    deps.commands.publish(command)
    return command.command_id


def _out_of_the_yard(passage: Passage, track: LaneTrack, deps: ActionDeps, now: datetime) -> Passage:
    """A vehicle released or refused after the next one came to its lane had been moved aside (the yard,
    the inspection bay): free to go, it drives out, and has departed (the yard's exit has no reader; at
    the lane, the next vehicle's arrival says so). Else it would wait RELEASED for ever, and the partner
    gate, its trader's timeline and the gate's counts would never hear that it left."""
    if passage.status not in (PassageStatus.RELEASED, PassageStatus.REFUSED):
        return passage
    if track.newest is None or at_barrier(passage, track):
        return passage  # still at the barrier: the next vehicle's arrival will say it left
    gone = depart(passage, now)
    if gone is None:
        return passage
    try:
        deps.store.save(gone, passage.version)
    except Conflict:
        return deps.store.get(passage.passage_id) or passage  # the lane's departure came first
    return gone


def _keep_example(
    before: Passage, after: Passage, request: ActionRequest, officer: Officer, deps: ActionDeps, now: datetime
) -> None:
    front = next((p for p in before.detections.plates if p.crop_key), None)
    correction = PlateCorrection(
        passage_id=after.passage_id,
        gate_id=after.gate_id,
        lane_id=after.lane_id,
        read_text=before.plate_text,
        plate=after.plate_text or "",
        country=after.country.value if after.country else "VN",  # type: ignore[arg-type]
        officer=officer.username,
        reason=request.reason.strip()[:500],
        at=now,
    )
    deps.examples.keep(correction, front.crop_key if front else None)
