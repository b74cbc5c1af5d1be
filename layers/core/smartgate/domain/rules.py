"""Declarative clearance rules: a YAML rule set, validated and compiled, evaluated as a pure function.

A rule set (``RuleSet.v1``) names the gates and directions it applies to, the passage settings
(settle time, correlation gap), named lists (prohibited HS codes, watchlists) and its rules. Each rule
names the facts it reads (:data:`smartgate.domain.facts.FACTS`) in a condition, the channel it sets
and/or the risk points it adds, and an explanation template:

.. code-block:: yaml

    - id: R-WEIGHT-OFF
      when:
        all:
          - {fact: weight.read, is: true}
          - {fact: weight.deviation_pct, gt: $tolerance_pct}
      params: {tolerance_pct: 5}
      channel: YELLOW
      explain: "weighed {weight.gross_kg:.0f} kg, expected {weight.expected_kg:.0f} kg"

Conditions: ``all: [...]``, ``any: [...]``, ``not: {...}``, or ``{fact: NAME, OP: VALUE}`` with the
operators of the fact's type (:data:`OPERATORS`). ``$name`` is a parameter of the rule (``params``) or
of the rule set (``parameters``); a list operator names one of the rule set's ``lists``. Every fact,
operator, parameter, list and template field is checked when the rule set is loaded, and an error
names the rule and the field. Evaluation is ``evaluate(rule_set, facts) -> Evaluation``: no clock,
no randomness (the selection draw is a fact), so a decision replays.

The channel is the strictest of the fired rules' channels and of the risk score's
(``score_channels``). A rule marked ``awaits_evidence`` fires on something missing that a later
detection may still bring (a container not yet read): while the settle time runs, such a rule keeps
the passage open instead of deciding.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from smartgate.domain.facts import FACTS, FactType
from smartgate.schemas import Channel, Direction, FactValue, Identifier, LabTest, RuleFired

SEVERITY = {Channel.GREEN: 0, Channel.YELLOW: 1, Channel.RED: 2}
BY_SEVERITY = {v: k for k, v in SEVERITY.items()}

OPERATORS: dict[FactType, tuple[str, ...]] = {
    FactType.BOOL: ("is",),
    FactType.NUMBER: ("eq", "ne", "gt", "ge", "lt", "le"),
    FactType.TEXT: ("eq", "ne", "in", "not_in", "in_list", "not_in_list", "prefix_in_list"),
    FactType.TEXTS: (
        "empty",
        "contains",
        "any_in",
        "any_in_list",
        "any_prefix_in_list",
        "none_in_list",
        "any_not_in_list",
    ),
}
"""Operators by fact type; ``known: true|false`` works on every fact."""


class RuleSetError(ValueError):
    """A rule set that cannot be used; the message names the rule and the field."""


# --------------------------------------------------------------------------- the document


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AppliesTo(_Doc):
    gates: list[str] = Field(default_factory=lambda: ["*"])
    directions: list[Direction | Literal["*"]] = Field(default_factory=lambda: ["*"])  # type: ignore[arg-type]


class PassageSettings(_Doc):
    settle_seconds: Annotated[float, Field(ge=0, le=60)] = 4.0
    """How long a passage waits for missing evidence before it is decided with what is there."""
    gap_seconds: Annotated[float, Field(gt=0, le=600)] = 20.0
    """Detections of one vehicle are at most this far apart (captured_at) on a lane."""
    min_read_confidence: Annotated[float, Field(ge=0, le=1)] = 0.6


class RuleSpec(_Doc):
    id: Identifier
    title: Annotated[str, Field(min_length=1, max_length=200)]
    when: dict[str, Any]
    channel: Channel | None = None
    score: Annotated[int, Field(ge=0, le=1000)] = 0
    awaits_evidence: bool = False
    lab: list[LabTest] = Field(default_factory=list)
    lab_from: str | None = Field(None, description="a texts fact naming lab tests (goods.tests)")
    directions: list[Direction] | None = None
    params: dict[str, float | int | str] = Field(default_factory=dict)
    explain: Annotated[str, Field(min_length=1, max_length=500)]
    enabled: bool = True

    @model_validator(mode="after")
    def _does_something(self) -> RuleSpec:
        if self.channel is None and self.score == 0 and not self.lab and not self.lab_from and not self.awaits_evidence:
            raise ValueError("a rule needs a channel, a score or a lab test (or awaits evidence)")
        return self


class RuleSetDocument(_Doc):
    schema_version: Literal["RuleSet.v1"] = Field(alias="schema")
    id: Identifier
    version: Annotated[str, Field(min_length=1, max_length=40)]
    description: str = ""
    applies_to: AppliesTo = Field(default_factory=AppliesTo)
    passage: PassageSettings = Field(default_factory=PassageSettings)
    selection_seed: Annotated[str, Field(min_length=1)] = "smartgate"
    score_channels: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=lambda: {"YELLOW": 30, "RED": 80})
    usd_rates: dict[str, Annotated[float, Field(gt=0)]] = Field(default_factory=lambda: {"USD": 1.0})
    parameters: dict[str, float | int | str] = Field(default_factory=dict)
    lists: dict[str, list[str]] = Field(default_factory=dict)
    rules: Annotated[list[RuleSpec], Field(min_length=1)]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> RuleSetDocument:
        unknown = sorted(set(self.score_channels) - {"YELLOW", "RED"})
        if unknown:
            raise ValueError(f"score_channels: only YELLOW and RED take a score, not {', '.join(unknown)}")
        ids = [r.id for r in self.rules]
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise ValueError(f"rule ids used twice: {', '.join(twice)}")
        if self.score_channels.get("RED", 10**9) <= self.score_channels.get("YELLOW", 0):
            raise ValueError("score_channels: RED must be above YELLOW")
        return self


# --------------------------------------------------------------------------- compiled form

Check = Callable[[Mapping[str, FactValue]], bool]


@dataclass(frozen=True)
class CompiledRule:
    spec: RuleSpec
    check: Check
    directions: frozenset[str] | None
    fact_fields: tuple[str, ...]  # facts its explanation shows
    param_values: dict[str, float | int | str]  # parameters its explanation shows


@dataclass(frozen=True)
class RuleSet:
    """A validated, compiled rule set; ``digest`` identifies its exact content (archive, replay)."""

    document: RuleSetDocument
    rules: tuple[CompiledRule, ...]
    digest: str
    text: str  # canonical JSON of the document: what the digest covers

    @property
    def id(self) -> str:
        return self.document.id

    @property
    def version(self) -> str:
        return self.document.version

    @property
    def settings(self) -> PassageSettings:
        return self.document.passage

    def applies(self, gate_id: str, direction: str) -> int | None:
        """How specifically this rule set applies (higher wins), or None when it does not."""
        a = self.document.applies_to
        gate = gate_id in a.gates
        if not gate and "*" not in a.gates:
            return None
        way = direction in a.directions
        if not way and "*" not in a.directions:
            return None
        return 2 * gate + way


@dataclass(frozen=True)
class Evaluation:
    channel: Channel
    risk_score: int
    fired: tuple[RuleFired, ...]
    lab_tests: tuple[LabTest, ...]
    awaiting: tuple[str, ...]  # fired rules that wait for more evidence

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.rule_id for r in self.fired)


class _Formatter(string.Formatter):
    """``{weight.gross_kg:.0f}`` reads the flat fact name; None shows as '—', lists joined, bools yes/no."""

    def get_field(self, field_name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> tuple[Any, str]:
        return kwargs[field_name], field_name

    def format_field(self, value: Any, format_spec: str) -> str:
        if value is None:
            return "—"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            return ", ".join(str(v) for v in value) or "none"
        return format(value, format_spec)


_FORMATTER = _Formatter()
_SAMPLES: dict[FactType, FactValue] = {
    FactType.BOOL: True,
    FactType.NUMBER: 1.5,
    FactType.TEXT: "x",
    FactType.TEXTS: ["x"],
}


def _suggest(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


class _Compiler:
    def __init__(self, doc: RuleSetDocument, rule: RuleSpec, where: str) -> None:
        self.doc, self.rule, self.where = doc, rule, where

    def fail(self, path: str, message: str) -> RuleSetError:
        return RuleSetError(f"{self.where}.{path}: {message}")

    def param(self, value: Any, path: str) -> Any:
        if isinstance(value, str) and value.startswith("$"):
            name = value[1:]
            if name in self.rule.params:
                return self.rule.params[name]
            if name in self.doc.parameters:
                return self.doc.parameters[name]
            known = [*self.rule.params, *self.doc.parameters]
            raise self.fail(path, f"unknown parameter {value!r}{_suggest(name, known)}")
        return value

    def list_named(self, value: Any, path: str) -> frozenset[str]:
        if not isinstance(value, str) or value not in self.doc.lists:
            raise self.fail(
                path,
                f"unknown list {value!r}{_suggest(str(value), list(self.doc.lists))}; "
                f"lists: {', '.join(self.doc.lists) or 'none'}",
            )
        return frozenset(self.doc.lists[value])

    def condition(self, cond: Any, path: str) -> Check:
        if not isinstance(cond, dict) or not cond:
            raise self.fail(path, "a condition is a mapping: all / any / not, or fact + operator")
        for combinator in ("all", "any"):
            if combinator in cond:
                if len(cond) != 1:
                    raise self.fail(path, f"'{combinator}' stands alone in its condition")
                parts = cond[combinator]
                if not isinstance(parts, list) or not parts:
                    raise self.fail(f"{path}.{combinator}", "needs a non-empty list of conditions")
                checks = tuple(self.condition(c, f"{path}.{combinator}[{i}]") for i, c in enumerate(parts))
                return _all(checks) if combinator == "all" else _any(checks)
        if "not" in cond:
            if len(cond) != 1:
                raise self.fail(path, "'not' stands alone in its condition")
            inner = self.condition(cond["not"], f"{path}.not")
            return lambda facts: not inner(facts)
        if "fact" not in cond:
            raise self.fail(path, f"unknown condition keys {sorted(cond)}: use all, any, not or fact")
        name = cond["fact"]
        spec = FACTS.get(name) if isinstance(name, str) else None
        if spec is None:
            raise self.fail(f"{path}.fact", f"unknown fact {name!r}{_suggest(str(name), list(FACTS))}")
        ops = [k for k in cond if k != "fact"]
        if len(ops) != 1:
            raise self.fail(path, f"name exactly one operator for fact {name!r} (got {ops or 'none'})")
        op = ops[0]
        return self.operator(name, spec.type, op, cond[op], f"{path}.{op}")

    def operator(self, name: str, kind: FactType, op: str, raw: Any, path: str) -> Check:
        if op == "known":
            want = self.param(raw, path)
            if not isinstance(want, bool):
                raise self.fail(path, "expects true or false")
            return lambda f: (f.get(name) is not None) is want
        if op not in OPERATORS[kind]:
            raise self.fail(
                path,
                f"operator {op!r} does not apply to {kind.value} fact {name!r}; "
                f"use one of {', '.join((*OPERATORS[kind], 'known'))}",
            )
        value = self.param(raw, path)
        if kind is FactType.BOOL:
            if not isinstance(value, bool):
                raise self.fail(path, "expects true or false")
            return lambda f: f.get(name) is value
        if kind is FactType.NUMBER:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise self.fail(path, f"expects a number, got {value!r}")
            return _number(name, op, float(value))
        if op.endswith("_list"):
            return _list_op(name, op, self.list_named(value, path))
        if op in ("in", "not_in", "any_in"):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise self.fail(path, "expects a list of texts")
            return _list_op(
                name, {"in": "in_list", "not_in": "not_in_list", "any_in": "any_in_list"}[op], frozenset(value)
            )
        if op == "empty":
            if not isinstance(value, bool):
                raise self.fail(path, "expects true or false")
            return lambda f: (not f.get(name)) is value
        if not isinstance(value, str):
            raise self.fail(path, f"expects a text, got {value!r}")
        if op == "contains":
            return lambda f: value in _texts(f, name)
        if op == "eq":
            return lambda f: f.get(name) == value
        return lambda f: (v := f.get(name)) is not None and v != value  # ne

    def template(self) -> tuple[str, ...]:
        fields = []
        try:
            parsed = list(_FORMATTER.parse(self.rule.explain))
        except ValueError as err:
            raise self.fail("explain", f"not a valid template: {err}") from err
        sample: dict[str, Any] = {}
        for _, name, _, _ in parsed:
            if name is None:
                continue
            if name in FACTS:
                sample[name] = _SAMPLES[FACTS[name].type]
            elif name in self.rule.params or name in self.doc.parameters:
                sample[name] = self.rule.params.get(name, self.doc.parameters.get(name))
            else:
                known = [*FACTS, *self.rule.params, *self.doc.parameters]
                raise self.fail("explain", f"unknown field {{{name}}}{_suggest(name, known)}")
            fields.append(name)
        try:
            _FORMATTER.format(self.rule.explain, **sample)
        except (ValueError, TypeError, KeyError, IndexError) as err:
            raise self.fail("explain", f"cannot be formatted: {err}") from err
        return tuple(dict.fromkeys(fields))


def _all(checks: tuple[Check, ...]) -> Check:
    def check(facts: Mapping[str, FactValue]) -> bool:
        for c in checks:  # noqa: SIM110 - a plain loop: this is the hot path, a generator costs more
            if not c(facts):
                return False
        return True

    return check


def _any(checks: tuple[Check, ...]) -> Check:
    def check(facts: Mapping[str, FactValue]) -> bool:
        for c in checks:  # noqa: SIM110 - as in _all
            if c(facts):
                return True
        return False

    return check


def _number(name: str, op: str, limit: float) -> Check:
    def check(facts: Mapping[str, FactValue]) -> bool:
        v = facts.get(name)
        if v is None or isinstance(v, bool) or not isinstance(v, int | float):
            return False
        if op == "gt":
            return v > limit
        if op == "ge":
            return v >= limit
        if op == "lt":
            return v < limit
        if op == "le":
            return v <= limit
        if op == "eq":
            return v == limit
        return v != limit

    return check


def _texts(facts: Mapping[str, FactValue], name: str) -> list[str]:
    value = facts.get(name)
    return value if isinstance(value, list) else []


def _list_op(name: str, op: str, members: frozenset[str]) -> Check:
    if op == "in_list":
        return lambda f: (v := f.get(name)) is not None and v in members
    if op == "not_in_list":
        return lambda f: (v := f.get(name)) is not None and v not in members
    if op == "prefix_in_list":
        return lambda f: isinstance(v := f.get(name), str) and any(v.startswith(m) for m in members)
    if op == "any_in_list":
        return lambda f: any(v in members for v in _texts(f, name))
    if op == "none_in_list":
        return lambda f: not any(v in members for v in _texts(f, name))
    if op == "any_not_in_list":
        return lambda f: any(v not in members for v in _texts(f, name))
    return lambda f: any(v.startswith(m) for v in _texts(f, name) for m in members)  # any_prefix_in_list


def _rule_label(index: int, raw: Any) -> str:
    rule_id = raw.get("id") if isinstance(raw, dict) else None
    return f"rules[{index}] ({rule_id})" if rule_id else f"rules[{index}]"


def _describe(err: ValidationError, raw: Mapping[str, Any]) -> str:
    parts = []
    for e in err.errors():
        loc = list(e["loc"])
        if len(loc) >= 2 and loc[0] == "rules" and isinstance(loc[1], int):
            rules = raw.get("rules") or []
            head = _rule_label(loc[1], rules[loc[1]] if loc[1] < len(rules) else None)
            loc = [head, *loc[2:]]
        parts.append(f"{'.'.join(str(p) for p in loc) or '(rule set)'}: {e['msg']}")
    return "; ".join(parts)


def compile_rule_set(raw: Mapping[str, Any]) -> RuleSet:
    """Validate and compile a rule set document (as parsed from YAML or JSON)."""
    if not isinstance(raw, Mapping):
        raise RuleSetError(f"a rule set is a mapping, got {type(raw).__name__}")
    try:
        doc = RuleSetDocument.model_validate(raw)
    except ValidationError as err:
        raise RuleSetError(_describe(err, raw)) from err
    compiled = []
    for index, rule in enumerate(doc.rules):
        where = f"rules[{index}] ({rule.id})"
        compiler = _Compiler(doc, rule, where)
        check = compiler.condition(rule.when, "when")
        if rule.lab_from is not None:
            spec = FACTS.get(rule.lab_from)
            if spec is None or spec.type is not FactType.TEXTS:
                raise compiler.fail("lab_from", f"{rule.lab_from!r} is not a texts fact (e.g. goods.tests)")
        fields = compiler.template()
        if rule.enabled:
            params = {**doc.parameters, **rule.params}
            compiled.append(
                CompiledRule(
                    rule,
                    check,
                    frozenset(rule.directions) if rule.directions else None,
                    tuple(f for f in fields if f in FACTS),
                    {f: params[f] for f in fields if f not in FACTS},
                )
            )
    text = json.dumps(
        doc.model_dump(mode="json", by_alias=True), sort_keys=True, ensure_ascii=False, separators=(",", ":")
    )
    return RuleSet(doc, tuple(compiled), hashlib.sha256(text.encode()).hexdigest(), text)


def load_rule_set(text: str, source: str = "rule set") -> RuleSet:
    """A rule set from YAML (or JSON) text; errors name the source, the rule and the field."""
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise RuleSetError(f"{source}: not valid YAML: {err}") from err
    try:
        return compile_rule_set(raw)
    except RuleSetError as err:
        raise RuleSetError(f"{source}: {err}") from err


# --------------------------------------------------------------------------- evaluation


def stricter(a: Channel, b: Channel) -> Channel:
    return a if SEVERITY[a] >= SEVERITY[b] else b


def evaluate(rule_set: RuleSet, facts: Mapping[str, FactValue]) -> Evaluation:
    """Every rule that fires on these facts, the risk score and the channel. Pure: same facts, same result."""
    direction = facts.get("direction")
    fired: list[RuleFired] = []
    awaiting: list[str] = []
    lab: dict[LabTest, None] = {}
    severity = 0
    score = 0
    for rule in rule_set.rules:
        if rule.directions is not None and direction not in rule.directions:
            continue
        if not rule.check(facts):
            continue
        spec = rule.spec
        values = {**rule.param_values, **{name: facts.get(name) for name in rule.fact_fields}}
        fired.append(
            RuleFired(
                rule_id=spec.id,
                channel=spec.channel,
                score=spec.score,
                explanation=_FORMATTER.format(spec.explain, **values)[:1000],
            )
        )
        if spec.channel is not None:
            severity = max(severity, SEVERITY[spec.channel])
        score += spec.score
        for test in spec.lab:
            lab[test] = None
        if spec.lab_from:
            for name in _texts(facts, spec.lab_from):
                lab[LabTest(name)] = None
        if spec.awaits_evidence:
            awaiting.append(spec.id)
    thresholds = rule_set.document.score_channels
    by_score = 2 if score >= thresholds.get("RED", 10**9) else 1 if score >= thresholds.get("YELLOW", 10**9) else 0
    if by_score > severity:
        scored = [f"{r.rule_id} +{r.score}" for r in fired if r.score]
        fired.append(
            RuleFired(
                rule_id="R-RISK-SCORE",
                channel=BY_SEVERITY[by_score],
                score=0,
                explanation=f"risk score {score} reaches {BY_SEVERITY[by_score].value} "
                f"(at {thresholds[BY_SEVERITY[by_score].value]}): {', '.join(scored)}",
            )
        )
        severity = by_score
    return Evaluation(BY_SEVERITY[severity], score, tuple(fired), tuple(lab), tuple(awaiting))


# --------------------------------------------------------------------------- the checked-in rule sets


def builtin_rule_sets() -> dict[str, RuleSet]:
    """The rule sets that ship in ``smartgate/data/rulesets/`` (the fallback when none is deployed)."""
    from importlib import resources

    folder = resources.files("smartgate.data").joinpath("rulesets")
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".yaml", ".yml")):
            rule_set = load_rule_set(entry.read_text(encoding="utf-8"), f"smartgate/data/rulesets/{entry.name}")
            found[rule_set.id] = rule_set
    return found


def select_rule_set(rule_sets: Sequence[RuleSet], gate_id: str, direction: str) -> RuleSet:
    """The most specific rule set for this gate and direction (gate beats direction beats '*')."""
    ranked = [(rank, rs.id, rs) for rs in rule_sets if (rank := rs.applies(gate_id, direction)) is not None]
    if not ranked:
        raise RuleSetError(f"no rule set applies to gate {gate_id} direction {direction}")
    return max(ranked, key=lambda t: (t[0], t[1]))[2]
