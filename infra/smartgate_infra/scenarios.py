"""Clearance scenarios (``events/scenarios/*.yaml``), run end to end through the local stack.

Each scenario declares and books its truck at the sandbox gate (through the stack's tables, as the
trader API will), then a lane simulator publishes its detections over MQTT, the cloud decides, and the
runner checks what a user would see: the barrier command, the passage's channel, status, rules and
explanation. Lab steps go through the REST API, as a lab would.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field
from smartgate_edge.simulator import LaneSimulator, TruckDetection

from smartgate.domain.passes import decode_token, encode_token
from smartgate.schemas import Channel, Country, Passage, PassageStatus, utc_now
from smartgate_infra.client import StackClient
from smartgate_infra.declarations import Declared, declared
from smartgate_infra.stack import ROOT

SCENARIOS = ROOT / "events" / "scenarios"
GATE = "sandbox"
WAIT = 20.0
DEVICE_PACE_S = 0.25
"""Between a scenario's detections, in the order it lists them: the plate camera, the pass kiosk and the
scale are separate devices that report one after another. Sent in the same millisecond they are ingested
in parallel, in any order, and a scenario's expectation (a forged pass caught before the barrier opens)
would depend on which worker was quicker."""


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Expect(_Spec):
    channel: Channel | None = None
    barrier: Literal["open", "hold", "none"] | None = None
    status: PassageStatus | None = None
    rules: list[str] = Field(default_factory=list)
    explanation: list[str] = Field(default_factory=list)
    unchanged: bool = False


class Step(_Spec):
    detections: list[dict[str, Any]] | None = None
    lab_sample: dict[str, Any] | None = None
    lab_result: dict[str, Any] | None = None
    redeliver: Literal["all"] | None = None
    expect: Expect


class Scenario(_Spec):
    name: str = ""
    title: str
    story: str
    lane: str
    consignment: dict[str, Any] | None = None
    booking: dict[str, Any] | None = None
    detections: list[dict[str, Any]]
    expect: Expect
    then: list[Step] = Field(default_factory=list)


def load_scenarios(folder: Path = SCENARIOS) -> list[Scenario]:
    found = []
    for path in sorted(folder.glob("*.yaml")):
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        found.append(Scenario.model_validate({**raw, "name": path.stem}))
    return found


@dataclass
class Check:
    step: str
    expected: str
    got: str
    ok: bool


@dataclass
class Outcome:
    scenario: Scenario
    checks: list[Check] = field(default_factory=list)
    passage: Passage | None = None
    latency_ms: float | None = None

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def first(self) -> Check | None:
        return self.checks[0] if self.checks else None


def scenario_key(s: Scenario) -> str:
    """``WEIGHT-OFF`` for ``02-weight-off``: the ids of its consignment, booking and sample."""
    return s.name.split("-", 1)[-1].upper()


def declaration(s: Scenario) -> Declared | None:
    if s.consignment is None:
        return None
    key = scenario_key(s)
    raw = {
        "consignment_id": f"C-{key}",
        "trader_id": "TR-SCENARIOS",
        "company_name": "Scenario Trading Co.",
        "gate_id": GATE,
        "driver_ref": f"DRV-{key}"[:128],
        **s.consignment,
    }
    if s.booking is not None:
        raw["booking"] = {"booking_id": f"BK-{key}", "driver_name": "Scenario Driver", **s.booking}
    return declared(raw, utc_now())


class Runner:
    """Runs scenarios on a running local stack."""

    def __init__(self, client: StackClient, lanes: Any) -> None:
        self.client = client
        self.lanes = lanes  # smartgate_infra.demo.Lanes

    # ---- building what the lane sends

    def _detections(
        self, sim: LaneSimulator, specs: list[dict[str, Any]], entry: Declared | None, country: Country
    ) -> list[TruckDetection]:
        out: list[TruckDetection] = []
        for spec in specs:
            kw: dict[str, Any] = {"confidence": spec.get("confidence")}
            plate = spec.get("plate")
            if "rear" in spec:
                kw["rear_plate"] = spec["rear"]
            elif "trailer" in spec:
                kw["trailer_plate"] = spec["trailer"]
            elif "container" in spec:
                kw["containers"] = (spec["container"],)
            elif "weight_kg" in spec:
                kw["weight_kg"] = float(spec["weight_kg"])
            elif "pass" in spec:
                kw["pass_token"] = self._pass(spec["pass"], entry)
            elif plate is None:
                raise ValueError(f"unknown detection {spec}")
            out.extend(sim.truck(plate, country, **kw))
        return out

    def _pass(self, kind: str, entry: Declared | None) -> str:
        if entry is None or entry.booking is None:
            raise ValueError("a pass needs a booking")
        token = self.client.pass_token(entry)
        if kind == "valid":
            return token
        if kind == "forged":  # claims changed after signing: another booking id, the same signature
            key_id, claims, _, signature = decode_token(token)
            return encode_token(key_id, claims.model_copy(update={"booking_id": "BK-SOMEONE-ELSE"}), signature)
        raise ValueError(f"pass: {kind!r} is not valid or forged")

    # ---- the lab, through the API

    def _api(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        token = self.client.token_for("lab-scenarios", ["lab"])
        request = urllib.request.Request(
            f"{self.client.state.api_url}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Authorization": token},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local stack
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    # ---- checking

    def _wait_passage(self, passage_id: str, expect: Expect, since_version: int = 0) -> Passage | None:
        deadline = time.monotonic() + WAIT
        passage = None
        while time.monotonic() < deadline:
            passage = self.client.passages.get(passage_id)
            if (
                passage is not None
                and passage.version > since_version
                and (expect.status is None or passage.status == expect.status)
            ):
                return passage
            time.sleep(0.2)
        return passage

    @staticmethod
    def _check(
        step: str, expect: Expect, passage: Passage | None, action: str | None, before: Passage | None = None
    ) -> list[Check]:
        checks = []
        decision = passage.decision if passage else None
        if expect.channel:
            got = decision.channel.value if decision else "-"
            checks.append(Check(step, f"channel {expect.channel.value}", f"channel {got}", got == expect.channel.value))
        if expect.barrier:
            got = action or "none"
            checks.append(Check(step, f"barrier {expect.barrier}", f"barrier {got}", got == expect.barrier))
        if expect.status:
            got = passage.status.value if passage else "-"
            checks.append(Check(step, f"status {expect.status.value}", f"status {got}", got == expect.status.value))
        fired = [r.rule_id for r in decision.rules_fired] if decision else []
        for rule in expect.rules:
            checks.append(Check(step, f"rule {rule}", ", ".join(fired) or "no rule", rule in fired))
        text = " | ".join(r.explanation for r in decision.rules_fired) if decision else ""
        for words in expect.explanation:
            checks.append(Check(step, f"says {words!r}", text or "nothing", words in text))
        if expect.unchanged:
            same = before is not None and passage is not None and before == passage
            checks.append(Check(step, "passage unchanged", "unchanged" if same else "changed", same))
        return checks

    # ---- running

    def run(self, s: Scenario) -> Outcome:
        entry = declaration(s)
        sample_id = f"S-{scenario_key(s)}"
        if entry is not None:
            self.client.declare(entry)
        country = entry.consignment.country if entry else Country.VN
        if s.consignment is None:
            first = s.detections[0].get("plate", "")
            country = Country.CN if first and not first[0].isascii() else Country.VN
        sim = self.lanes.lane(GATE, s.lane)
        sent = self._detections(sim, s.detections, entry, country)
        result = sim.send(sent, timeout=WAIT, plate=s.detections[0].get("plate", ""), pace_s=DEVICE_PACE_S)
        outcome = Outcome(s, latency_ms=result.latency_ms if result.command else None)
        if result.command is None:
            outcome.checks.append(Check("arrival", "a barrier command", result.error or "none", False))
            return outcome
        passage = self._wait_passage(result.command.passage_id, s.expect)
        action = result.command.action.value
        if not result.signature_ok:
            action += " (bad signature)"
        outcome.checks.extend(self._check("arrival", s.expect, passage, action))
        for n, step in enumerate(s.then, start=1):
            label = f"then {n}"
            before = self.client.passages.get(result.command.passage_id)
            action = None
            if step.detections is not None:
                more = self._detections(sim, step.detections, entry, country)
                later = sim.send(
                    more, timeout=5 if step.expect.barrier in (None, "none") else WAIT, pace_s=DEVICE_PACE_S
                )
                action = later.command.action.value if later.command else None
            elif step.redeliver:
                for detection in sent:
                    sim.transport.publish(sim.detections_topic, detection)
                command = sim.next_command(3.0)
                action = command.action.value if command else None
            elif step.lab_sample is not None:
                status, body = self._api(
                    f"/passages/{result.command.passage_id}/lab-samples",
                    {"sample_id": sample_id, "taken_by": "lab-officer-1", **step.lab_sample},
                )
                if status != 200:
                    outcome.checks.append(Check(label, "lab sample registered", f"HTTP {status} {body}", False))
                    continue
            elif step.lab_result is not None:
                ok = step.lab_result.get("outcome") == "pass"
                params = [
                    {
                        "name": "fruit fly larvae (Bactrocera)",
                        "value": 0 if ok else 3,
                        "unit": "per kg",
                        "limit": "0",
                        "ok": ok,
                    }
                ]
                status, body = self._api(
                    f"/passages/{result.command.passage_id}/lab-samples/{sample_id}/result",
                    {"tested_by": "lab-analyst-2", "parameters": params, **step.lab_result},
                )
                if status != 200:
                    outcome.checks.append(Check(label, "lab result posted", f"HTTP {status} {body}", False))
                    continue
            if step.expect.unchanged:
                time.sleep(1.5)
                after = self.client.passages.get(result.command.passage_id)
            else:
                after = self._wait_passage(result.command.passage_id, step.expect, before.version if before else 0)
            outcome.checks.extend(self._check(label, step.expect, after, action, before))
        outcome.passage = self.client.passages.get(result.command.passage_id)
        return outcome


def run_all(client: StackClient, lanes: Any, say: Any = None) -> list[Outcome]:
    outcomes = []
    for scenario in load_scenarios():
        outcome = Runner(client, lanes).run(scenario)
        outcomes.append(outcome)
        if say:
            say(outcome)
    return outcomes
