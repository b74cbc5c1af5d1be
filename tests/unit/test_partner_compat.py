"""The compatibility checker on synthetic schemas: it catches each kind of breaking change, and lets a new
optional property through."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from smartgate.partner.compat import breaking_report, compare_schemas, version_advice

FROZEN: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "VehicleCleared",
    "type": "object",
    "additionalProperties": False,
    "required": ["schema", "event_id", "channel", "goods"],
    "properties": {
        "schema": {"const": "VehicleCleared.v1", "type": "string"},
        "event_id": {"type": "string", "minLength": 1, "maxLength": 128},
        "channel": {"$ref": "#/$defs/Channel"},
        "note": {"anyOf": [{"type": "string", "maxLength": 500}, {"type": "null"}], "default": None},
        "goods": {"type": "array", "items": {"$ref": "#/$defs/Line"}, "maxItems": 200},
    },
    "$defs": {
        "Channel": {"enum": ["GREEN", "YELLOW", "RED"], "type": "string"},
        "Line": {
            "type": "object",
            "additionalProperties": False,
            "required": ["hs_code", "gross_kg"],
            "properties": {
                "hs_code": {"type": "string", "pattern": "^[0-9]{4,10}$"},
                "gross_kg": {"type": "number", "exclusiveMinimum": 0},
                "origin": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            },
        },
    },
}


def changed(edit: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    schema = copy.deepcopy(FROZEN)
    edit(schema)
    return schema


def breaking(edit: Callable[[dict[str, Any]], object]) -> list[str]:
    return compare_schemas(FROZEN, changed(edit)).breaking


def test_an_unchanged_schema_is_compatible() -> None:
    result = compare_schemas(FROZEN, copy.deepcopy(FROZEN))
    assert result.breaking == [] and result.additions == []


def test_descriptions_titles_and_examples_may_change() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["title"] = "Vehicle cleared"
        s["properties"]["event_id"]["description"] = "the idempotency key"
        s["$defs"]["Line"]["examples"] = [{"hs_code": "0810", "gross_kg": 1}]

    assert breaking(edit) == []


def test_a_new_optional_property_is_allowed_and_noted() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["properties"]["seal_nos"] = {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]}
        s["$defs"]["Line"]["properties"]["perishable"] = {"anyOf": [{"type": "boolean"}, {"type": "null"}]}

    result = compare_schemas(FROZEN, changed(edit))
    assert result.breaking == []
    assert result.additions == ["seal_nos: new optional property", "goods[].perishable: new optional property"]


BREAKING: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("property removed", lambda s: s["properties"].pop("note"), "note: property removed"),
    (
        "nested property removed",
        lambda s: s["$defs"]["Line"]["properties"].pop("origin"),
        "goods[].origin: property removed",
    ),
    (
        "new required property",
        lambda s: (s["properties"].__setitem__("lane", {"type": "string"}), s["required"].append("lane")),
        "lane: new required property",
    ),
    ("optional made required", lambda s: s["required"].append("note"), "note: new required property (was optional)"),
    ("required made optional", lambda s: s["required"].remove("event_id"), "event_id: no longer required"),
    (
        "type changed",
        lambda s: s["$defs"]["Line"]["properties"]["gross_kg"].__setitem__("type", "string"),
        "goods[].gross_kg: type changed from 'number' to 'string'",
    ),
    (
        "null no longer allowed",
        lambda s: s["properties"].__setitem__("note", {"type": "string", "maxLength": 500}),
        "note: type changed from 'null', 'string' to 'string'",
    ),
    (
        "array became an object",
        lambda s: s["properties"].__setitem__("goods", {"$ref": "#/$defs/Line"}),
        "goods: type changed from 'array' to 'object'",
    ),
    (
        "enum value removed",
        lambda s: s["$defs"]["Channel"].__setitem__("enum", ["GREEN", "RED"]),
        "channel: enum value removed: 'YELLOW'",
    ),
    (
        "enum value added",
        lambda s: s["$defs"]["Channel"]["enum"].append("BLUE"),
        "channel: enum value added: 'BLUE'",
    ),
    (
        "constraint changed",
        lambda s: s["properties"]["event_id"].__setitem__("maxLength", 64),
        "event_id: maxLength changed from 128 to 64",
    ),
    (
        "pattern changed",
        lambda s: s["$defs"]["Line"]["properties"]["hs_code"].__setitem__("pattern", "^[0-9]{6,10}$"),
        "goods[].hs_code: pattern changed",
    ),
    (
        "items limit changed",
        lambda s: s["properties"]["goods"].__setitem__("maxItems", 100),
        "goods: maxItems changed from 200 to 100",
    ),
    (
        "schema literal changed",
        lambda s: s["properties"]["schema"].__setitem__("const", "VehicleCleared.v2"),
        "schema: enum value removed: 'VehicleCleared.v1'",
    ),
]


@pytest.mark.parametrize(("kind", "edit", "expected"), BREAKING, ids=[case[0] for case in BREAKING])
def test_each_kind_of_breaking_change_is_caught(
    kind: str, edit: Callable[[dict[str, Any]], object], expected: str
) -> None:
    found = breaking(edit)
    assert any(change.startswith(expected) for change in found), found


def test_additional_properties_tightened_is_caught() -> None:
    open_frozen = changed(lambda s: s.pop("additionalProperties"))
    open_frozen["$defs"]["Line"]["additionalProperties"] = True

    found = compare_schemas(open_frozen, FROZEN).breaking

    assert "(root): additionalProperties tightened (unknown fields now refused)" in found
    assert "goods[]: additionalProperties tightened (unknown fields now refused)" in found
    # and loosening it back is not reported as tightening
    assert not any("tightened" in c for c in compare_schemas(FROZEN, open_frozen).breaking)


def test_a_ref_renamed_but_the_same_schema_is_compatible() -> None:
    def edit(s: dict[str, Any]) -> None:
        s["$defs"]["GoodsLine"] = s["$defs"].pop("Line")
        s["properties"]["goods"]["items"] = {"$ref": "#/$defs/GoodsLine"}

    assert breaking(edit) == []


def test_the_report_tells_what_to_do() -> None:
    new = changed(lambda s: s["properties"].pop("note"))
    assert breaking_report("VehicleCleared.v1", FROZEN, new) == [
        "VehicleCleared.v1: note: property removed: raise the version to v2 (keep v1 until the partner moved)"
    ]
    assert version_advice("ExpectedArrival.v9") == "raise the version to v10 (keep v9 until the partner moved)"
    with pytest.raises(ValueError):
        version_advice("ExpectedArrival")
