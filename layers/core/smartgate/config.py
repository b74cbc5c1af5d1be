"""Settings, read once from environment variables (template.yaml for Lambda, the recipe on the edge)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class ConfigError(RuntimeError):
    """A setting the code needs is missing or wrong; the message names the environment variable."""


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    stage: str = Field("local", alias="STAGE")
    aws_region: str = Field("us-east-1", alias="AWS_REGION")
    bookings_table: str | None = Field(None, alias="BOOKINGS_TABLE")
    consignments_table: str | None = Field(None, alias="CONSIGNMENTS_TABLE")
    passages_table: str | None = Field(None, alias="PASSAGES_TABLE")
    lanes_table: str | None = Field(None, alias="LANES_TABLE")
    detections_table: str | None = Field(None, alias="DETECTIONS_TABLE")
    audit_table: str | None = Field(None, alias="AUDIT_TABLE")
    rulesets_table: str | None = Field(None, alias="RULESETS_TABLE")
    settle_queue_url: str | None = Field(None, alias="SETTLE_QUEUE_URL")
    event_bus_name: str | None = Field(None, alias="EVENT_BUS_NAME")
    rejected_queue_url: str | None = Field(None, alias="REJECTED_QUEUE_URL")
    evidence_bucket: str | None = Field(None, alias="EVIDENCE_BUCKET")
    iot_data_endpoint: str | None = Field(None, alias="IOT_DATA_ENDPOINT")
    command_signing_key: str | None = Field(
        None, alias="COMMAND_SIGNING_KEY", repr=False, description="Ed25519 seed (base64) that signs barrier commands"
    )
    command_signing_secret: str | None = Field(
        None, alias="COMMAND_SIGNING_SECRET", description="Secrets Manager name or ARN of the command signing key"
    )
    command_key_id: str = Field("local-1", alias="COMMAND_KEY_ID")
    command_ttl_seconds: int = Field(60, alias="COMMAND_TTL_SECONDS", gt=0, le=3600)
    personal_data_ttl_days: int = Field(90, alias="PERSONAL_DATA_TTL_DAYS", gt=0, le=3650)
    audit_retention_days: int = Field(1825, alias="AUDIT_RETENTION_DAYS", gt=0, le=3650)
    ruleset_cache_seconds: int = Field(60, alias="RULESET_CACHE_SECONDS", ge=0, le=3600)
    pass_signing_key: str | None = Field(None, alias="PASS_SIGNING_KEY", repr=False)
    pass_signing_secret: str | None = Field(
        None, alias="PASS_SIGNING_SECRET", description="Secrets Manager name or ARN of the pass signing key"
    )
    pass_public_keys: str | None = Field(
        None, alias="PASS_PUBLIC_KEYS", description="key_id=base64 public key, comma-separated (rotation)"
    )
    pass_key_id: str = Field("local-1", alias="PASS_KEY_ID")
    companies_table: str | None = Field(None, alias="COMPANIES_TABLE")
    fleet_table: str | None = Field(None, alias="FLEET_TABLE")
    slots_table: str | None = Field(None, alias="SLOTS_TABLE")
    timeline_table: str | None = Field(None, alias="TIMELINE_TABLE")
    outbox_table: str | None = Field(None, alias="OUTBOX_TABLE")
    limits_table: str | None = Field(None, alias="LIMITS_TABLE")
    access_log_table: str | None = Field(None, alias="ACCESS_LOG_TABLE")
    faces_table: str | None = Field(None, alias="FACES_TABLE")
    face_key_id: str | None = Field(None, alias="FACE_KEY_ID")
    idempotency_table: str | None = Field(None, alias="IDEMPOTENCY_TABLE")
    trader_topic_arn: str | None = Field(None, alias="TRADER_TOPIC_ARN")
    user_pool_id: str | None = Field(None, alias="USER_POOL_ID")
    user_pool_client_id: str | None = Field(None, alias="USER_POOL_CLIENT_ID")
    web_origin: str | None = Field(None, alias="WEB_ORIGIN")  # where the web apps are served (CORS)
    bookings_per_minute: int = Field(60, alias="BOOKINGS_PER_COMPANY_PER_MINUTE", gt=0, le=100_000)
    no_show_grace_minutes: int = Field(60, alias="NO_SHOW_GRACE_MINUTES", ge=0, le=24 * 60)
    shelf_life_alert_hours: float = Field(12, alias="SHELF_LIFE_ALERT_HOURS", gt=0, le=720)
    alerts_table: str | None = Field(None, alias="ALERTS_TABLE")
    devices_table: str | None = Field(None, alias="DEVICES_TABLE")
    escalation_queue_url: str | None = Field(None, alias="ESCALATION_QUEUE_URL")
    alert_topics: str | None = Field(
        None, alias="ALERT_TOPICS", description="gate/severity=topic ARN, comma-separated (one per gate and severity)"
    )
    alert_ack_seconds: int = Field(300, alias="ALERT_ACK_SECONDS", gt=0, le=86_400)
    lane_offline_seconds: int = Field(90, alias="LANE_OFFLINE_SECONDS", gt=0, le=86_400)
    fcm_application_arn: str | None = Field(None, alias="FCM_APPLICATION_ARN")
    partner_signing_secret: str | None = Field(
        None, alias="PARTNER_SIGNING_SECRET", description="Secrets Manager name or ARN of our partner-message key"
    )
    partner_signing_key: str | None = Field(None, alias="PARTNER_SIGNING_KEY", repr=False)
    partner_key_id: str = Field("local-1", alias="PARTNER_KEY_ID")
    partner_public_keys: str | None = Field(
        None,
        alias="PARTNER_PUBLIC_KEYS",
        description="each partner gate's public keys: gate:key_id=base64, comma-separated",
    )
    partner_outbound_bus: str | None = Field(None, alias="PARTNER_OUTBOUND_BUS")
    exchange_table: str | None = Field(None, alias="EXCHANGE_TABLE")
    partner_dlq_url: str | None = Field(None, alias="PARTNER_DLQ_URL")
    apns_application_arn: str | None = Field(None, alias="APNS_APPLICATION_ARN")

    def topic_map(self) -> dict[tuple[str, str], str]:
        """ALERT_TOPICS as {(gate, severity): ARN}."""
        found: dict[tuple[str, str], str] = {}
        for item in (self.alert_topics or "").split(","):
            if "=" in item and "/" in item.split("=", 1)[0]:
                name, arn = item.split("=", 1)
                gate, severity = name.strip().split("/", 1)
                found[(gate, severity)] = arn.strip()
        return found

    def require(self, name: str) -> str:
        """The value of a setting this code path cannot work without."""
        value = getattr(self, name)
        if value in (None, ""):
            alias = type(self).model_fields[name].alias
            raise ConfigError(f"environment variable {alias} is not set (needed for {name})")
        return str(value)


def load_settings(env: Mapping[str, str]) -> Settings:
    try:
        return Settings.model_validate({k: v for k, v in env.items() if v != ""})
    except ValidationError as err:
        fields = ", ".join(str(e["loc"][0]) for e in err.errors())
        raise ConfigError(f"invalid settings in environment: {fields}: {err}") from err


@lru_cache(maxsize=1)
def settings() -> Settings:
    """The process's settings, read once."""
    return load_settings(os.environ)
