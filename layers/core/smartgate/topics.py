"""MQTT topics and EventBridge names, built in one place (never inline)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

PREFIX = "smartgate"
# detections and health: lane -> cloud; commands: cloud -> lane; barrier: the lane's barrier controller
# reports what it did with each command, its state changes and manual overrides (lane -> cloud); faces: the
# booked driver's encrypted face reference for a lane's 1:1 check (cloud -> lane).
LaneChannel = Literal["detections", "commands", "health", "barrier", "faces"]
LANE_CHANNELS: tuple[LaneChannel, ...] = ("detections", "commands", "health", "barrier", "faces")


def lane_topic(gate_id: str, lane_id: str, channel: LaneChannel) -> str:
    for name, value in (("gate_id", gate_id), ("lane_id", lane_id)):
        if not value or any(ch in value for ch in "/+#"):
            raise ValueError(f"{name} {value!r} cannot be used in an MQTT topic")
    return f"{PREFIX}/{gate_id}/lanes/{lane_id}/{channel}"


def detections_topic(gate_id: str, lane_id: str) -> str:
    return lane_topic(gate_id, lane_id, "detections")


def commands_topic(gate_id: str, lane_id: str) -> str:
    return lane_topic(gate_id, lane_id, "commands")


def health_topic(gate_id: str, lane_id: str) -> str:
    return lane_topic(gate_id, lane_id, "health")


def barrier_topic(gate_id: str, lane_id: str) -> str:
    return lane_topic(gate_id, lane_id, "barrier")


def faces_topic(gate_id: str, lane_id: str) -> str:
    return lane_topic(gate_id, lane_id, "faces")


_THING_GATE = re.compile(r"[A-Za-z0-9_:]+")  # no '-': the first '-' ends the gate id
_THING_LANE = re.compile(r"[A-Za-z0-9_:-]+")


def lane_thing_name(gate_id: str, lane_id: str) -> str:
    """``{gate}-{lane}`` (``kimthanh2-in-1``): a lane's IoT thing name, its MQTT client id and its
    certificate's common name. One per lane across gates (in-1 exists at several gates), and a valid
    thing name (``[A-Za-z0-9:_-]``, no dots). The lane's topics come from the thing's ``gate`` and
    ``lane`` attributes, never by parsing this name."""
    if not _THING_GATE.fullmatch(gate_id or ""):
        raise ValueError(f"gate_id {gate_id!r} cannot be used in a thing name (letters, digits, _ and : only)")
    if not _THING_LANE.fullmatch(lane_id or ""):
        raise ValueError(f"lane_id {lane_id!r} cannot be used in a thing name (letters, digits, _, : and - only)")
    name = f"{gate_id}-{lane_id}"
    if len(name) > 128:
        raise ValueError(f"thing name {name!r} is longer than 128 characters")
    return name


def all_lanes_filter(channel: LaneChannel) -> str:
    """``smartgate/+/lanes/+/detections``: what an IoT rule selects FROM."""
    return f"{PREFIX}/+/lanes/+/{channel}"


@dataclass(frozen=True)
class LaneTopic:
    gate_id: str
    lane_id: str
    channel: LaneChannel


def parse_lane_topic(topic: str) -> LaneTopic:
    """Split ``smartgate/{gate}/lanes/{lane}/{channel}``; ValueError for anything else."""
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != PREFIX or parts[2] != "lanes" or parts[4] not in LANE_CHANNELS:
        raise ValueError(f"topic {topic!r} is not smartgate/{{gate}}/lanes/{{lane}}/{{channel}}")
    if not parts[1] or not parts[3]:
        raise ValueError(f"topic {topic!r} has an empty gate or lane")
    return LaneTopic(parts[1], parts[3], parts[4])  # type: ignore[arg-type]


# EventBridge: one custom bus, source smartgate.<area>, detail-type <Event>.v<N>
SOURCE_CLEARANCE = "smartgate.clearance"
SOURCE_LAB = "smartgate.lab"
SOURCE_LANES = "smartgate.lanes"


def source_for(event: object) -> str:
    """The bus ``source`` of an event: smartgate.lab for the lab's, smartgate.lanes for a lane's status,
    smartgate.clearance for the rest."""
    name = type(event).__name__
    if name.startswith("Lane"):
        return SOURCE_LANES
    return SOURCE_LAB if name.startswith("Lab") else SOURCE_CLEARANCE
