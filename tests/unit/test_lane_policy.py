"""The lane IoT policy of template.yaml: each lane only on its own gate's and lane's topics (from the
thing's attributes, never a wildcard gate), and the local broker's ACL made from that same policy."""

from __future__ import annotations

import re
from typing import Any

import pytest

from smartgate import topics
from smartgate.domain.gates import default_gates
from smartgate_infra.lane_identity import (
    LaneIdentityError,
    LaneThing,
    broker_acl,
    policy_grants,
    registry_things,
)
from smartgate_infra.stack import load_template

TEMPLATE = load_template()
GATE_VAR = "${iot:Connection.Thing.Attributes[gate]}"
LANE_VAR = "${iot:Connection.Thing.Attributes[lane]}"
ARN = f"arn:aws:iot:{TEMPLATE.region}:{TEMPLATE.account_id}"


def policy() -> dict[str, Any]:
    return TEMPLATE.resources["LanePolicy"].properties["PolicyDocument"]  # type: ignore[no-any-return]


def statements(action: str) -> list[dict[str, Any]]:
    return [s for s in policy()["Statement"] if s["Action"] == action]


def resources(action: str) -> list[str]:
    found = []
    for statement in statements(action):
        value = statement["Resource"]
        found += value if isinstance(value, list) else [value]
    return found


def test_a_lane_publishes_only_on_its_own_gate_and_lane_taken_from_the_thing_attributes() -> None:
    # Given the policy as deployed, when we read what it lets a lane publish
    lane = (GATE_VAR, LANE_VAR)
    # Then exactly its detections, health and barrier topics, gate and lane from the thing's attributes
    assert sorted(resources("iot:Publish")) == sorted(
        f"{ARN}:topic/{t}"
        for t in (topics.detections_topic(*lane), topics.health_topic(*lane), topics.barrier_topic(*lane))
    )
    # and it hears its commands and the face references for its cab camera, nothing else
    assert resources("iot:Subscribe") == [
        f"{ARN}:topicfilter/{topics.commands_topic(*lane)}",
        f"{ARN}:topicfilter/{topics.faces_topic(*lane)}",
    ]
    assert resources("iot:Receive") == [
        f"{ARN}:topic/{topics.commands_topic(*lane)}",
        f"{ARN}:topic/{topics.faces_topic(*lane)}",
    ]


def test_no_topic_resource_has_a_wildcard_or_the_thing_name_in_place_of_the_gate() -> None:
    for action in ("iot:Publish", "iot:Subscribe", "iot:Receive"):
        for resource in resources(action):
            assert "*" not in resource and "+" not in resource and "#" not in resource, resource
            assert re.search(
                r":topic(filter)?/smartgate/\$\{iot:Connection\.Thing\.Attributes\[gate\]\}/lanes/", resource
            )
            assert "ThingName" not in resource
    assert all(s["Effect"] == "Allow" for s in policy()["Statement"])


def test_a_lane_connects_only_as_its_thing_with_an_attached_certificate() -> None:
    [connect] = statements("iot:Connect")
    assert connect["Resource"] == f"{ARN}:client/${{iot:Connection.Thing.ThingName}}"
    assert connect["Condition"] == {"Bool": {"iot:Connection.Thing.IsAttached": "true"}}


def test_the_policy_evaluated_for_a_lane_names_its_topics_only() -> None:
    grants = policy_grants(policy(), LaneThing("kimthanh2", "in-1"))
    assert grants.client_ids == ["kimthanh2-in-1"]
    assert sorted(grants.publish) == sorted(
        [
            topics.detections_topic("kimthanh2", "in-1"),
            topics.health_topic("kimthanh2", "in-1"),
            topics.barrier_topic("kimthanh2", "in-1"),
        ]
    )
    assert (
        grants.receive
        == grants.subscribe
        == [
            topics.commands_topic("kimthanh2", "in-1"),
            topics.faces_topic("kimthanh2", "in-1"),
        ]
    )


def _acl_entries(acl: str) -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    user = None
    for line in acl.splitlines():
        if line.startswith("user "):
            user = line.split(" ", 1)[1]
            entries[user] = []
        elif line.startswith("topic "):
            assert user is not None, "no topic line may apply to every user"
            entries[user].append(line)
    return entries


def test_the_broker_acl_is_the_policy_for_every_lane_of_the_registry() -> None:
    registry = default_gates("local")
    entries = _acl_entries(broker_acl(policy(), registry_things(registry)))
    # one user per lane, named as its thing; in-1 of two gates are two users
    assert len(entries) == sum(len(g.all_lanes()) for g in registry.gates.values())
    assert entries["kimthanh2-in-1"] == [
        f"topic write {topics.detections_topic('kimthanh2', 'in-1')}",
        f"topic write {topics.health_topic('kimthanh2', 'in-1')}",
        f"topic write {topics.barrier_topic('kimthanh2', 'in-1')}",
        f"topic read {topics.commands_topic('kimthanh2', 'in-1')}",
        f"topic read {topics.faces_topic('kimthanh2', 'in-1')}",
    ]
    assert all("mongcai" not in line for line in entries["kimthanh2-in-1"])
    assert all("+" not in line and "#" not in line for lines in entries.values() for line in lines)


def test_a_policy_the_broker_cannot_express_is_refused() -> None:
    wildcard = {
        "Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": f"{ARN}:topic/smartgate/*/lanes/x"}]
    }
    with pytest.raises(LaneIdentityError, match="not an exact one"):
        policy_grants(wildcard, LaneThing("kimthanh2", "in-1"))
    other_variable = {
        "Statement": [{"Effect": "Allow", "Action": "iot:Publish", "Resource": f"{ARN}:topic/${{iot:ClientId}}/x"}]
    }
    with pytest.raises(LaneIdentityError, match=r"iot:ClientId"):
        policy_grants(other_variable, LaneThing("kimthanh2", "in-1"))


def test_thing_names_are_gate_qualified_unique_and_valid_for_iot() -> None:
    assert topics.lane_thing_name("kimthanh2", "in-1") == "kimthanh2-in-1"
    assert topics.lane_thing_name("mongcai", "in-1") != topics.lane_thing_name("kimthanh2", "in-1")
    names = [thing.name for thing in registry_things(default_gates("local"))]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-zA-Z0-9:_-]{1,128}", name) for name in names)  # CreateThing's pattern
    for gate, lane in (("kim-thanh", "in-1"), ("kimthanh2", "in.1"), ("", "in-1"), ("kimthanh2", "")):
        with pytest.raises(ValueError, match="thing name"):
            topics.lane_thing_name(gate, lane)
