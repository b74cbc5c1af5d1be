"""The gates and their lanes: which lanes exist, which way each faces, which ones weigh.

A detection from a lane this registry does not know is refused with the reason (never decided, never
GREEN by default). The registry is data (``smartgate/data/gates.yaml``), validated with pydantic; a
gate may be limited to some stages (the ``sandbox`` gate, with many lanes for tests and demos, exists
only in the local and dev stages).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from importlib import resources
from typing import Annotated
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from smartgate.schemas import Country, Direction, Identifier


class UnknownLane(ValueError):
    """A gate or lane that is not in the registry; the message says which exist."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LaneSpec(_Spec):
    direction: Direction
    scale: bool = Field(False, description="a weighbridge: vehicles are weighed on this lane")
    cab_camera: bool = Field(False, description="a camera on the driver: the booked driver's face is checked 1:1")


class LaneSeries(_Spec):
    """``prefix`` + 01..``count``: many alike lanes (test gates) without listing each."""

    prefix: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")]
    count: Annotated[int, Field(ge=1, le=200)]
    direction: Direction
    scale: bool = False
    cab_camera: bool = False


class GateSpec(_Spec):
    name: str
    country: Country
    timezone: str
    partner: str | None = None
    stages: list[str] | None = Field(None, description="only in these stages (None: every stage)")
    lanes: dict[Identifier, LaneSpec] = Field(default_factory=dict)
    lane_series: list[LaneSeries] = Field(default_factory=list)
    slot_capacity: Annotated[
        int,
        Field(ge=0, le=200, description="vehicles per 15-minute window and direction until the operator sets a window"),
    ] = 6
    opening: Annotated[
        str,
        Field(
            pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$",
            description="local opening hours, HH:MM-HH:MM",
        ),
    ] = "00:00-24:00"

    @model_validator(mode="after")
    def _has_lanes(self) -> GateSpec:
        if not self.lanes and not self.lane_series:
            raise ValueError("a gate needs lanes")
        return self

    def directions(self) -> list[Direction]:
        """The directions this gate's lanes serve."""
        return sorted({lane.direction for lane in self.all_lanes().values()})

    def is_open(self, at: datetime) -> bool:
        """Whether the gate is open at ``at`` (its local opening hours)."""
        local = at.astimezone(ZoneInfo(self.timezone))
        start, end = self.opening.split("-")
        minute = local.hour * 60 + local.minute
        return _minutes(start) <= minute < _minutes(end)

    def all_lanes(self) -> dict[str, LaneSpec]:
        lanes = dict(self.lanes)
        for series in self.lane_series:
            for n in range(1, series.count + 1):
                lanes.setdefault(
                    f"{series.prefix}{n:02d}",
                    LaneSpec(direction=series.direction, scale=series.scale, cab_camera=series.cab_camera),
                )
        return lanes


def _minutes(hhmm: str) -> int:
    hh, mm = hhmm.split(":")
    return int(hh) * 60 + int(mm)


class GatesDocument(_Spec):
    gates: dict[Identifier, GateSpec]


class GateRegistry:
    def __init__(self, gates: dict[str, GateSpec]) -> None:
        self.gates = gates
        self._lanes = {gate_id: spec.all_lanes() for gate_id, spec in gates.items()}

    def lane(self, gate_id: str, lane_id: str) -> LaneSpec:
        lanes = self._lanes.get(gate_id)
        if lanes is None:
            raise UnknownLane(f"gate_id: unknown gate {gate_id!r} (gates: {', '.join(sorted(self._lanes))})")
        lane = lanes.get(lane_id)
        if lane is None:
            shown = sorted(lanes)
            listed = ", ".join(shown[:12]) + (f" and {len(shown) - 12} more" if len(shown) > 12 else "")
            raise UnknownLane(f"lane_id: unknown lane {lane_id!r} at gate {gate_id} (lanes: {listed})")
        return lane

    def gate_ids(self) -> list[str]:
        return sorted(self.gates)


def load_gates(text: str, stage: str, source: str = "gates") -> GateRegistry:
    try:
        doc = GatesDocument.model_validate(yaml.safe_load(text))
    except (yaml.YAMLError, ValidationError) as err:
        raise ValueError(f"{source}: {err}") from err
    return GateRegistry({g: spec for g, spec in doc.gates.items() if spec.stages is None or stage in spec.stages})


@lru_cache(maxsize=4)
def default_gates(stage: str) -> GateRegistry:
    """The checked-in registry (``smartgate/data/gates.yaml``) as it applies to this stage."""
    text = resources.files("smartgate.data").joinpath("gates.yaml").read_text(encoding="utf-8")
    return load_gates(text, stage, "smartgate/data/gates.yaml")
