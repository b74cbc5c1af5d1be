"""The published partner contract (docs/partner/): the AsyncAPI document is what the generator makes now,
every model keeps the meaning of its frozen schema, and the README's example is a real signed message.

Stale? Regenerate with ``.venv/bin/python -m smartgate.partner.asyncapi`` (it never rewrites a frozen
schema: a breaking change needs a new version)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from smartgate import partner
from smartgate.keys import public_keys_from
from smartgate.partner import asyncapi
from smartgate.partner.compat import breaking_report, compare_schemas
from smartgate.partner.examples import EXAMPLE_PUBLIC_KEYS, EXAMPLE_SEED, EXAMPLES, VEHICLE_CLEARED, example_message
from smartgate.schemas.base import Contract
from smartgate.schemas.partner import PARTNER_EVENTS, PARTNER_MODELS, CrossBorderMessage

DOCS = Path(__file__).resolve().parents[2] / "docs" / "partner"
REGENERATE = "run .venv/bin/python -m smartgate.partner.asyncapi"
NAMES = [asyncapi.schema_name(m) for m in PARTNER_MODELS]
EVENT_NAMES = [asyncapi.schema_name(m) for m in PARTNER_EVENTS]


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCS / asyncapi.ASYNCAPI_FILE).read_text(encoding="utf-8"))
    return loaded


def readme() -> str:
    return (DOCS / "README.md").read_text(encoding="utf-8")


def fenced(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", readme(), flags=re.DOTALL)


def validator(doc: dict[str, Any], name: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    # the component's $refs (#/components/schemas/...) resolve against a root that holds the components
    return jsonschema.Draft202012Validator({"$ref": f"#/components/schemas/{name}", "components": doc["components"]})


# ------------------------------------------------------------------------------- staleness


def test_the_checked_in_asyncapi_document_is_what_the_generator_makes_now() -> None:
    on_disk = (DOCS / asyncapi.ASYNCAPI_FILE).read_text(encoding="utf-8")
    assert on_disk == asyncapi.render(), f"docs/partner/asyncapi.yaml is stale: {REGENERATE}"


def test_the_generator_is_deterministic_and_its_check_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert asyncapi.render() == asyncapi.render()
    assert asyncapi.main(["--check", "--dir", str(DOCS)]) == 0, capsys.readouterr().err


def test_the_generator_writes_into_an_empty_folder_and_then_keeps_frozen_files(tmp_path: Path) -> None:
    assert asyncapi.main(["--check", "--dir", str(tmp_path)]) == 1
    assert asyncapi.main(["--dir", str(tmp_path)]) == 0
    assert (tmp_path / "asyncapi.yaml").read_text(encoding="utf-8") == asyncapi.render()
    frozen = tmp_path / "schemas" / "VehicleCleared.v1.json"
    frozen.write_text('{"published": "as it was"}\n', encoding="utf-8")
    assert asyncapi.main(["--dir", str(tmp_path)]) == 0
    assert frozen.read_text(encoding="utf-8") == '{"published": "as it was"}\n'  # never rewritten
    assert asyncapi.main(["--check", "--dir", str(tmp_path)]) == 0


# ------------------------------------------------------------------------------- the AsyncAPI document


def test_number_like_strings_are_quoted_for_yaml_1_2_readers() -> None:
    # YAML 1.1 (PyYAML) reads 08109092 as a string, YAML 1.2 (most AsyncAPI tools) as the number 8109092
    text = (DOCS / asyncapi.ASYNCAPI_FILE).read_text(encoding="utf-8")
    assert "hs_code: '08109092'" in text
    assert not re.search(r":\s+0[0-9]+\s*$", text, flags=re.MULTILINE)


def test_it_is_asyncapi_3_with_the_contract_version(doc: dict[str, Any]) -> None:
    assert doc["asyncapi"] == "3.0.0"
    assert doc["info"]["version"] == partner.CONTRACT_VERSION
    assert doc["info"]["title"] and doc["info"]["description"]
    assert doc["defaultContentType"] == "application/json"


def test_one_message_per_event_model_and_every_model_has_a_schema(doc: dict[str, Any]) -> None:
    assert list(doc["components"]["messages"]) == EVENT_NAMES
    assert set(NAMES) <= set(doc["components"]["schemas"])
    for name, message in doc["components"]["messages"].items():
        assert message["payload"] == {"$ref": f"#/components/schemas/{name}"}
        assert message["headers"]["properties"]["detail-type"]["const"] == name
        assert message["traits"] == [{"$ref": "#/components/messageTraits/signedCrossBorder"}]


def test_channels_and_operations_both_ways(doc: dict[str, Any]) -> None:
    outbound, inbound = doc["channels"]["outbound"], doc["channels"]["inbound"]
    assert outbound["parameters"]["fromGate"]["enum"] == ["kimthanh2", "mongcai"]
    assert inbound["parameters"]["fromGate"]["enum"] == ["dongxing", "hekou"]
    for channel in (outbound, inbound):
        assert channel["address"] == "smartgate.partner.{fromGate}"
        assert list(channel["messages"]) == EVENT_NAMES
    operations = doc["operations"]
    assert (operations["sendToPartner"]["action"], operations["receiveFromPartner"]["action"]) == ("send", "receive")
    assert operations["sendToPartner"]["channel"] == {"$ref": "#/channels/outbound"}
    assert len(operations["receiveFromPartner"]["messages"]) == len(EVENT_NAMES)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


def test_every_reference_resolves_inside_the_document(doc: dict[str, Any]) -> None:
    refs = _refs(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/"), ref
        node: Any = doc
        for part in ref[2:].split("/"):
            assert part in node, ref
            node = node[part]


@pytest.mark.parametrize("name", EVENT_NAMES)
def test_each_message_example_is_valid_for_its_schema_and_its_model(doc: dict[str, Any], name: str) -> None:
    (example,) = doc["components"]["messages"][name]["examples"]
    model = partner.EVENT_TYPES[name]
    assert list(validator(doc, name).iter_errors(example["payload"])) == []
    assert model.model_validate(example["payload"]) in EXAMPLES
    assert example["headers"] == {"source": f"smartgate.partner.{example['payload']['from_gate']}", "detail-type": name}
    # and the schema refuses what the model refuses
    assert list(validator(doc, name).iter_errors({**example["payload"], "risk_score": 10})) != []


def test_the_envelope_example_is_a_real_signed_message(doc: dict[str, Any]) -> None:
    (signed,) = doc["components"]["schemas"]["CrossBorderMessage.v1"]["examples"]
    assert list(validator(doc, "CrossBorderMessage.v1").iter_errors(signed)) == []
    assert partner.open(signed, EXAMPLE_PUBLIC_KEYS, "hekou") == VEHICLE_CLEARED
    key = doc["components"]["x-example-public-key"]
    assert public_keys_from(f"{key['kid']}={key['ed25519']}").keys() == EXAMPLE_PUBLIC_KEYS.keys()


def test_the_document_names_every_refusal_reason(doc: dict[str, Any]) -> None:
    text = doc["info"]["description"]
    assert all(code.value in text for code in partner.RefusalCode)


def test_it_validates_against_the_official_asyncapi_3_schema(doc: dict[str, Any]) -> None:
    # The official JSON Schema of AsyncAPI 3.0.0 (npm @asyncapi/specs 6.11.1, Apache-2.0), checked in
    # compressed under tests/fixtures/asyncapi/.
    import gzip

    import jsonschema

    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "asyncapi" / "3.0.0-without-id.json.gz"
    spec = json.loads(gzip.decompress(fixture.read_bytes()))
    assert [e.message for e in jsonschema.Draft7Validator(spec).iter_errors(doc)] == []


# ------------------------------------------------------------------------------- the frozen schemas


def test_every_version_has_its_frozen_schema_and_nothing_else_is_frozen() -> None:
    on_disk = sorted(p.name for p in (DOCS / asyncapi.SCHEMAS_DIR).glob("*.json"))
    assert on_disk == sorted(f"{name}.json" for name in NAMES), (
        f"a frozen schema is missing ({REGENERATE}) or belongs to a version no model has any more"
    )


@pytest.mark.parametrize("model", PARTNER_MODELS, ids=NAMES)
def test_no_model_breaks_its_published_version(model: type[Contract]) -> None:
    name = asyncapi.schema_name(model)
    frozen = json.loads((DOCS / asyncapi.SCHEMAS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    current = json.loads(asyncapi.frozen_schema(model))

    problems = breaking_report(name, frozen, current)

    assert problems == [], "\n".join(problems)
    # A new optional property is allowed: the frozen file stays as published (it leaves once agreed).
    assert frozen["$id"] == current["$id"]


@pytest.mark.parametrize("model", PARTNER_MODELS, ids=NAMES)
def test_frozen_schemas_are_valid_json_schemas_the_examples_pass(model: type[Contract]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    name = asyncapi.schema_name(model)
    frozen = json.loads((DOCS / asyncapi.SCHEMAS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(frozen)
    if model is CrossBorderMessage:
        instance = example_message().model_dump(mode="json")
    else:
        instance = json.loads(partner.event_json(next(e for e in EXAMPLES if type(e) is model)))
    assert list(jsonschema.Draft202012Validator(frozen).iter_errors(instance)) == []


def test_the_gate_catches_a_breaking_change_to_a_real_model() -> None:
    frozen = json.loads((DOCS / asyncapi.SCHEMAS_DIR / "VehicleCleared.v1.json").read_text(encoding="utf-8"))
    current = json.loads(asyncapi.frozen_schema(partner.EVENT_TYPES["VehicleCleared.v1"]))
    current["$defs"]["Inspection"]["enum"].remove("lab")
    current["required"].append("lab_outcome")

    problems = breaking_report("VehicleCleared.v1", frozen, current)

    assert any("inspection: enum value removed: 'lab'" in p for p in problems)
    assert any("lab_outcome: new required property" in p for p in problems)
    assert all(p.endswith("raise the version to v2 (keep v1 until the partner moved)") for p in problems)
    assert compare_schemas(frozen, frozen).breaking == []


# ------------------------------------------------------------------------------- the README


def test_the_readme_example_opens_to_the_example_event() -> None:
    blocks = [json.loads(text) for text in fenced("json")]
    (delivered,) = [b for b in blocks if "detail" in b]
    (decoded,) = [b for b in blocks if b.get("schema") == "VehicleCleared.v1"]

    assert partner.open_event(delivered, EXAMPLE_PUBLIC_KEYS, "hekou", "kimthanh2") == VEHICLE_CLEARED
    assert delivered["detail"] == example_message().model_dump(mode="json")
    assert partner.EVENT_TYPES["VehicleCleared.v1"].model_validate(decoded) == VEHICLE_CLEARED
    assert decoded == json.loads(partner.event_json(VEHICLE_CLEARED))


def test_the_readme_publishes_the_example_key_correctly() -> None:
    text = readme()
    (published,) = re.findall(r"`(example-2026-1=[A-Za-z0-9+/=]+)`", text)
    assert public_keys_from(published).keys() == EXAMPLE_PUBLIC_KEYS.keys()
    assert base64.b64encode(public_keys_from(published)["example-2026-1"].public_bytes_raw()) == base64.b64encode(
        EXAMPLE_PUBLIC_KEYS["example-2026-1"].public_bytes_raw()
    )
    assert f"`{EXAMPLE_SEED}`" in text


def test_the_readme_verification_snippet_works() -> None:
    (snippet,) = fenced("python")
    kid, key = "example-2026-1", base64.b64encode(EXAMPLE_PUBLIC_KEYS["example-2026-1"].public_bytes_raw()).decode()
    scope: dict[str, Any] = {"detail": example_message().model_dump(mode="json"), "published": {kid: key}}
    exec(snippet, scope)  # noqa: S102 - our own documentation
    assert scope["event"] == json.loads(partner.event_json(VEHICLE_CLEARED))


def test_the_readme_lists_every_event_and_refusal_reason() -> None:
    text = readme()
    for name in EVENT_NAMES:
        assert f"`{name}`" in text
    for code in partner.RefusalCode:
        assert f"`{code.value}`" in text
    assert "python -m smartgate.partner.asyncapi" in text
