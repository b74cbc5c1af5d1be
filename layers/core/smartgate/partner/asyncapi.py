"""Write the published partner contract: ``docs/partner/asyncapi.yaml`` and the frozen JSON Schemas.

``python -m smartgate.partner.asyncapi`` generates the AsyncAPI 3.0.0 document from the models in
``smartgate.schemas.partner`` (channels, operations, one message per event type with its JSON Schema and
the example from ``smartgate.partner.examples``) and writes each version's JSON Schema into
``docs/partner/schemas/<Type>.vN.json`` **only when that file is absent**: a published version is frozen
(``smartgate.partner.compat`` checks the models against it).

``--check`` writes nothing and exits 1 when the document is stale or a frozen schema is missing. The
output is deterministic, so a regeneration without a model change gives no diff.
"""

from __future__ import annotations

import argparse
import base64
import copy
import inspect
import json
import re
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from smartgate.domain.gates import default_gates
from smartgate.partner.agreements import default_agreements
from smartgate.partner.envelope import (
    CONTRACT_VERSION,
    ENVELOPE,
    SOURCE_PREFIX,
    TYP,
    RefusalCode,
    event_json,
    message_type,
    partner_source,
)
from smartgate.partner.examples import EXAMPLE_KEY_ID, EXAMPLE_PRIVATE_KEY, EXAMPLES, example_message
from smartgate.schemas import schema_name
from smartgate.schemas.base import Contract
from smartgate.schemas.partner import MAX_JWS_CHARS, PARTNER_EVENTS, PARTNER_MODELS, ConsignmentEvent

DOCS_DIR = Path(__file__).resolve().parents[4] / "docs" / "partner"
ASYNCAPI_FILE = "asyncapi.yaml"
SCHEMAS_DIR = "schemas"
SCHEMA_BASE_URI = "https://smartgate.example/partner/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
REGENERATE = "python -m smartgate.partner.asyncapi"

HEADER = f"""\
# The Smart Gate partner gate exchange, as published to the partner gates (AsyncAPI 3.0.0).
# Generated from the models in smartgate.schemas.partner: do not edit; regenerate with
#   .venv/bin/{REGENERATE}
# The explanation for a partner's engineers is README.md beside this file.
"""


def _doc(model: type[Contract]) -> str:
    return inspect.cleandoc(model.__doc__ or "")


def _title(model: type[Contract]) -> str:
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", model.__name__).split()
    return " ".join([words[0], *(w.lower() for w in words[1:])])


# --------------------------------------------------------------------------- frozen JSON Schemas


def frozen_schema(model: type[Contract]) -> str:
    """The JSON Schema document of one version, as it is frozen when first published."""
    name = schema_name(model)
    doc = {"$schema": DIALECT, "$id": f"{SCHEMA_BASE_URI}{name}.json", **model.model_json_schema(by_alias=True)}
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def frozen_files() -> dict[str, str]:
    """File name -> text of every version's schema (what is written when absent)."""
    return {f"{schema_name(model)}.json": frozen_schema(model) for model in PARTNER_MODELS}


# --------------------------------------------------------------------------- the AsyncAPI document


def _rewrite_refs(node: Any, names: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                prefix, _, name = value.rpartition("/")
                out[key] = f"{prefix}/{names.get(name, name)}"
            else:
                out[key] = _rewrite_refs(value, names)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, names) for item in node]
    return node


def component_schemas() -> dict[str, Any]:
    """Every model's JSON Schema, nested models and enums included, keyed ``VehicleCleared.v1`` for the
    versioned ones (the building blocks by their names), references between them local to the document."""
    _, defs = models_json_schema(
        [(model, "validation") for model in PARTNER_MODELS],
        by_alias=True,
        ref_template="#/components/schemas/{model}",
    )
    names = {model.__name__: schema_name(model) for model in PARTNER_MODELS}
    schemas = {names.get(name, name): _rewrite_refs(schema, names) for name, schema in defs["$defs"].items()}
    envelope = copy.deepcopy(schemas[ENVELOPE])
    envelope["examples"] = [example_message().model_dump(mode="json")]
    schemas[ENVELOPE] = envelope
    return dict(sorted(schemas.items()))


def _headers(model: type[Contract]) -> dict[str, Any]:
    return {
        "type": "object",
        "description": "The EventBridge event around the message (the envelope is its detail).",
        "required": ["source", "detail-type"],
        "properties": {
            "source": {
                "type": "string",
                "pattern": f"^{re.escape(SOURCE_PREFIX)}[A-Za-z0-9][A-Za-z0-9_.:-]*$",
                "description": f"{SOURCE_PREFIX}<from_gate>",
            },
            "detail-type": {"type": "string", "const": schema_name(model), "description": "the message type"},
        },
    }


def _message(model: type[Contract]) -> dict[str, Any]:
    name = schema_name(model)
    example = next(event for event in EXAMPLES if type(event) is model)
    message: dict[str, Any] = {
        "name": name,
        "title": _title(model),
        # no description of its own: the trait's (how it is signed) is merged into every message
        "summary": " ".join(_doc(model).split()),
        "contentType": "application/json",
        "headers": _headers(model),
        "payload": {"$ref": f"#/components/schemas/{name}"},
        "traits": [{"$ref": "#/components/messageTraits/signedCrossBorder"}],
        "examples": [
            {
                "name": f"{example.from_gate}-to-{example.to_gate}",
                "summary": f"{_title(model)} from {example.from_gate} to {example.to_gate}",
                "headers": {"source": partner_source(example.from_gate), "detail-type": message_type(example)},
                "payload": json.loads(event_json(example)),
            }
        ],
    }
    if issubclass(model, ConsignmentEvent):
        message["correlationId"] = {"$ref": "#/components/correlationIds/reference"}
    return message


def _gates() -> tuple[list[str], list[str]]:
    """(our gates, their partner gates) that the agreements cover."""
    ours = set(default_gates("prod").gate_ids())
    pairs = default_agreements().pairs()
    return sorted({a for a, _ in pairs if a in ours}), sorted({b for _, b in pairs if b not in ours})


def _wrap(text: str, indent: str) -> str:
    return textwrap.fill(text, width=96, subsequent_indent=indent)


SIGNING = f"""\
Every message is signed. The EventBridge event's `detail` is a `{ENVELOPE}` envelope whose `jws`
is a compact JWS (RFC 7515) over the JSON of the event documented as this message's payload (an
example: `components.schemas.{ENVELOPE}.examples`). JWS header
`{{"alg":"EdDSA","kid":"<key id>","typ":"{TYP}","cty":"<message type>"}}`, Ed25519 (RFC 8037),
base64url without padding. Fields that are null are left out of the signed JSON ("not told").
The receiver verifies the signature with the sender's published public key named by `kid` before it
reads anything, then checks that the JWS `cty`, the envelope's `type`, the payload's `schema` and the
EventBridge `detail-type` agree, that the payload is valid against this schema, that `to_gate` is
itself and that the envelope's `from_gate` and `message_id` repeat the signed `from_gate` and
`event_id`. AsyncAPI has no security scheme for signed messages, so this trait describes it."""

DESCRIPTION = f"""\
The open contract between two road border gates that exchange what each has cleared, what is on its
way, what was held or refused and how many vehicles each can accept: Kim Thanh II (Lao Cai, VN) with
Hekou (CN), and Mong Cai / Bac Luan II (VN) with Dongxing (CN). Both sides send and receive the same
events; a partner adopts this document as it is.

- **Transport**: Amazon EventBridge. Each side sends to the other's partner event bus (cross-account
  PutEvents) or to its HTTPS endpoint (an EventBridge API destination). `source` is
  `{SOURCE_PREFIX}<from_gate>`, `detail-type` the message type (`VehicleCleared.v1`), `detail` the
  signed envelope `{ENVELOPE}`, its `jws` at most {MAX_JWS_CHARS:,} characters.
- **Signatures**: compact JWS, EdDSA / Ed25519, key id `kid`; each side publishes its public keys
  (see the message trait `signedCrossBorder`).
- **Idempotency**: `event_id` is unique per sender; a receiver applies an event once, however often
  it arrives (EventBridge delivers at least once, and archives are replayed).
- **Minimisation**: only the fields the bilateral agreement lists leave a side; driver data only when
  the agreement shares it. Traders' prices, identities, risk scores and rules are not in the contract.
- **Versioning**: a message type is `<Type>.v<N>`. Within a version the only change is a new
  optional field (which leaves only once the agreement lists it); anything else is a new version,
  and the old one is kept until the partner moved. Each version's JSON Schema is frozen in
  `schemas/<Type>.v<N>.json` beside this document.
- **Refusals**: a message that fails a check goes to the receiver's dead-letter queue with one of
  these reasons: {_wrap(", ".join(code.value for code in RefusalCode), "  ")}.

The explanation for engineers is README.md beside this document."""


def document() -> dict[str, Any]:
    ours, theirs = _gates()
    messages = {schema_name(model): {"$ref": f"#/components/messages/{schema_name(model)}"} for model in PARTNER_EVENTS}

    def channel(direction: str, gates: list[str]) -> dict[str, Any]:
        outbound = direction == "outbound"
        return {
            "address": f"{SOURCE_PREFIX}{{fromGate}}",
            "title": "Our gate to its partner" if outbound else "The partner gate to ours",
            "description": (
                "Events a Smart Gate gate sends its partner gate: an EventBridge rule on our bus forwards "
                "them to the partner's event bus or API destination. The address is the EventBridge "
                "`source`; each message's `detail-type` is its type."
                if outbound
                else "Events the partner gate sends ours, on our partner inbound event bus (or its API "
                "destination endpoint). The address is the EventBridge `source`; each message's "
                "`detail-type` is its type."
            ),
            "parameters": {
                "fromGate": {"enum": gates, "description": "the sending gate (the events' from_gate)"},
            },
            "messages": messages,
        }

    def operation(action: str, channel_name: str, summary: str) -> dict[str, Any]:
        return {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel_name}"},
            "summary": summary,
            "messages": [{"$ref": f"#/channels/{channel_name}/messages/{name}"} for name in messages],
        }

    return {
        "asyncapi": "3.0.0",
        "id": "urn:smartgate:partner-gate-exchange",
        "info": {
            "title": "Smart Gate partner gate exchange",
            "version": CONTRACT_VERSION,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
            "tags": [{"name": "border-crossing"}, {"name": "eventbridge"}, {"name": "jws"}],
        },
        "defaultContentType": "application/json",
        "servers": {
            "eventbridge": {
                "host": "events.{region}.amazonaws.com",
                "protocol": "https",
                "title": "Amazon EventBridge",
                "description": (
                    "The receiving side's partner event bus (PutEvents, cross-account), or the HTTPS "
                    "endpoint behind its EventBridge API destination. Bus names and endpoints are "
                    "exchanged with the agreement."
                ),
                "variables": {"region": {"default": "ap-southeast-1", "description": "the receiving side's region"}},
                "security": [{"$ref": "#/components/securitySchemes/apiDestinationKey"}],
            }
        },
        "channels": {"outbound": channel("outbound", ours), "inbound": channel("inbound", theirs)},
        "operations": {
            "sendToPartner": operation("send", "outbound", "Send our gate's events to its partner gate"),
            "receiveFromPartner": operation("receive", "inbound", "Receive the partner gate's events"),
        },
        "components": {
            "schemas": component_schemas(),
            "messages": {schema_name(model): _message(model) for model in PARTNER_EVENTS},
            "messageTraits": {
                "signedCrossBorder": {
                    "description": SIGNING,
                    "contentType": "application/json",
                }
            },
            "correlationIds": {
                "reference": {
                    "description": "the consignment's cross-border reference, shared by both sides",
                    "location": "$message.payload#/reference",
                }
            },
            "securitySchemes": {
                "apiDestinationKey": {
                    "type": "httpApiKey",
                    "name": "x-api-key",
                    "in": "header",
                    "description": (
                        "Transport only, when delivered through an EventBridge API destination (its "
                        "connection's key); cross-account PutEvents is authorised by the bus policy instead. "
                        "Who sent a message is proven by its JWS signature (trait signedCrossBorder), "
                        "whichever way it came."
                    ),
                }
            },
            "x-example-public-key": {
                "kid": EXAMPLE_KEY_ID,
                "ed25519": _public_b64(),
                "note": "signs the published examples only; never trusted by a gate",
            },
        },
    }


def _public_b64() -> str:
    return base64.b64encode(EXAMPLE_PRIVATE_KEY.public_key().public_bytes_raw()).decode()


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:  # the same list twice is written twice, not as an alias
        return True


_NUMBER_LIKE = re.compile(r"[-+]?(\.?[0-9][0-9_.eE+-]*|0[xXoObB][0-9a-fA-F_]+|\.inf|\.nan)", re.IGNORECASE)


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if _NUMBER_LIKE.fullmatch(value):  # HS code 08109092: a number to a YAML 1.2 reader unless quoted
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_Dumper.add_representer(str, _str)


def render() -> str:
    """The text of ``asyncapi.yaml``."""
    body = yaml.dump(document(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return HEADER + body


# --------------------------------------------------------------------------- the command


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=f"python -m {__package__}.asyncapi", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if anything is stale or missing")
    parser.add_argument("--dir", type=Path, default=DOCS_DIR, help="the docs/partner folder")
    args = parser.parse_args(argv)
    folder: Path = args.dir
    text = render()
    target = folder / ASYNCAPI_FILE
    stale = not target.is_file() or target.read_text(encoding="utf-8") != text
    missing = {name: body for name, body in frozen_files().items() if not (folder / SCHEMAS_DIR / name).is_file()}
    if args.check:
        if stale:
            print(f"stale: {target}", file=sys.stderr)
        for name in missing:
            print(f"missing: {folder / SCHEMAS_DIR / name}", file=sys.stderr)
        if stale or missing:
            print(f"the partner contract is out of date: run .venv/bin/{REGENERATE}", file=sys.stderr)
            return 1
        print(f"{target} and {len(PARTNER_MODELS)} frozen schemas up to date")
        return 0
    (folder / SCHEMAS_DIR).mkdir(parents=True, exist_ok=True)
    if stale:
        target.write_text(text, encoding="utf-8", newline="\n")
        print(f"wrote {target}")
    for name, body in missing.items():
        (folder / SCHEMAS_DIR / name).write_text(body, encoding="utf-8", newline="\n")
        print(f"froze {folder / SCHEMAS_DIR / name}")
    if not stale and not missing:
        print(f"{target} already up to date; frozen schemas kept as published")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
