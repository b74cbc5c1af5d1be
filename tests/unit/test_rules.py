"""The rules engine: the default rule set loads and reads well, bad rule sets are refused naming the rule
and the field, evaluation combines channels, scores, waiting rules and lab tests, and is pure."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from smartgate.domain.facts import FACTS, FactType
from smartgate.domain.rules import (
    OPERATORS,
    RuleSetError,
    builtin_rule_sets,
    compile_rule_set,
    evaluate,
    load_rule_set,
    select_rule_set,
)
from smartgate.schemas import Channel

ROOT = Path(__file__).resolve().parents[2]
DEFAULT = ROOT / "layers" / "core" / "smartgate" / "data" / "rulesets" / "vn-cn-road.yaml"


def doc(*rules: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"schema": "RuleSet.v1", "id": "t", "version": "1", "rules": list(rules), **top}


def rule(rid: str = "R-X", when: Any = None, **kw: Any) -> dict[str, Any]:
    return {
        "id": rid,
        "title": "x",
        "when": when or {"fact": "plate.read", "is": True},
        "channel": "YELLOW",
        "explain": "x",
        **kw,
    }


def facts(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {name: ([] if spec.type is FactType.TEXTS else None) for name, spec in FACTS.items()}
    base["direction"] = "VN_TO_CN"
    return {**base, **{k.replace("__", "."): v for k, v in values.items()}}


def test_the_default_rule_set_loads_and_every_rule_explains_itself() -> None:
    rs = load_rule_set(DEFAULT.read_text(), str(DEFAULT))
    assert rs.id == "vn-cn-road" and len(rs.rules) >= 25
    kinds = {r.spec.id for r in rs.rules}
    for needed in (
        "R-NO-BOOKING",
        "R-OUTSIDE-SLOT",
        "R-DECLARATION-INCOMPLETE",
        "R-CONTAINER-UNEXPECTED",
        "R-WEIGHT-OFF",
        "R-PROHIBITED-EXPORT",
        "R-RESTRICTED-IMPORT",
        "R-LAB-REQUIRED",
        "R-WATCH-PLATE",
        "R-WATCH-COMPANY",
        "R-RANDOM",
        "R-HIGH-VALUE",
        "R-FUZZY-UNCONFIRMED",
        "R-PASS-INVALID",
    ):
        assert needed in kinds
    assert builtin_rule_sets()["vn-cn-road"].digest == rs.digest


def test_the_digest_covers_the_content_not_the_comments() -> None:
    text = DEFAULT.read_text()
    assert load_rule_set("# another comment\n" + text).digest == load_rule_set(text).digest
    assert load_rule_set(text.replace("random_rate: 0.02", "random_rate: 0.05")).digest != load_rule_set(text).digest


BAD: list[tuple[dict[str, Any], str]] = [
    (
        doc(rule(when={"fact": "weight.deviaton_pct", "gt": 5})),
        r"rules\[0\] \(R-X\)\.when\.fact: unknown fact 'weight.deviaton_pct' \(did you mean 'weight.deviation_pct'\?\)",
    ),
    (doc(rule(when={"fact": "plate.read", "gt": 5})), r"when\.gt: operator 'gt' does not apply to bool fact"),
    (doc(rule(when={"fact": "weight.gross_kg", "gt": "$limit"})), r"when\.gt: unknown parameter '\$limit'"),
    (doc(rule(when={"fact": "plate.key", "in_list": "nope"})), r"when\.in_list: unknown list 'nope'"),
    (doc(rule(when={"all": []})), r"when\.all: needs a non-empty list"),
    (
        doc(rule(when={"all": [{"fact": "plate.read", "is": True}, {"fakt": "x"}]})),
        r"when\.all\[1\]: unknown condition keys \['fakt'\]",
    ),
    (doc(rule(when={"fact": "plate.read", "is": True, "eq": 1})), r"name exactly one operator"),
    (doc(rule(when={"fact": "weight.gross_kg", "gt": "heavy"})), r"when\.gt: expects a number"),
    (doc(rule(explain="{weight.gros_kg}")), r"rules\[0\] \(R-X\)\.explain: unknown field \{weight.gros_kg\}"),
    (doc(rule(explain="{plate.text:.0f}")), r"explain: cannot be formatted"),
    (doc(rule(), rule()), r"rule ids used twice: R-X"),
    (doc(rule(channel="BLUE")), r"rules\[0\] \(R-X\)\.channel: Input should be 'GREEN', 'YELLOW' or 'RED'"),
    (
        doc({"id": "R-Y", "title": "x", "when": {"fact": "plate.read", "is": True}, "explain": "x"}),
        r"rules\[0\] \(R-Y\): Value error, a rule needs a channel, a score or a lab test",
    ),
    (doc(rule(lab_from="plate.text")), r"lab_from: 'plate.text' is not a texts fact"),
    (doc(rule(), score_channels={"YELLOW": 50, "RED": 40}), r"RED must be above YELLOW"),
    ({**doc(rule()), "schema": "RuleSet.v9"}, r"schema: Input should be 'RuleSet.v1'"),
]


@pytest.mark.parametrize(("raw", "message"), BAD)
def test_a_bad_rule_set_is_refused_naming_the_rule_and_the_field(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleSetError, match=message):
        compile_rule_set(raw)


def test_a_broken_default_is_refused_naming_the_file_and_the_rule() -> None:
    raw = yaml.safe_load(DEFAULT.read_text())
    broken = copy.deepcopy(raw)
    index = next(i for i, r in enumerate(broken["rules"]) if r["id"] == "R-WEIGHT-OFF")
    broken["rules"][index]["when"]["all"][0]["fact"] = "weight.deviation"
    with pytest.raises(RuleSetError, match=rf"my.yaml: rules\[{index}\] \(R-WEIGHT-OFF\)\.when\.all\[0\]\.fact"):
        load_rule_set(yaml.safe_dump(broken), "my.yaml")
    with pytest.raises(RuleSetError, match="my.yaml: not valid YAML"):
        load_rule_set("rules: [", "my.yaml")


def test_every_operator_of_every_type_compiles() -> None:
    values = {
        "is": True,
        "eq": 1,
        "ne": 1,
        "gt": 1,
        "ge": 1,
        "lt": 1,
        "le": 1,
        "in": ["a"],
        "not_in": ["a"],
        "in_list": "l",
        "not_in_list": "l",
        "prefix_in_list": "l",
        "empty": True,
        "contains": "a",
        "any_in": ["a"],
        "any_in_list": "l",
        "any_prefix_in_list": "l",
        "none_in_list": "l",
        "any_not_in_list": "l",
    }
    sample = {
        FactType.BOOL: "plate.read",
        FactType.NUMBER: "weight.gross_kg",
        FactType.TEXT: "plate.key",
        FactType.TEXTS: "goods.hs_codes",
    }
    rules = []
    for kind, ops in OPERATORS.items():
        for op in ops:
            value = "a" if kind is FactType.TEXT and op in ("eq", "ne") else values[op]
            rules.append(rule(f"R-{kind.value}-{op}".replace("_", "-").upper(), {"fact": sample[kind], op: value}))
    assert len(compile_rule_set(doc(*rules, lists={"l": ["a"]})).rules) == len(rules)


def _rs(*rules: dict[str, Any], **top: Any):  # type: ignore[no-untyped-def]
    return compile_rule_set(doc(*rules, **top))


def test_the_strictest_channel_wins_and_every_fired_rule_is_explained() -> None:
    rs = _rs(
        rule("R-A", {"fact": "plate.read", "is": True}, channel="GREEN", explain="read {plate.text}"),
        rule("R-B", {"fact": "weight.deviation_pct", "gt": 5}, explain="{weight.deviation_pct:.1f} % off"),
        rule(
            "R-C",
            {"fact": "containers.unexpected", "empty": False},
            channel="RED",
            explain="unexpected {containers.unexpected}",
        ),
    )
    ev = evaluate(
        rs,
        facts(
            plate__read=True,
            plate__text="24C-123.45",
            weight__deviation_pct=7.25,
            containers__unexpected=["TGHU1234567"],
        ),
    )
    assert ev.channel == Channel.RED
    assert [(r.rule_id, r.explanation) for r in ev.fired] == [
        ("R-A", "read 24C-123.45"),
        ("R-B", "7.2 % off"),
        ("R-C", "unexpected TGHU1234567"),
    ]


def test_an_unknown_fact_value_never_fires_a_comparison_and_shows_as_a_dash() -> None:
    rs = _rs(
        rule("R-A", {"fact": "weight.deviation_pct", "gt": 5}),
        rule("R-B", {"fact": "weight.gross_kg", "known": False}, explain="weighed {weight.gross_kg:.0f} kg"),
        rule("R-C", {"fact": "booking.status", "ne": "BOOKED"}),
    )
    ev = evaluate(rs, facts())
    assert [(r.rule_id, r.explanation) for r in ev.fired] == [("R-B", "weighed — kg")]


def test_risk_points_add_up_to_a_channel() -> None:
    rs = _rs(
        rule("R-A", {"fact": "goods.value_usd", "gt": 100}, channel=None, score=20, explain="value"),
        rule("R-B", {"fact": "goods.lines", "gt": 2}, channel=None, score=15, explain="lines"),
        score_channels={"YELLOW": 30, "RED": 60},
    )
    low = evaluate(rs, facts(goods__value_usd=500.0))
    assert low.channel == Channel.GREEN and low.risk_score == 20
    high = evaluate(rs, facts(goods__value_usd=500.0, goods__lines=5))
    assert high.channel == Channel.YELLOW and high.risk_score == 35
    assert high.fired[-1].rule_id == "R-RISK-SCORE" and "R-A +20, R-B +15" in high.fired[-1].explanation


def test_waiting_rules_lab_tests_and_directions() -> None:
    rs = _rs(
        rule("R-W", {"fact": "containers.missing", "empty": False}, awaits_evidence=True),
        rule("R-L", {"fact": "goods.tests", "empty": False}, channel="RED", lab_from="goods.tests"),
        rule("R-P", {"fact": "goods.hs_codes", "any_prefix_in_list": "fruit"}, lab=["phytosanitary"]),
        rule("R-IN", {"fact": "plate.read", "is": True}, directions=["CN_TO_VN"]),
        lists={"fruit": ["0810"]},
    )
    ev = evaluate(
        rs,
        facts(
            containers__missing=["MSKU6011672"],
            goods__tests=["food_safety"],
            goods__hs_codes=["081060"],
            plate__read=True,
        ),
    )
    assert ev.awaiting == ("R-W",)
    assert [t.value for t in ev.lab_tests] == ["food_safety", "phytosanitary"]
    assert "R-IN" not in ev.rule_ids
    assert "R-IN" in evaluate(rs, {**facts(plate__read=True), "direction": "CN_TO_VN"}).rule_ids


def test_evaluation_is_a_pure_function_of_the_facts() -> None:
    rs = builtin_rule_sets()["vn-cn-road"]
    f = facts(
        plate__read=True,
        plate__text="29C-999.99",
        plate__uncertain=False,
        booking__found=False,
        **{"gate.id": "kimthanh2"},
    )
    assert evaluate(rs, f) == evaluate(rs, dict(f))
    assert evaluate(rs, f).channel == Channel.RED


def test_the_most_specific_rule_set_applies() -> None:
    base = _rs(rule(), id="base")
    gate = _rs(rule(), id="gate", applies_to={"gates": ["mongcai"]})
    both = _rs(rule(), id="both", applies_to={"gates": ["mongcai"], "directions": ["CN_TO_VN"]})
    sets = [base, gate, both]
    assert select_rule_set(sets, "kimthanh2", "CN_TO_VN").id == "base"
    assert select_rule_set(sets, "mongcai", "VN_TO_CN").id == "gate"
    assert select_rule_set(sets, "mongcai", "CN_TO_VN").id == "both"
    with pytest.raises(RuleSetError, match="no rule set applies to gate x"):
        select_rule_set([gate], "x", "VN_TO_CN")
