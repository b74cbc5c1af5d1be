"""A lane's own identity: an IoT thing, its X.509 certificate and the stack's lane policy
(`smartgate lane-identity GATE LANE`), and the local broker's equivalent of that policy.

What is AWS and what is local:

- The AWS IoT API (IoT Core deployed; the moto emulator locally, the same calls): the thing
  ``{gate}-{lane}`` (smartgate.topics.lane_thing_name) with attributes ``gate`` and ``lane``, a key
  pair and certificate (``create_keys_and_certificate``), the stack's ``LanePolicy`` attached to the
  certificate and the certificate attached to the thing. The policy (template.yaml) lets a connection
  use only the topics of its thing's ``gate`` and ``lane`` attributes.
- Locally the lane connects to Mosquitto, not to IoT Core, and Mosquitto cannot check the emulator's
  certificates: the lane's files come from the local stack's own CA (smartgate_infra.local_ca), with
  the thing name as common name. The emulator's certificate is registered (thing, policy) but its key
  is not written: no local server checks it. The broker's TLS listener gets an ACL made from the very
  policy of template.yaml, evaluated for every lane of the registry (``broker_acl``).

Running the command again for a lane keeps its one thing and rotates its certificate: a new key and
certificate are attached, and the ones attached before are detached and set INACTIVE (kept, not
deleted), so a lane has exactly one certificate that IoT Core accepts. Install the new files on the
lane when you run it. Locally, an older certificate from the local CA stays valid at the broker (no
revocation list there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from smartgate.domain.gates import GateRegistry, UnknownLane, default_gates
from smartgate.topics import lane_thing_name
from smartgate_infra.local_ca import LocalCa, write_private
from smartgate_infra.services import BrokerTls
from smartgate_infra.template import Template

POLICY_LOGICAL_ID = "LanePolicy"
GATE_ATTRIBUTE = "gate"
LANE_ATTRIBUTE = "lane"
AMAZON_ROOT_CA = Path("/etc/ssl/certs/Amazon_Root_CA_1.pem")
"""What IoT Core's ATS endpoint chains to, as Debian's ca-certificates has it."""
AMAZON_ROOT_CA_URL = "https://www.amazontrust.com/repository/AmazonRootCA1.pem"


class LaneIdentityError(ValueError):
    """A lane's identity could not be made; the message names the field or the resource."""


@dataclass(frozen=True)
class LaneThing:
    gate_id: str
    lane_id: str

    @property
    def name(self) -> str:
        return lane_thing_name(self.gate_id, self.lane_id)

    @property
    def attributes(self) -> dict[str, str]:
        return {GATE_ATTRIBUTE: self.gate_id, LANE_ATTRIBUTE: self.lane_id}


def registered_lane(registry: GateRegistry, gate_id: str, lane_id: str) -> LaneThing:
    """The lane's thing, if the gate registry has the lane; LaneIdentityError naming the field otherwise."""
    try:
        registry.lane(gate_id, lane_id)
    except UnknownLane as err:
        raise LaneIdentityError(str(err)) from err
    return LaneThing(gate_id, lane_id)


def registry_things(registry: GateRegistry) -> list[LaneThing]:
    """One thing per lane of every gate in the registry."""
    return [
        LaneThing(gate_id, lane_id)
        for gate_id in registry.gate_ids()
        for lane_id in sorted(registry.gates[gate_id].all_lanes())
    ]


# ------------------------------------------------------------------ the lane policy as the broker's ACL

_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _resolve(text: str, thing: LaneThing) -> str:
    """The thing policy variables of ``text`` replaced by this thing's values, as IoT Core does."""
    values = {
        "iot:Connection.Thing.ThingName": thing.name,
        **{f"iot:Connection.Thing.Attributes[{k}]": v for k, v in thing.attributes.items()},
    }

    def value(match: re.Match[str]) -> str:
        if match.group(1) not in values:
            raise LaneIdentityError(
                f"the lane policy uses ${{{match.group(1)}}}, which the local broker's ACL cannot express"
            )
        return values[match.group(1)]

    return _VARIABLE.sub(value, text)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


@dataclass
class PolicyGrants:
    """What the lane policy allows one thing, in MQTT terms."""

    publish: list[str] = field(default_factory=list)  # topics (iot:Publish)
    receive: list[str] = field(default_factory=list)  # topics (iot:Receive)
    subscribe: list[str] = field(default_factory=list)  # topic filters (iot:Subscribe)
    client_ids: list[str] = field(default_factory=list)  # iot:Connect


_RESOURCE = re.compile(r"arn:[^:]+:iot:[^:]*:[^:]*:(client|topic|topicfilter)/(.+)")
_KINDS = {"iot:Connect": "client", "iot:Publish": "topic", "iot:Receive": "topic", "iot:Subscribe": "topicfilter"}


def policy_grants(document: Mapping[str, Any], thing: LaneThing) -> PolicyGrants:
    """Evaluate the lane policy's Allow statements for one thing. Only what the local broker can
    express is accepted: exact resources (no ``*``; no ``+`` or ``#``, literal to IoT Core but
    wildcards to Mosquitto), no Deny, and no condition but IsAttached (a certificate of the local CA
    always belongs to its lane)."""
    grants = PolicyGrants()
    targets = {
        "iot:Connect": grants.client_ids,
        "iot:Publish": grants.publish,
        "iot:Receive": grants.receive,
        "iot:Subscribe": grants.subscribe,
    }
    for statement in _as_list(document.get("Statement", [])):
        if statement.get("Effect") != "Allow":
            raise LaneIdentityError(
                f"the lane policy has a {statement.get('Effect')} statement; the local ACL has none"
            )
        condition = statement.get("Condition")
        if condition not in (None, {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}):
            raise LaneIdentityError(f"the lane policy's condition {condition!r} has no local equivalent")
        for action in _as_list(statement["Action"]):
            if action not in targets:
                raise LaneIdentityError(f"the lane policy allows {action}, which the local broker does not know")
            for resource in _as_list(statement["Resource"]):
                match = _RESOURCE.fullmatch(_resolve(str(resource), thing))
                if match is None or match.group(1) != _KINDS[action] or any(c in match.group(2) for c in "*+#"):
                    raise LaneIdentityError(f"the lane policy's resource {resource!r} for {action} is not an exact one")
                targets[action].append(match.group(2))
    return grants


def broker_acl(document: Mapping[str, Any], things: Iterable[LaneThing]) -> str:
    """A Mosquitto ACL file equivalent to the lane policy: per thing (username = the certificate's
    common name = the thing name; the listener makes it the client id too, as iot:Connect does),
    ``topic write`` for what it may publish and ``topic read`` for what it may receive. Mosquitto
    lets any subscription through and delivers only what ``read`` allows, so a subscription beyond
    the policy's receives nothing."""
    lines = [
        "# Generated by smartgate up from template.yaml's LanePolicy (smartgate_infra.lane_identity);",
        "# one entry per lane of the gate registry. Anything not listed is denied.",
    ]
    for thing in things:
        grants = policy_grants(document, thing)
        if grants.client_ids != [thing.name]:
            raise LaneIdentityError(
                f"the lane policy lets {thing.name} connect as {grants.client_ids}, not as its thing name"
            )
        lines += ["", f"user {thing.name}"]
        lines += [f"topic write {topic}" for topic in grants.publish]
        lines += [f"topic read {topic}" for topic in grants.receive]
    return "\n".join(lines) + "\n"


def broker_tls(state_dir: Path, port: int, template: Template) -> BrokerTls:
    """The local broker's TLS listener: the stack's CA (made once in ``state_dir/tls``) and the ACL
    of template.yaml's lane policy for every lane of the stage's registry (written at each start)."""
    ca = LocalCa.ensure(Path(state_dir) / "tls")
    registry = default_gates(str(template.parameters["Stage"]))
    acl = ca.directory / "lanes.acl"
    acl.write_text(
        broker_acl(template.resources[POLICY_LOGICAL_ID].properties["PolicyDocument"], registry_things(registry))
    )
    return BrokerTls(port, ca.ca_file, ca.server_cert_file, ca.server_key_file, acl)


# ------------------------------------------------------------------ provisioning (the AWS IoT API)


@dataclass
class Target:
    """Where a lane identity is made and where the lane then connects."""

    iot: Any  # a boto3 IoT client
    policy_name: str
    registry: GateRegistry
    where: str  # for messages: "the local stack (AWS emulator at …)" / "stack X in region Y"
    mqtt_host: str
    mqtt_port: int
    local_ca: LocalCa | None = None  # the local stack's CA: the lane's files come from it
    root_ca: Path | None = None  # deployed: the CA file IoT Core's server certificate chains to


@dataclass
class LaneIdentity:
    thing: LaneThing
    thing_arn: str
    created_thing: bool
    certificate_id: str
    certificate_arn: str
    policy_name: str
    deactivated: list[str]  # certificate ids detached and set INACTIVE (a rotation)
    cert_file: Path
    key_file: Path
    ca_file: Path | None
    local: bool


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def provision(target: Target, gate_id: str, lane_id: str, out_dir: Path) -> LaneIdentity:
    """Make (or rotate) the lane's thing, certificate and policy attachment; write its files."""
    thing = registered_lane(target.registry, gate_id, lane_id)
    iot = target.iot
    try:
        iot.get_policy(policyName=target.policy_name)
    except ClientError as err:
        if _code(err) == "ResourceNotFoundException":
            raise LaneIdentityError(
                f"{target.where} has no IoT policy {target.policy_name} ({POLICY_LOGICAL_ID}); deploy the stack first"
            ) from err
        raise
    created = False
    try:
        found = iot.describe_thing(thingName=thing.name)
        if {k: found.get("attributes", {}).get(k) for k in thing.attributes} != thing.attributes:
            iot.update_thing(thingName=thing.name, attributePayload={"attributes": thing.attributes, "merge": True})
        thing_arn = str(found["thingArn"])
    except ClientError as err:
        if _code(err) != "ResourceNotFoundException":
            raise
        thing_arn = str(
            iot.create_thing(thingName=thing.name, attributePayload={"attributes": thing.attributes})["thingArn"]
        )
        created = True
    earlier = [p for p in iot.list_thing_principals(thingName=thing.name)["principals"] if ":cert/" in p]
    keys = iot.create_keys_and_certificate(setAsActive=True)
    certificate_arn = str(keys["certificateArn"])
    iot.attach_policy(policyName=target.policy_name, target=certificate_arn)
    iot.attach_thing_principal(thingName=thing.name, principal=certificate_arn)
    deactivated = []
    for principal in earlier:  # the new certificate is attached first: the thing is never without one
        iot.detach_thing_principal(thingName=thing.name, principal=principal)
        certificate_id = principal.rsplit("/", 1)[1]
        iot.update_certificate(certificateId=certificate_id, newStatus="INACTIVE")
        deactivated.append(certificate_id)

    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_file, key_file = out_dir / "cert.pem", out_dir / "key.pem"
    ca_file: Path | None = out_dir / "ca.pem"
    if target.local_ca is not None:
        issued = target.local_ca.issue(thing.name)
        cert_pem, key_pem = issued.cert_pem, issued.key_pem
        ca_pem: bytes | None = target.local_ca.ca_file.read_bytes()
    else:
        cert_pem, key_pem = keys["certificatePem"].encode(), keys["keyPair"]["PrivateKey"].encode()
        ca_pem = target.root_ca.read_bytes() if target.root_ca is not None and target.root_ca.exists() else None
    cert_file.write_bytes(cert_pem)
    write_private(key_file, key_pem)
    if ca_pem is not None and ca_file is not None:
        ca_file.write_bytes(ca_pem)
    else:
        ca_file = None
    return LaneIdentity(
        thing=thing,
        thing_arn=thing_arn,
        created_thing=created,
        certificate_id=str(keys["certificateId"]),
        certificate_arn=certificate_arn,
        policy_name=target.policy_name,
        deactivated=deactivated,
        cert_file=cert_file,
        key_file=key_file,
        ca_file=ca_file,
        local=target.local_ca is not None,
    )


def local_target(state: Any) -> Target:
    """The running local stack (a StackState): the emulator's IoT API and the stack's CA."""
    from smartgate_infra.client import StackClient

    client = StackClient(state)
    ca = LocalCa(Path(state.state_dir) / "tls")
    if not ca.ca_file.exists():
        raise LaneIdentityError(
            f"the local stack has no CA in {ca.directory}; restart it (`smartgate down`, `smartgate up`)"
        )
    return Target(
        iot=client.client("iot"),
        policy_name=client.name(POLICY_LOGICAL_ID),
        registry=default_gates(str(client.template.parameters["Stage"])),
        where=f"the local stack (AWS emulator at {state.endpoint_url})",
        mqtt_host=state.ports.host,
        mqtt_port=state.ports.mqtt_tls,
        local_ca=ca,
    )


def deployed_target(stack_name: str, region: str | None = None) -> Target:
    """A deployed stack, with the AWS credentials of the environment: its lane policy's physical
    name and its Stage from CloudFormation, IoT Core's ATS endpoint on port 8883."""
    import boto3

    session = boto3.session.Session(region_name=region)
    cfn = session.client("cloudformation")
    resource = cfn.describe_stack_resource(StackName=stack_name, LogicalResourceId=POLICY_LOGICAL_ID)
    [stack] = cfn.describe_stacks(StackName=stack_name)["Stacks"]
    stage = next((p["ParameterValue"] for p in stack.get("Parameters", []) if p["ParameterKey"] == "Stage"), None)
    if not stage:
        raise LaneIdentityError(f"stack {stack_name} has no Stage parameter")
    iot = session.client("iot")
    return Target(
        iot=iot,
        policy_name=str(resource["StackResourceDetail"]["PhysicalResourceId"]),
        registry=default_gates(stage),
        where=f"stack {stack_name} ({session.region_name})",
        mqtt_host=str(iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]),
        mqtt_port=8883,
        root_ca=AMAZON_ROOT_CA,
    )
