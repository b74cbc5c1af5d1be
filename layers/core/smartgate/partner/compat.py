"""The compatibility gate of the partner contract: a published schema version never changes its meaning.

Each event version's JSON Schema is frozen when first published (``docs/partner/schemas/<Type>.vN.json``,
written by ``python -m smartgate.partner.asyncapi`` only when absent). :func:`compare_schemas` sets the
current model's schema against the frozen one. Both sides send and receive, and receivers validate
strictly (unknown fields refused), so within a version only one change is allowed: **a new optional
property**. It stays home until the agreement lists it (``smartgate/data/partner.yaml``), which both
sides sign once the receiver reads it; the frozen file stays as published.

Anything else is breaking, and needs a new version (a new model ``<Type>.vN+1``, the old one kept until
the partner moved): a property removed, a new required property (or an optional one made required), a
required one made optional (a receiver on vN refuses the message without it), a type changed, an enum
value removed or added, a constraint changed (length, range, pattern, format ...) and
``additionalProperties`` tightened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

CONSTRAINTS = (
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
    "uniqueItems",
)
_MAX_DEPTH = 40


@dataclass
class Comparison:
    breaking: list[str] = field(default_factory=list)
    """What a receiver or sender on the frozen version would trip over."""
    additions: list[str] = field(default_factory=list)
    """New optional properties: allowed within the version (the frozen file stays)."""


def _pointer(root: dict[str, Any], ref: str) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs are compared, got {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    if not isinstance(node, dict):
        raise ValueError(f"$ref {ref!r} is not a schema")
    return node


def _resolve(node: Any, root: dict[str, Any]) -> dict[str, Any]:
    if isinstance(node, bool):  # true / false schemas
        return {} if node else {"not": {}}
    for _ in range(_MAX_DEPTH):
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return node
        node = {**_pointer(root, ref), **{k: v for k, v in node.items() if k != "$ref"}}
    raise ValueError("$ref chain too long")


def _branches(node: dict[str, Any], root: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a node (anyOf / oneOf flattened), each resolved."""
    members = node.get("anyOf") or node.get("oneOf")
    if not members:
        return [node]
    found: list[dict[str, Any]] = []
    for member in members:
        found.extend(_branches(_resolve(member, root), root))
    return found


def _own_types(node: dict[str, Any]) -> set[str]:
    if "const" in node:
        return {_json_type(node["const"])}
    if "enum" in node:
        return {_json_type(v) for v in node["enum"]}
    kind = node.get("type")
    if isinstance(kind, str):
        return {kind}
    if isinstance(kind, list):
        return set(kind)
    if "properties" in node:
        return {"object"}
    if "items" in node:
        return {"array"}
    return {"any"}


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _enum(node: dict[str, Any]) -> set[Any] | None:
    if "const" in node:
        return {node["const"]}
    if "enum" in node:
        return {v for v in node["enum"] if v is not None}
    return None


def _closed(node: dict[str, Any]) -> bool:
    return node.get("additionalProperties", True) is False


def _show(values: set[Any]) -> str:
    return ", ".join(repr(v) for v in sorted(values, key=repr))


class _Walk:
    def __init__(self, old_root: dict[str, Any], new_root: dict[str, Any]) -> None:
        self.old_root = old_root
        self.new_root = new_root
        self.result = Comparison()

    def compare(self, old: Any, new: Any, path: str, depth: int = 0) -> None:
        if depth > _MAX_DEPTH:
            return
        at = path or "(root)"
        old, new = _resolve(old, self.old_root), _resolve(new, self.new_root)
        old_alts, new_alts = _branches(old, self.old_root), _branches(new, self.new_root)
        old_types = set().union(*(_own_types(b) for b in old_alts))
        new_types = set().union(*(_own_types(b) for b in new_alts))
        if old_types != new_types:
            self.result.breaking.append(f"{at}: type changed from {_show(old_types)} to {_show(new_types)}")
            return
        old_alts = [b for b in old_alts if _own_types(b) != {"null"}]
        new_alts = [b for b in new_alts if _own_types(b) != {"null"}]
        if len(old_alts) != len(new_alts):
            self.result.breaking.append(f"{at}: alternatives changed ({len(old_alts)} -> {len(new_alts)})")
            return
        for old_alt, new_alt in zip(old_alts, new_alts, strict=True):
            self._leaf(old_alt, new_alt, path, depth)

    def _leaf(self, old: dict[str, Any], new: dict[str, Any], path: str, depth: int) -> None:
        breaking, at = self.result.breaking, path or "(root)"
        old_enum, new_enum = _enum(old), _enum(new)
        if old_enum is not None and new_enum is not None:
            if old_enum - new_enum:
                breaking.append(f"{at}: enum value removed: {_show(old_enum - new_enum)}")
            if new_enum - old_enum:
                added = _show(new_enum - old_enum)
                breaking.append(f"{at}: enum value added: {added} (a receiver on the frozen version refuses it)")
        elif old_enum != new_enum:
            breaking.append(f"{at}: {'no longer' if new_enum is None else 'now'} limited to listed values")
        for keyword in CONSTRAINTS:
            if old.get(keyword) != new.get(keyword):
                breaking.append(f"{at}: {keyword} changed from {old.get(keyword)!r} to {new.get(keyword)!r}")
        if "properties" in old or "properties" in new:
            self._object(old, new, path, depth)
        if "items" in old or "items" in new:
            self.compare(old.get("items", {}), new.get("items", {}), f"{path}[]", depth + 1)

    def _object(self, old: dict[str, Any], new: dict[str, Any], path: str, depth: int) -> None:
        breaking, at = self.result.breaking, path or "(root)"
        where = f"{path}." if path else ""
        old_props: dict[str, Any] = old.get("properties", {})
        new_props: dict[str, Any] = new.get("properties", {})
        old_req, new_req = set(old.get("required", [])), set(new.get("required", []))
        for name in sorted(old_props.keys() - new_props.keys()):
            breaking.append(f"{where}{name}: property removed")
        for name in sorted(new_props.keys() - old_props.keys()):
            if name in new_req:
                breaking.append(f"{where}{name}: new required property")
            else:
                self.result.additions.append(f"{where}{name}: new optional property")
        for name in sorted(old_props.keys() & new_props.keys()):
            if name in new_req and name not in old_req:
                breaking.append(f"{where}{name}: new required property (was optional)")
            elif name in old_req and name not in new_req:
                breaking.append(
                    f"{where}{name}: no longer required (a receiver on the frozen version refuses a message without it)"
                )
            self.compare(old_props[name], new_props[name], f"{where}{name}", depth + 1)
        if _closed(new) and not _closed(old):
            breaking.append(f"{at}: additionalProperties tightened (unknown fields now refused)")


def compare_schemas(old: dict[str, Any], new: dict[str, Any]) -> Comparison:
    """What changed from the frozen schema ``old`` to the current ``new`` (both whole documents, their
    ``$defs`` resolved)."""
    walk = _Walk(old, new)
    walk.compare(old, new, "")
    return walk.result


def version_advice(schema_name: str) -> str:
    """``raise the version to v2 (keep v1 until the partner moved)`` for ``VehicleCleared.v1``."""
    match = re.fullmatch(r"(.+)\.v([1-9][0-9]*)", schema_name)
    if not match:
        raise ValueError(f"{schema_name!r} is not <Type>.v<N>")
    n = int(match.group(2))
    return f"raise the version to v{n + 1} (keep v{n} until the partner moved)"


def breaking_report(schema_name: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per breaking change of ``schema_name``, each saying what to do; empty when compatible."""
    advice = version_advice(schema_name)
    return [f"{schema_name}: {change}: {advice}" for change in compare_schemas(old, new).breaking]
