"""The audit trail and the deployed rule sets, as an auditor and an operator use them: `smartgate audit
verify` finds an altered entry, `smartgate audit replay` re-runs a decision, `smartgate rules push` puts a
rule set in force without a redeploy and refuses a broken one (the one in force stays)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from smartgate.domain.plates import plate_key
from smartgate_infra.declarations import declared
from smartgate_infra.demo import Lanes, command_keys
from smartgate_infra.stack import ROOT

pytestmark = pytest.mark.e2e
DEFAULT_RULES = ROOT / "layers" / "core" / "smartgate" / "data" / "rulesets" / "vn-cn-road.yaml"


def cli(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smartgate_infra.cli", "--state-dir", str(state_dir), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


@pytest.fixture(scope="module")
def lanes(stack, stack_client) -> Iterator[Lanes]:  # type: ignore[no-untyped-def]
    lanes = Lanes(stack, command_keys(stack_client))
    yield lanes
    lanes.close()


def _truck(stack_client, lanes, gate: str, lane: str, plate: str, direction: str = "CN_TO_VN"):  # type: ignore[no-untyped-def]
    from smartgate.schemas import utc_now

    tag = plate_key(plate)[2:]
    entry = declared(
        {
            "consignment_id": f"C-E2E-{tag}",
            "trader_id": "TR-E2E",
            "gate_id": gate,
            "direction": direction,
            "plate_text": plate,
            "country": "CN",
            "driver_ref": "DRV-E2E",
            "vehicle_tare_kg": 12_700,
            "goods": [
                {
                    "hs_code": "7213.91",
                    "description": "steel wire rod",
                    "quantity": 14,
                    "unit": "coil",
                    "net_kg": 29_400,
                    "gross_kg": 29_450,
                    "value": 17_600,
                    "currency": "USD",
                    "origin": "CN",
                }
            ],
            "booking": {"booking_id": f"BK-E2E-{tag}", "slot_minutes": [-30, 90]},
        },
        utc_now(),
    )
    stack_client.declare(entry)
    return lanes.lane(gate, lane).cross(
        plate, "CN", weight_kg=42_150, pass_token=stack_client.pass_token(entry), timeout=20
    )


def _audited(stack_client, passage_id: str, timeout: float = 15):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = [e for e in stack_client.audit.for_passage(passage_id) if e.kind == "decision"]
        if entries:
            return entries
        time.sleep(0.2)
    return []


def test_audit_verify_finds_a_deliberately_altered_entry(stack, stack_client, state_dir, lanes) -> None:  # type: ignore[no-untyped-def]
    # Given a decided crossing, in the audit trail of its gate
    result = _truck(stack_client, lanes, "sandbox", "in-30", "桂P·1A001")
    assert result.ok and result.command is not None
    [entry] = _audited(stack_client, result.command.passage_id)
    ok = cli(state_dir, "audit", "verify", "--gate", "sandbox")
    assert ok.returncode == 0 and "chain intact" in ok.stdout, ok.stdout + ok.stderr
    # When someone changes the decision's channel in the table itself
    table = stack_client.name("AuditTable")
    ddb = stack_client.client("dynamodb")
    key = {"gate_id": {"S": "sandbox"}, "seq": {"N": str(entry.seq)}}
    original = ddb.get_item(TableName=table, Key=key)["Item"]["body"]["S"]
    body = json.loads(original)
    body["detail"]["decision"]["channel"] = "RED"
    try:
        ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET body = :b",
            ExpressionAttributeValues={":b": {"S": json.dumps(body)}},
        )
        # Then verify names the first broken entry and fails
        broken = cli(state_dir, "audit", "verify", "--gate", "sandbox")
        assert broken.returncode == 1
        assert f"BROKEN at entry {entry.seq}" in broken.stdout and "altered" in broken.stdout
    finally:
        ddb.update_item(
            TableName=table,
            Key=key,
            UpdateExpression="SET body = :b",
            ExpressionAttributeValues={":b": {"S": original}},
        )
    assert cli(state_dir, "audit", "verify", "--gate", "sandbox").returncode == 0


def test_audit_replay_reruns_a_decision_under_its_rule_set(stack, stack_client, state_dir, lanes) -> None:  # type: ignore[no-untyped-def]
    result = _truck(stack_client, lanes, "sandbox", "in-29", "桂P·1A002")
    assert result.ok and result.command is not None
    assert _audited(stack_client, result.command.passage_id)
    replay = cli(state_dir, "audit", "replay", result.command.passage_id)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "same decision" in replay.stdout and "under vn-cn-road" in replay.stdout
    assert cli(state_dir, "audit", "replay", "psg-never").returncode == 2


def test_a_pushed_rule_set_is_in_force_without_a_redeploy_and_a_broken_one_is_refused(  # type: ignore[no-untyped-def]
    stack, stack_client, state_dir, lanes, tmp_path: Path
) -> None:
    # Given a trial rule set for Mong Cai imports that puts a steel HS heading under document check
    trial = yaml.safe_load(DEFAULT_RULES.read_text())
    trial.update(
        {
            "id": "mongcai-import-trial",
            "version": "trial-1",
            "applies_to": {"gates": ["mongcai"], "directions": ["CN_TO_VN"]},
        }
    )
    trial["lists"]["restricted_cn_to_vn"] = [*trial["lists"]["restricted_cn_to_vn"], "7213"]
    good = tmp_path / "trial.yaml"
    good.write_text(yaml.safe_dump(trial, allow_unicode=True))
    broken = tmp_path / "broken.yaml"
    trial["rules"][0]["when"] = {"fact": "plate.raed", "is": False}
    broken.write_text(yaml.safe_dump(trial, allow_unicode=True))
    try:
        # When it is checked and pushed
        assert cli(state_dir, "rules", "check", str(good)).returncode == 0
        pushed = cli(state_dir, "rules", "push", str(good))
        assert pushed.returncode == 0 and "mongcai-import-trial trial-1 is in force" in pushed.stdout
        # Then a truck with that heading is held for a document check, under the trial's version
        time.sleep(6)  # the local stage's cache (RuleSetCacheSeconds)
        held = _truck(stack_client, lanes, "mongcai", "in-2", "桂P·1A003")
        assert held.command is not None and held.command.action.value == "hold", held.error
        passage = stack_client.passages.get(held.command.passage_id)
        assert passage is not None and passage.decision is not None
        assert (passage.decision.ruleset_id, passage.decision.ruleset_version) == ("mongcai-import-trial", "trial-1")
        assert "R-RESTRICTED-IMPORT" in [r.rule_id for r in passage.decision.rules_fired]
        # And a broken rule set is refused naming the rule and the field, and nothing changes
        refused = cli(state_dir, "rules", "push", str(broken))
        assert refused.returncode == 1
        assert "rules[0] (R-NO-PLATE).when.fact: unknown fact 'plate.raed'" in refused.stderr
        listed = cli(state_dir, "rules", "list")
        assert "mongcai-import-trial trial-1" in listed.stdout and "in force" in listed.stdout
    finally:
        stack_client.rule_sets.deactivate("mongcai-import-trial")
    time.sleep(6)
    after = _truck(stack_client, lanes, "mongcai", "in-2", "桂P·1A004")
    assert after.command is not None and after.command.action.value == "open", after.command
