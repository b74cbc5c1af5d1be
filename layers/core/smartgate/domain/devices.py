"""An officer's devices: where their alerts go.

A push device (FCM, APNs) becomes an SNS platform endpoint of the stage's platform application; SMS and
e-mail are the fallbacks. Each device is subscribed to the alert topics of the officer's gates (both
severities) with a filter policy on the officer's roles and language, so SNS hands it exactly the alerts
of their role, rendered in their language. Registering the same address again changes nothing; the
subscriptions follow the roles, gates and language the officer had when registering (register again
after a change).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from smartgate.domain.officers import ALL_GATES, Officer
from smartgate.schemas import utc_now
from smartgate.schemas.officers import DeviceIn, DeviceKind, OfficerDevice, Severity

PHONE = re.compile(r"^\+[1-9][0-9]{6,14}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PROTOCOL = {
    DeviceKind.FCM: "application",
    DeviceKind.APNS: "application",
    DeviceKind.SMS: "sms",
    DeviceKind.EMAIL: "email",
}


class DeviceRefused(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class DeviceStore(Protocol):
    def put(self, device: OfficerDevice) -> None: ...
    def of(self, username: str) -> list[OfficerDevice]: ...
    def delete(self, username: str, device_id: str) -> None: ...


class Subscriptions(Protocol):
    def push_endpoint(self, application_arn: str, token: str, user_data: str) -> str: ...
    def subscribe(self, topic_arn: str, protocol: str, endpoint: str, filter_policy: dict[str, list[str]]) -> str: ...
    def unsubscribe(self, subscription_arn: str) -> None: ...
    def set_filter(self, subscription_arn: str, filter_policy: dict[str, list[str]]) -> None: ...
    def delete_endpoint(self, endpoint_arn: str) -> None: ...


@dataclass(frozen=True)
class DeviceSettings:
    sns: Subscriptions
    store: DeviceStore
    topic_for: Callable[[str, Severity], str]
    gate_ids: Sequence[str]
    applications: Mapping[str, str | None]  # fcm / apns -> platform application ARN (None: not on this stage)


def _address(body: DeviceIn) -> str:
    address = body.address.strip()
    if body.kind == DeviceKind.SMS:
        address = re.sub(r"[\s().-]", "", address)
        if not PHONE.match(address):
            raise DeviceRefused("body.address", "a phone number in international form, like +84912345678")
    elif body.kind == DeviceKind.EMAIL:
        if not EMAIL.match(address):
            raise DeviceRefused("body.address", "an e-mail address, like name@example.vn")
        address = address.lower()
    elif any(ch.isspace() for ch in address):
        raise DeviceRefused("body.address", "a push token has no spaces")
    return address


def register(officer: Officer, body: DeviceIn, cfg: DeviceSettings) -> tuple[OfficerDevice, bool]:
    """The device, subscribed; True when it is new (False: registered already, nothing changed)."""
    if not officer.roles:
        raise DeviceRefused("roles", "this account has no officer role, so no alerts are meant for it")
    address = _address(body)
    device_id = "dev-" + hashlib.sha256(f"{officer.username}|{body.kind.value}|{address}".encode()).hexdigest()[:16]
    known = next((d for d in cfg.store.of(officer.username) if d.device_id == device_id), None)
    if known is not None:
        return known, False
    endpoint = address
    endpoint_arn = None
    if PROTOCOL[body.kind] == "application":
        application = cfg.applications.get(body.kind.value)
        if not application:
            raise DeviceRefused(
                "body.kind", f"{body.kind.value} push is not set up on this stage; register sms or email instead"
            )
        endpoint_arn = endpoint = cfg.sns.push_endpoint(application, address, officer.username)
    gates = cfg.gate_ids if ALL_GATES in officer.gates else [g for g in cfg.gate_ids if g in officer.gates]
    policy = _policy(officer, officer.locale)
    subscriptions = [
        cfg.sns.subscribe(cfg.topic_for(gate, severity), PROTOCOL[body.kind], endpoint, policy)
        for gate in gates
        for severity in Severity
    ]
    device = OfficerDevice(
        device_id=device_id,
        username=officer.username,
        kind=body.kind,
        address=address,
        label=body.label,
        endpoint_arn=endpoint_arn,
        subscriptions=subscriptions,
        created_at=utc_now(),
    )
    cfg.store.put(device)
    return device, True


def remove(officer: Officer, device_id: str, cfg: DeviceSettings) -> bool:
    device = next((d for d in cfg.store.of(officer.username) if d.device_id == device_id), None)
    if device is None:
        return False
    for arn in device.subscriptions:
        cfg.sns.unsubscribe(arn)
    if device.endpoint_arn:
        cfg.sns.delete_endpoint(device.endpoint_arn)
    cfg.store.delete(officer.username, device_id)
    return True


def _policy(officer: Officer, locale: str) -> dict[str, list[str]]:
    return {"role": sorted(r.value for r in officer.roles), "locale": [locale]}


def relocate(officer: Officer, locale: str, cfg: DeviceSettings) -> int:
    """Every device of the officer gets alerts in ``locale`` from now on; returns the subscriptions changed."""
    changed = 0
    for device in cfg.store.of(officer.username):
        for arn in device.subscriptions:
            cfg.sns.set_filter(arn, _policy(officer, locale))
            changed += 1
    return changed
