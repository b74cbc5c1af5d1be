"""Officer alerts: which bus event needs an officer, who first, what the message says in vi / zh / en, and
who is told next when nobody acknowledges. Pure; the wording and routing are data (``data/alerts.yaml``).

An alert's id is stable per cause (the passage's decision number, the sample, the shelf-life deadline), so
a redelivered event finds its alert stored already and nobody is paged twice.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from smartgate.schemas import (
    Channel,
    ClearanceDecided,
    LabResultPosted,
    LaneDecisionReconciled,
    LaneStatusChanged,
    PartnerExchangeAlarm,
    ShelfLifeAlert,
)
from smartgate.schemas.officers import (
    LOCALES,
    AlertKind,
    AlertStatus,
    Locale,
    OfficerAlert,
    OfficerRole,
    Severity,
)


class _Text(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    subject: str
    text: str


class _Route(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rules: str
    role: OfficerRole


class _RateLimit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    alerts: int = Field(gt=0)
    minutes: int = Field(gt=0)


class AlertCatalogue(BaseModel):
    """``data/alerts.yaml``: every kind has a template in every language (checked when it is loaded)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    routes: list[_Route]
    escalation: list[OfficerRole]
    rate_limit: _RateLimit
    channels: dict[Locale, dict[Channel, str]]
    escalated: dict[Locale, str]
    templates: dict[AlertKind, dict[Locale, _Text]]
    outcomes: dict[Locale, dict[str, str]]
    statuses: dict[Locale, dict[str, str]]
    no_plate: dict[Locale, str]

    def model_post_init(self, _: Any) -> None:
        for kind in AlertKind:
            missing = [loc for loc in LOCALES if loc not in self.templates.get(kind, {})]
            if missing:
                raise ValueError(f"templates.{kind.value}: no text for {', '.join(missing)}")


@lru_cache(maxsize=1)
def catalogue() -> AlertCatalogue:
    text = resources.files("smartgate.data").joinpath("alerts.yaml").read_text(encoding="utf-8")
    return AlertCatalogue.model_validate(yaml.safe_load(text))


def _alert_id(*parts: str) -> str:
    return "alr-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def first_role(rule_ids: list[str], cat: AlertCatalogue) -> OfficerRole:
    for route in cat.routes:
        wanted = route.rules
        if any(r == wanted or (wanted.endswith("-") and r.startswith(wanted)) for r in rule_ids):
            return route.role
    return OfficerRole.CUSTOMS


def escalation_chain(first: OfficerRole, cat: AlertCatalogue) -> list[OfficerRole]:
    return [first, *[r for r in cat.escalation if r != first]]


def alert_for(event: Any, now: datetime, ack_within: timedelta) -> OfficerAlert | None:
    """The alert a bus event calls for, or None (a GREEN decision, the same channel again)."""
    cat = catalogue()
    if isinstance(event, ClearanceDecided):
        if event.channel == Channel.GREEN or event.previous_channel == event.channel:
            return None
        kind = AlertKind.TIGHTENED if event.previous_channel else AlertKind.CLEARANCE
        rules = [r for r in event.rules_fired if r.channel == event.channel] or event.rules_fired
        return OfficerAlert(
            alert_id=_alert_id(event.passage_id, "decision", str(event.decision_no)),
            kind=kind,
            severity=Severity.CRITICAL if event.channel == Channel.RED else Severity.WARNING,
            gate_id=event.gate_id,
            lane_id=event.lane_id,
            passage_id=event.passage_id,
            plate_text=event.plate_text,
            role=first_role([r.rule_id for r in event.rules_fired], cat),
            facts={"channel": event.channel.value, "rules": "; ".join(r.explanation for r in rules)[:600]},
            created_at=now,
            ack_due_at=now + ack_within,
        )
    if isinstance(event, ShelfLifeAlert):
        return OfficerAlert(
            alert_id=_alert_id(event.passage_id, "shelf-life", event.deadline.isoformat()),
            kind=AlertKind.SHELF_LIFE,
            severity=Severity.CRITICAL,
            gate_id=event.gate_id,
            lane_id=event.lane_id,
            passage_id=event.passage_id,
            role=OfficerRole.CUSTOMS,
            facts={"hours": f"{event.hours_left:.0f}", "status": event.status.value},
            created_at=now,
            ack_due_at=now + ack_within,
        )
    if isinstance(event, LabResultPosted):
        failed = event.result.outcome == "fail"
        return OfficerAlert(
            alert_id=_alert_id(event.passage_id, "lab", event.sample_id),
            kind=AlertKind.LAB_RESULT,
            severity=Severity.CRITICAL if failed else Severity.WARNING,
            gate_id=event.gate_id,
            lane_id=event.lane_id,
            passage_id=event.passage_id,
            role=OfficerRole.CUSTOMS if failed else OfficerRole.QUARANTINE,
            facts={"sample": event.sample_id, "outcome": event.result.outcome, "status": event.status.value},
            created_at=now,
            ack_due_at=now + ack_within if failed else None,  # a pass released the truck: nothing to chase
            status=AlertStatus.OPEN if failed else AlertStatus.RESOLVED,
        )
    if isinstance(event, LaneStatusChanged) and not event.online:
        return OfficerAlert(
            alert_id=lane_alert_id(event),
            kind=AlertKind.LANE_OFFLINE,
            severity=Severity.CRITICAL,  # trucks stop at a lane that cannot reach the cloud
            gate_id=event.gate_id,
            lane_id=event.lane_id,
            role=OfficerRole.CUSTOMS,
            facts={"silent": f"{event.silent_seconds / 60:.0f}", "since": event.last_heartbeat_at.isoformat()},
            created_at=now,
            ack_due_at=now + ack_within,
        )
    if isinstance(event, PartnerExchangeAlarm):
        return OfficerAlert(
            alert_id=_alert_id(event.gate_id, "partner-exchange", event.event_id),
            kind=AlertKind.PARTNER_EXCHANGE,
            severity=Severity.WARNING,
            gate_id=event.gate_id,
            role=OfficerRole.SUPERVISOR,
            facts={
                "partner": event.partner_gate,
                "refused": str(event.refused),
                "minutes": str(event.minutes),
                "rules": event.last_reason[:300],
            },
            created_at=now,
            ack_due_at=now + ack_within,
        )
    if isinstance(event, LaneDecisionReconciled) and event.conflict:
        return OfficerAlert(
            alert_id=_alert_id(event.passage_id, "offline-conflict"),
            kind=AlertKind.OFFLINE_CONFLICT,
            severity=Severity.CRITICAL,  # the truck crossed on a decision the cloud would not have made
            gate_id=event.gate_id,
            lane_id=event.lane_id,
            passage_id=event.passage_id,
            plate_text=event.plate_text,
            role=OfficerRole.CUSTOMS,
            facts={"channel": event.cloud_channel.value, "rules": event.cloud_reason[:600]},
            created_at=now,
            ack_due_at=now + ack_within,
        )
    return None


def lane_alert_id(event: LaneStatusChanged) -> str:
    """The same for an outage's offline and online events (both name its last heartbeat)."""
    return _alert_id(event.gate_id, event.lane_id, "offline", event.last_heartbeat_at.isoformat())


def render(alert: OfficerAlert, locale: Locale, gate_name: str, minutes: int | None = None) -> tuple[str, str]:
    """(subject, text) of the alert in one language; an escalation says so first."""
    cat = catalogue()
    facts = dict(alert.facts)
    values = {
        "plate": alert.plate_text or cat.no_plate[locale],
        "gate": gate_name,
        "lane": alert.lane_id or "-",
        "channel": cat.channels[locale].get(Channel(facts["channel"]), facts["channel"]) if "channel" in facts else "",
        "rules": facts.get("rules", ""),
        "hours": facts.get("hours", ""),
        "sample": facts.get("sample", ""),
        "outcome": cat.outcomes[locale].get(facts.get("outcome", ""), facts.get("outcome", "")),
        "status": cat.statuses[locale].get(facts.get("status", ""), facts.get("status", "")),
        "minutes": str(minutes or ""),
        "silent": facts.get("silent", ""),
        "partner": facts.get("partner", ""),
        "refused": facts.get("refused", ""),
    }
    template = cat.templates[alert.kind][locale]
    subject = template.subject.format_map(values)
    text = template.text.format_map(values)
    if alert.level > 0:
        prefix = cat.escalated[locale].format_map(values)
        subject, text = f"{prefix}: {subject}", f"{prefix}. {text}"
    return subject[:100], text[:2000]


def escalate(alert: OfficerAlert, now: datetime, ack_within: timedelta) -> OfficerAlert | None:
    """The alert handed to the next role, or None: acknowledged, resolved, or nobody left to tell."""
    if alert.status != AlertStatus.OPEN:
        return None
    chain = escalation_chain(_first_of(alert), catalogue())
    if alert.level + 1 >= len(chain):
        return None
    return alert.model_copy(
        update={
            "level": alert.level + 1,
            "role": chain[alert.level + 1],
            "ack_due_at": now + ack_within,
            "version": alert.version + 1,
        }
    )


def _first_of(alert: OfficerAlert) -> OfficerRole:
    """The role the alert went to first (its role at level 0, kept in the first delivery)."""
    first = next((d.role for d in alert.deliveries if d.level == 0), None)
    return first or alert.role


def _close(alert: OfficerAlert, status: AlertStatus, by: str, at: datetime) -> OfficerAlert:
    """Nobody needs chasing any more: escalation stops. An alert closed already changes nothing."""
    if alert.status in (AlertStatus.ACKNOWLEDGED, AlertStatus.RESOLVED):
        return alert
    return alert.model_copy(update={"status": status, "acked_by": by, "acked_at": at, "version": alert.version + 1})


def acknowledge(alert: OfficerAlert, by: str, at: datetime) -> OfficerAlert:
    """An officer acknowledged it."""
    return _close(alert, AlertStatus.ACKNOWLEDGED, by, at)


def resolve(alert: OfficerAlert, by: str, at: datetime) -> OfficerAlert:
    """The passage was acted on, or the lane is back: the alert needs nobody any more."""
    return _close(alert, AlertStatus.RESOLVED, by, at)
