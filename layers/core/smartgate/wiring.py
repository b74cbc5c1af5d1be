"""Adapters built once per process (Lambda container) from the settings, behind lru_cache factories."""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property, lru_cache
from typing import Any

import boto3
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from smartgate import keys
from smartgate.adapters.aws import (
    EventBridgePublisher,
    IotCommandPublisher,
    IotFacePublisher,
    SqsRejectedSink,
    SqsSettleScheduler,
)
from smartgate.adapters.biometrics import DynamoFaceStore
from smartgate.adapters.clock import SystemClock
from smartgate.adapters.cognito import CognitoUsers
from smartgate.adapters.dynamodb import (
    DynamoAudit,
    DynamoBookings,
    DynamoConsignments,
    DynamoPassageStore,
    DynamoRuleSetArchive,
)
from smartgate.adapters.officers import (
    DynamoAlerts,
    DynamoBarrierLog,
    DynamoDevices,
    DynamoLaneHealth,
    S3Evidence,
    SnsAlerts,
    SqsEscalations,
)
from smartgate.adapters.partner import DynamoExchange, PartnerBus, PartnerDeadLetters
from smartgate.adapters.passes import PassSigner, private_key
from smartgate.adapters.rulesets import DeployedRuleSets
from smartgate.adapters.trade import DynamoLimits, DynamoTrade, OutboxNotifier, TradeTables
from smartgate.config import settings
from smartgate.domain.biometrics import BiometricDeps, FaceChecks, FaceRecord, LaneFaces
from smartgate.domain.commands import CommandSigner
from smartgate.domain.crossing import CrossingDeps
from smartgate.domain.duty import ActionDeps, AlertDeps
from smartgate.domain.gates import GateRegistry, default_gates
from smartgate.domain.passes import Ed25519PassVerifier, public_keys_from
from smartgate.domain.trading import TradeDeps
from smartgate.facekey import KmsFaceCipher
from smartgate.observability import logger, metrics
from smartgate.schemas.officers import Severity


def _ttl() -> timedelta:
    return timedelta(days=settings().personal_data_ttl_days)


@lru_cache(maxsize=1)
def gates() -> GateRegistry:
    return default_gates(settings().stage)


@lru_cache(maxsize=1)
def bookings() -> DynamoBookings:
    s = settings()
    return DynamoBookings(s.require("bookings_table"), s.aws_region, _ttl())


@lru_cache(maxsize=1)
def consignments() -> DynamoConsignments:
    s = settings()
    return DynamoConsignments(s.require("consignments_table"), s.aws_region, _ttl())


@lru_cache(maxsize=1)
def passages() -> DynamoPassageStore:
    s = settings()
    return DynamoPassageStore(
        s.require("passages_table"), s.require("lanes_table"), s.require("detections_table"), s.aws_region, _ttl()
    )


@lru_cache(maxsize=1)
def audit() -> DynamoAudit:
    s = settings()
    return DynamoAudit(s.require("audit_table"), s.aws_region, timedelta(days=s.audit_retention_days))


@lru_cache(maxsize=1)
def rule_set_archive() -> DynamoRuleSetArchive:
    s = settings()
    return DynamoRuleSetArchive(s.require("rulesets_table"), s.aws_region)


def _rejected(name: str, error: str) -> None:
    metrics.add_metric(name="RuleSetRejected", unit="Count", value=1)
    logger.error("deployed rule set refused", rule_set=name, error=error)


@lru_cache(maxsize=1)
def rule_sets() -> DeployedRuleSets:
    s = settings()
    return DeployedRuleSets(
        s.require("rulesets_table"), rule_set_archive(), s.ruleset_cache_seconds, on_rejected=_rejected
    )


def _secret(name: str) -> str:
    """A secret's value from Secrets Manager (deployed, and locally the emulator's); the signers that use
    it are built once per container, so a rotated key is picked up by new containers."""
    from aws_lambda_powertools.utilities import parameters

    return str(parameters.get_secret(name, max_age=300)).strip()


@lru_cache(maxsize=1)
def pass_signer() -> PassSigner:
    """The key that signs passes: from Secrets Manager, or PASS_SIGNING_KEY where a function is given the
    key itself (tools, tests)."""
    s = settings()
    if s.pass_signing_secret:
        return PassSigner(s.pass_key_id, private_key(_secret(s.pass_signing_secret)))
    return PassSigner(s.pass_key_id, private_key(s.require("pass_signing_key")))


def can_sign_passes() -> bool:
    s = settings()
    return bool(s.pass_signing_secret or s.pass_signing_key)


def pass_verifier() -> Ed25519PassVerifier:
    """What checks a pass shown at a lane: the public keys only (PASS_PUBLIC_KEYS), as a lane has them."""
    s = settings()
    keys = public_keys_from(s.pass_public_keys) if s.pass_public_keys else pass_signer().public_keys()
    return Ed25519PassVerifier(keys)


@lru_cache(maxsize=1)
def command_signer() -> CommandSigner:
    """The key that signs barrier commands: from Secrets Manager (COMMAND_SIGNING_SECRET), or
    COMMAND_SIGNING_KEY where a function is given the key itself (tools, tests)."""
    s = settings()
    if s.command_signing_secret:
        return CommandSigner.from_seed(s.command_key_id, _secret(s.command_signing_secret))
    return CommandSigner.from_seed(s.command_key_id, s.require("command_signing_key"))


@lru_cache(maxsize=1)
def crossing_deps() -> CrossingDeps:
    s = settings()
    return CrossingDeps(
        gates=gates(),
        rulesets=rule_sets(),
        bookings=bookings(),
        store=passages(),
        passes=pass_verifier(),
        commands=IotCommandPublisher(s.aws_region, s.iot_data_endpoint),
        settle=SqsSettleScheduler(s.require("settle_queue_url"), s.aws_region),
        clock=SystemClock(),
        signer=command_signer(),
        command_ttl=timedelta(seconds=s.command_ttl_seconds),
        faces=lane_faces(),
    )


class _LateLaneFaces:
    """LaneFaces built at its first use (the first pass at a cab lane), not when a function starts: its
    clients and tables cost a second of every cold start of the ingest and settle functions, most of which
    never see a face."""

    def __init__(self, key_id: str) -> None:
        self.key_id = key_id

    @cached_property
    def _faces(self) -> LaneFaces:
        return LaneFaces(biometric_deps(), face_publisher(), self.key_id)

    def enrolled(self, company_id: str, driver_id: str) -> FaceRecord | None:
        return self._faces.enrolled(company_id, driver_id)

    def send(self, record: FaceRecord, *, gate_id: str, lane_id: str, passage_id: str, booking_id: str) -> bool:
        return self._faces.send(record, gate_id=gate_id, lane_id=lane_id, passage_id=passage_id, booking_id=booking_id)


def lane_faces() -> FaceChecks | None:
    """The booked driver's face for lanes with a cab camera; None in a stack without face data."""
    s = settings()
    if not (s.faces_table and s.face_key_id):
        return None
    return _LateLaneFaces(s.face_key_id)


@lru_cache(maxsize=1)
def face_publisher() -> IotFacePublisher:
    """Face references and their revocations to the lanes' cab cameras."""
    s = settings()
    return IotFacePublisher(s.aws_region, s.iot_data_endpoint)


@lru_cache(maxsize=1)
def rejected_sink() -> SqsRejectedSink:
    s = settings()
    return SqsRejectedSink(s.require("rejected_queue_url"), s.aws_region)


@lru_cache(maxsize=1)
def event_publisher() -> EventBridgePublisher:
    s = settings()
    return EventBridgePublisher(s.require("event_bus_name"), s.aws_region)


@lru_cache(maxsize=1)
def alerts() -> DynamoAlerts:
    s = settings()
    return DynamoAlerts(s.require("alerts_table"), s.aws_region, timedelta(days=s.audit_retention_days))


@lru_cache(maxsize=1)
def devices() -> DynamoDevices:
    s = settings()
    return DynamoDevices(s.require("devices_table"), s.aws_region)


@lru_cache(maxsize=1)
def lane_health() -> DynamoLaneHealth:
    s = settings()
    return DynamoLaneHealth(s.require("lanes_table"), s.aws_region)


@lru_cache(maxsize=1)
def barrier_log() -> DynamoBarrierLog:
    """Lanes' barrier reports; kept as long as personal data (a manual override names the officer)."""
    s = settings()
    return DynamoBarrierLog(s.require("lanes_table"), s.aws_region, _ttl())


@lru_cache(maxsize=1)
def sns_alerts() -> SnsAlerts:
    return SnsAlerts(settings().aws_region)


@lru_cache(maxsize=1)
def evidence() -> S3Evidence:
    s = settings()
    return S3Evidence(s.require("evidence_bucket"), s.aws_region)


def alert_topic(gate_id: str, severity: Severity) -> str:
    """The topic of a gate's alerts of one severity (ALERT_TOPICS); ConfigError naming it when missing."""
    topics = settings().topic_map()
    if (gate_id, severity.value) not in topics:
        from smartgate.config import ConfigError

        raise ConfigError(f"ALERT_TOPICS has no topic for {gate_id}/{severity.value}")
    return topics[(gate_id, severity.value)]


@lru_cache(maxsize=1)
def alert_deps() -> AlertDeps:
    s = settings()
    return AlertDeps(
        alerts=alerts(),
        sender=sns_alerts(),
        topic_for=alert_topic,
        escalations=SqsEscalations(s.require("escalation_queue_url"), s.aws_region),
        limiter=DynamoLimits(s.require("limits_table"), s.aws_region),
        store=passages(),
        gates=gates(),
        clock=SystemClock(),
        ack_within=timedelta(seconds=s.alert_ack_seconds),
    )


@lru_cache(maxsize=1)
def action_deps() -> ActionDeps:
    s = settings()
    return ActionDeps(
        store=passages(),
        audit=audit(),
        commands=IotCommandPublisher(s.aws_region, s.iot_data_endpoint),
        alerts=alerts(),
        examples=evidence(),
        clock=SystemClock(),
        signer=command_signer(),
        command_ttl=timedelta(seconds=s.command_ttl_seconds),
    )


@lru_cache(maxsize=1)
def trade_store() -> DynamoTrade:
    s = settings()
    tables = TradeTables(
        companies=s.require("companies_table"),
        fleet=s.require("fleet_table"),
        slots=s.require("slots_table"),
        bookings=s.require("bookings_table"),
        consignments=s.require("consignments_table"),
        timeline=s.require("timeline_table"),
        outbox=s.require("outbox_table"),
        limits=s.require("limits_table"),
        access_log=s.require("access_log_table"),
    )
    return DynamoTrade(tables, s.aws_region, _ttl(), timedelta(days=s.audit_retention_days))


@lru_cache(maxsize=1)
def biometric_deps() -> BiometricDeps:
    """Drivers' faces: FacesTable, the stack's face key, and the personal-data access log."""
    s = settings()
    kms = boto3.client("kms", region_name=s.aws_region)
    return BiometricDeps(
        DynamoFaceStore(s.require("faces_table"), s.aws_region),
        KmsFaceCipher(kms, s.require("face_key_id")),
        trade_store(),
        SystemClock(),
    )


def trade_deps() -> TradeDeps:
    s = settings()
    store = trade_store()
    return TradeDeps(
        store=store,
        gates=gates(),
        passes=pass_signer() if can_sign_passes() else None,
        notifier=OutboxNotifier(store),
        clock=SystemClock(),
        bookings_per_minute=s.bookings_per_minute,
        no_show_grace=timedelta(minutes=s.no_show_grace_minutes),
    )


@lru_cache(maxsize=1)
def users() -> CognitoUsers:
    s = settings()
    return CognitoUsers(s.require("user_pool_id"), s.require("user_pool_client_id"), s.aws_region)


@lru_cache(maxsize=1)
def trader_topic() -> tuple[Any, str]:
    """(SNS client, topic ARN) the outbox stream sends trader notifications to."""
    s = settings()
    return boto3.client("sns", region_name=s.aws_region), s.require("trader_topic_arn")


# --------------------------------------------------------------------------- the partner gate exchange


@lru_cache(maxsize=1)
def partner_key() -> tuple[str, Ed25519PrivateKey]:
    """Our key for messages to the partner gate (Secrets Manager; PARTNER_SIGNING_KEY for tools, tests)."""
    s = settings()
    seed = _secret(s.partner_signing_secret) if s.partner_signing_secret else s.require("partner_signing_key")
    return s.partner_key_id, keys.private_key(seed, "partner signing key")


@lru_cache(maxsize=1)
def partner_keys(gate: str) -> dict[str, Ed25519PublicKey]:
    """One partner gate's public keys by id (as it publishes them; several while it rotates); none for a
    gate that published none."""
    return _partner_keys().get(gate, {})


@lru_cache(maxsize=1)
def _partner_keys() -> dict[str, dict[str, Ed25519PublicKey]]:
    return keys.public_keys_by_gate(settings().require("partner_public_keys"))


@lru_cache(maxsize=1)
def exchange() -> DynamoExchange:
    s = settings()
    return DynamoExchange(s.require("exchange_table"), s.aws_region, _ttl())


@lru_cache(maxsize=1)
def partner_bus() -> PartnerBus:
    s = settings()
    return PartnerBus(s.require("partner_outbound_bus"), s.aws_region)


@lru_cache(maxsize=1)
def partner_dead_letters() -> PartnerDeadLetters:
    s = settings()
    return PartnerDeadLetters(s.require("partner_dlq_url"), s.aws_region)


@lru_cache(maxsize=1)
def limits() -> DynamoLimits:
    s = settings()
    return DynamoLimits(s.require("limits_table"), s.aws_region)
