"""The rule sets in force: deployed overrides (read through powertools parameters, cached), else the
checked-in defaults; every rule set in force is archived by digest so that a decision can be replayed.

A deployed rule set that does not validate is refused (logged with the rule and the field, counted as
``RuleSetRejected``) and the one in force stays in force.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.parameters import DynamoDBProvider

from smartgate.adapters.dynamodb import ACTIVE, DynamoRuleSetArchive
from smartgate.domain.rules import RuleSet, RuleSetError, builtin_rule_sets, load_rule_set, select_rule_set

log = logging.getLogger("smartgate.rulesets")


class DeployedRuleSets:
    def __init__(
        self,
        table_name: str,
        archive: DynamoRuleSetArchive,
        max_age: int = 60,
        builtin: Callable[[], dict[str, RuleSet]] = builtin_rule_sets,
        on_rejected: Callable[[str, str], Any] | None = None,
    ) -> None:
        self.provider = DynamoDBProvider(table_name=table_name, key_attr="id", sort_attr="sk", value_attr="value")
        self.archive = archive
        self.max_age = max_age
        self.builtin = builtin()
        self.on_rejected = on_rejected
        self._raw: dict[str, str] | None = None
        self._in_force: dict[str, RuleSet] = dict(self.builtin)
        self._refused: dict[str, str] = {}
        self._archived: set[str] = set()
        self.errors: dict[str, str] = {}

    def current(self) -> dict[str, RuleSet]:
        raw = self.provider.get_multiple(ACTIVE, max_age=self.max_age)
        if raw is not self._raw:
            texts = {str(k): v if isinstance(v, str) else str(v) for k, v in raw.items()}
            self._raw = raw  # type: ignore[assignment]  # the provider hands back the same dict until it expires
            self._refresh(texts)
        return self._in_force

    def _refresh(self, raw: dict[str, str]) -> None:
        in_force = dict(self.builtin)
        for name, text in sorted(raw.items()):
            try:
                rule_set = load_rule_set(text, f"deployed rule set {name!r}")
            except RuleSetError as err:
                self.errors[name] = str(err)
                if self._refused.get(name) != text:
                    self._refused[name] = text
                    log.error("rule set refused, the one in force stays: %s", err)
                    if self.on_rejected:
                        self.on_rejected(name, str(err))
                previous = self._in_force.get(name)
                if previous is not None:
                    in_force[name] = previous
                continue
            self.errors.pop(name, None)
            in_force[rule_set.id] = rule_set
        for rule_set in in_force.values():
            if rule_set.digest not in self._archived:
                self.archive.archive(rule_set.digest, rule_set.text, rule_set.version)
                self._archived.add(rule_set.digest)
        self._in_force = in_force

    def for_lane(self, gate_id: str, direction: str) -> RuleSet:
        return select_rule_set(list(self.current().values()), gate_id, direction)

    def by_digest(self, digest: str) -> RuleSet | None:
        for rule_set in self._in_force.values():
            if rule_set.digest == digest:
                return rule_set
        text = self.archive.archived(digest)
        return load_rule_set(text, f"archived rule set {digest[:12]}") if text else None
