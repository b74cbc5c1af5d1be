"""Signed cross-border messages: what sign() makes, and every reason open() refuses a message for."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smartgate import partner
from smartgate.keys import private_key, public_keys_by_gate, public_keys_from, public_text
from smartgate.partner import PartnerMessageRefused, RefusalCode, open_event, put_events_entry, sign
from smartgate.partner.examples import (
    CAPACITY_PUBLISHED,
    EXAMPLE_KEY_ID,
    EXAMPLE_PRIVATE_KEY,
    EXAMPLE_PUBLIC_KEYS,
    EXAMPLE_SEED,
    EXAMPLES,
    EXPECTED_ARRIVAL,
    VEHICLE_CLEARED,
    example_message,
)
from smartgate.partner.jws import b64url_decode, b64url_encode, sign_compact
from smartgate.schemas.partner import CrossBorderMessage, PartnerEvent

IDS = [str(e.schema_version) for e in EXAMPLES]  # type: ignore[attr-defined]
KEYS = EXAMPLE_PUBLIC_KEYS
HEADER = {"alg": "EdDSA", "kid": EXAMPLE_KEY_ID, "typ": "smartgate-partner+jws", "cty": "VehicleCleared.v1"}


def parts(message: CrossBorderMessage) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    header, payload, signature = message.jws.split(".")
    return (
        json.loads(b64url_decode(header, "h")),
        json.loads(b64url_decode(payload, "p")),
        b64url_decode(signature, "s"),
    )


def forged(
    payload: dict[str, Any] | bytes,
    header: dict[str, Any] | None = None,
    key: Ed25519PrivateKey = EXAMPLE_PRIVATE_KEY,
    **envelope: Any,
) -> dict[str, Any]:
    """A message signed properly over whatever it is given (the sender's mistakes, not an attacker's)."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    base = example_message().model_dump(mode="json")
    return {**base, "jws": sign_compact(header or HEADER, raw, key), **envelope}


def refusal(message: Any, to_gate: str = "hekou", **kwargs: Any) -> PartnerMessageRefused:
    with pytest.raises(PartnerMessageRefused) as err:
        partner.open(message, KEYS, to_gate, **kwargs)
    return err.value


def cleared_payload(**changes: Any) -> dict[str, Any]:
    return {**json.loads(partner.event_json(VEHICLE_CLEARED)), **changes}


# ------------------------------------------------------------------------------- signing


@pytest.mark.parametrize("event", EXAMPLES, ids=IDS)
def test_every_event_signs_and_opens_to_itself(event: PartnerEvent) -> None:
    # Given an event signed by its sender
    message = sign(event, EXAMPLE_KEY_ID, EXAMPLE_PRIVATE_KEY)
    # When the receiver opens it, from the model, the EventBridge detail as a dict or its JSON
    for form in (
        message,
        message.model_dump(mode="json"),
        message.model_dump_json(),
        message.model_dump_json().encode(),
    ):
        # Then it gets the same event back
        assert partner.open(form, KEYS, event.to_gate) == event


def test_the_envelope_repeats_what_is_signed_and_the_header_is_as_published() -> None:
    message = example_message()
    header, payload, signature = parts(message)

    assert header == HEADER
    assert list(header) == ["alg", "kid", "typ", "cty"]
    assert payload == json.loads(partner.event_json(VEHICLE_CLEARED))
    assert len(signature) == 64
    assert (message.message_id, message.type, message.from_gate, message.to_gate) == (
        VEHICLE_CLEARED.event_id,
        "VehicleCleared.v1",
        "kimthanh2",
        "hekou",
    )
    assert "=" not in message.jws


def test_signatures_are_deterministic_so_the_published_example_is_stable() -> None:
    assert example_message() == example_message()
    assert example_message().jws.split(".")[2] == (
        "LPNTljW3jwnBWdItIVoMYPFw5gffxuZW8G6x-hHCkm7Q_vOIcmhauMCowC0t3JODWk6zrwBA44UdIwTiHjRTCA"
    )


def test_keys_in_the_stack_formats_work() -> None:
    # the example seed and public key text round-trip through smartgate.keys
    key = private_key(EXAMPLE_SEED)
    text = public_text(EXAMPLE_PUBLIC_KEYS)
    assert text.startswith(f"{EXAMPLE_KEY_ID}=")
    message = sign(VEHICLE_CLEARED, EXAMPLE_KEY_ID, key)
    assert partner.open(message, public_keys_from(text), "hekou") == VEHICLE_CLEARED


def test_each_partner_gate_is_checked_against_its_own_published_keys_only() -> None:
    # Given the keys two gates published, in the stack's PartnerPublicKeys form (the example's sender
    # signs with the example key; another gate with its own)
    sender, other = VEHICLE_CLEARED.from_gate, "mongcai"
    other_key = Ed25519PrivateKey.generate()
    text = f"{sender}:{public_text(EXAMPLE_PUBLIC_KEYS)}, {other}:{public_text({'mc-2026-1': other_key.public_key()})}"
    published = public_keys_by_gate(text)
    assert set(published) == {sender, other} and set(published[other]) == {"mc-2026-1"}
    # When the other gate signs a message that claims to come from the sender
    forged = sign(VEHICLE_CLEARED, "mc-2026-1", other_key)
    # Then the sender's keys do not know that key id, and a forger reusing the sender's kid fails the check
    with pytest.raises(partner.PartnerMessageRefused) as unknown:
        partner.open(forged, published[sender], VEHICLE_CLEARED.to_gate)
    assert unknown.value.reason_code.value == "unknown_key"
    with pytest.raises(partner.PartnerMessageRefused) as bad:
        partner.open(sign(VEHICLE_CLEARED, EXAMPLE_KEY_ID, other_key), published[sender], VEHICLE_CLEARED.to_gate)
    assert bad.value.reason_code.value == "bad_signature"
    assert partner.open(example_message(), published[sender], VEHICLE_CLEARED.to_gate) == VEHICLE_CLEARED
    # And a key without its gate, or a gate without a key, is a configuration error naming the item
    for wrong in [public_text(EXAMPLE_PUBLIC_KEYS), "hekou:", ":k=AAAA", "hekou:k=short"]:
        with pytest.raises(ValueError, match="key_id"):
            public_keys_by_gate(wrong)


def test_only_partner_events_are_signed_and_key_ids_fit_the_key_list() -> None:
    with pytest.raises(ValueError, match="not an event of the partner contract"):
        sign(example_message(), EXAMPLE_KEY_ID, EXAMPLE_PRIVATE_KEY)  # type: ignore[arg-type]
    for bad in ["", "a,b", "a=b", "a b", "k" * 65]:
        with pytest.raises(ValueError, match="key_id"):
            sign(VEHICLE_CLEARED, bad, EXAMPLE_PRIVATE_KEY)


def test_an_event_too_big_for_eventbridge_is_not_signed() -> None:
    # 200 goods lines of 300 Chinese characters each: a valid event, 3 bytes a character
    line = EXPECTED_ARRIVAL.goods[0].model_copy(update={"description": "新鲜火龙果" * 60})
    huge = type(EXPECTED_ARRIVAL).model_validate({**EXPECTED_ARRIVAL.model_dump(), "goods": [line.model_dump()] * 200})
    with pytest.raises(ValueError, match="an EventBridge event holds 239000"):
        sign(huge, EXAMPLE_KEY_ID, EXAMPLE_PRIVATE_KEY)
    fewer = huge.model_copy(update={"goods": huge.goods[:100]})
    assert len(sign(fewer, EXAMPLE_KEY_ID, EXAMPLE_PRIVATE_KEY).model_dump_json()) < 256 * 1024


def test_put_events_entry_and_open_event() -> None:
    message = example_message()
    entry = put_events_entry(message, "hekou-partner-inbound")

    assert entry == {
        "Source": "smartgate.partner.kimthanh2",
        "DetailType": "VehicleCleared.v1",
        "Detail": message.model_dump_json(),
        "EventBusName": "hekou-partner-inbound",
    }
    delivered = {"version": "0", "source": entry["Source"], "detail-type": entry["DetailType"]}
    delivered["detail"] = json.loads(entry["Detail"])
    assert open_event(delivered, KEYS, "hekou", "kimthanh2") == VEHICLE_CLEARED


# ------------------------------------------------------------------------------- refusals, in open()'s order


@pytest.mark.parametrize(
    "message",
    [b"\xff\xfe", "not json", "[1, 2]", "42", {"schema": "CrossBorderMessage.v1"}, {"jws": "a.b.c"}],
    ids=["bytes", "text", "array", "number", "no-fields", "no-schema"],
)
def test_not_an_envelope_is_malformed(message: Any) -> None:
    assert refusal(message).reason_code == RefusalCode.MALFORMED


def test_an_invalid_envelope_field_is_named() -> None:
    err = refusal({**example_message().model_dump(mode="json"), "to_gate": "he/kou"})
    assert (err.reason_code, err.field) == (RefusalCode.MALFORMED, "to_gate")


def test_an_envelope_without_its_schema_is_malformed() -> None:
    data = {k: v for k, v in example_message().model_dump(mode="json").items() if k != "schema"}
    err = refusal(data)
    assert (err.reason_code, err.field) == (RefusalCode.MALFORMED, "schema")


def test_another_envelope_version_is_unknown() -> None:
    err = refusal({**example_message().model_dump(mode="json"), "schema": "CrossBorderMessage.v2"})
    assert err.reason_code == RefusalCode.UNKNOWN_TYPE_OR_VERSION
    assert "CrossBorderMessage.v2" in err.detail


@pytest.mark.parametrize(
    "jws",
    [
        "a.b",  # the envelope's pattern wants three parts
        "e30.e30.e30.e30",
        "bm90IGpzb24.e30.AAAA",  # header "not json"
        f"{b64url_encode(b'[1]')}.e30.AAAA",  # header not an object
        "Z.e30.AAAA",  # 1 character is never base64url
    ],
)
def test_not_a_compact_jws_is_malformed(jws: str) -> None:
    assert refusal({**example_message().model_dump(mode="json"), "jws": jws}).reason_code == RefusalCode.MALFORMED


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({**HEADER, "typ": "JWT"}, RefusalCode.MALFORMED),
        ({k: v for k, v in HEADER.items() if k != "kid"}, RefusalCode.MALFORMED),
        ({**HEADER, "crit": ["exp"]}, RefusalCode.MALFORMED),
        ({**HEADER, "alg": "none"}, RefusalCode.BAD_SIGNATURE),
        ({**HEADER, "alg": "HS256"}, RefusalCode.BAD_SIGNATURE),
    ],
    ids=["typ", "no-kid", "crit", "alg-none", "alg-hmac"],
)
def test_headers_other_than_the_published_one_are_refused(header: dict[str, Any], code: RefusalCode) -> None:
    h = b64url_encode(json.dumps(header).encode())
    p = b64url_encode(partner.event_json(VEHICLE_CLEARED))
    signature = b64url_encode(EXAMPLE_PRIVATE_KEY.sign(f"{h}.{p}".encode()))
    assert refusal({**example_message().model_dump(mode="json"), "jws": f"{h}.{p}.{signature}"}).reason_code == code


def test_an_unpublished_key_id_is_unknown() -> None:
    stranger = Ed25519PrivateKey.generate()
    err = refusal(sign(VEHICLE_CLEARED, "hekou-2026-9", stranger))
    assert err.reason_code == RefusalCode.UNKNOWN_KEY
    assert "hekou-2026-9" in err.detail and EXAMPLE_KEY_ID in err.detail


def test_a_signature_by_another_key_under_a_published_id_is_bad() -> None:
    impostor = Ed25519PrivateKey.generate()
    assert refusal(sign(VEHICLE_CLEARED, EXAMPLE_KEY_ID, impostor)).reason_code == RefusalCode.BAD_SIGNATURE


def test_a_payload_changed_after_signing_is_a_bad_signature() -> None:
    header, _, signature = example_message().jws.split(".")
    tampered = b64url_encode(json.dumps(cleared_payload(channel="GREEN", inspection="none")).encode())
    message = {**example_message().model_dump(mode="json"), "jws": f"{header}.{tampered}.{signature}"}
    assert refusal(message).reason_code == RefusalCode.BAD_SIGNATURE


def test_a_truncated_signature_is_bad() -> None:
    header, payload, signature = example_message().jws.split(".")
    message = {**example_message().model_dump(mode="json"), "jws": f"{header}.{payload}.{signature[:40]}"}
    err = refusal(message)
    assert err.reason_code == RefusalCode.BAD_SIGNATURE and "64 bytes" in err.detail


@pytest.mark.parametrize("payload", [b"not json", b"[1]", b"\xff"], ids=["text", "array", "binary"])
def test_a_signed_payload_that_is_not_a_json_object_is_malformed(payload: bytes) -> None:
    assert refusal(forged(payload)).reason_code == RefusalCode.MALFORMED


@pytest.mark.parametrize(
    ("header_cty", "envelope_type", "payload_schema"),
    [
        ("VehicleDeparted.v1", "VehicleCleared.v1", "VehicleCleared.v1"),
        ("VehicleCleared.v1", "VehicleDeparted.v1", "VehicleCleared.v1"),
        ("VehicleCleared.v1", "VehicleCleared.v1", "VehicleDeparted.v1"),
        ("VehicleCleared.v1", "VehicleCleared.v1", None),
        (None, "VehicleCleared.v1", "VehicleCleared.v1"),
    ],
    ids=["cty", "envelope", "payload", "no-schema", "no-cty"],
)
def test_the_three_names_of_the_type_must_agree(
    header_cty: str | None, envelope_type: str, payload_schema: str | None
) -> None:
    header = {**HEADER, "cty": header_cty} if header_cty else {k: v for k, v in HEADER.items() if k != "cty"}
    payload = (
        cleared_payload(schema=payload_schema)
        if payload_schema
        else {k: v for k, v in cleared_payload().items() if k != "schema"}
    )
    err = refusal(forged(payload, header, type=envelope_type))
    assert err.reason_code == RefusalCode.TYPE_MISMATCH


@pytest.mark.parametrize("kind", ["VehicleCleared.v2", "VehicleInspected.v1"])
def test_a_type_or_version_not_in_the_contract_is_unknown(kind: str) -> None:
    err = refusal(forged(cleared_payload(schema=kind), {**HEADER, "cty": kind}, type=kind))
    assert err.reason_code == RefusalCode.UNKNOWN_TYPE_OR_VERSION
    assert kind in err.detail and "VehicleCleared.v1" in err.detail


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"channel": "BLUE"}, "channel"),
        ({"container_nos": ["CSQU3054384"]}, "container_nos.0"),
        ({"risk_score": 80}, "risk_score"),
        ({"cleared_at": "yesterday"}, "cleared_at"),
        ({"inspection": "physical"}, "lab_outcome"),
        ({"to_gate": "kimthanh2"}, "to_gate"),
    ],
)
def test_an_invalid_event_is_schema_invalid_with_the_field_named(change: dict[str, Any], field: str) -> None:
    err = refusal(forged(cleared_payload(**change)))
    assert (err.reason_code, err.field) == (RefusalCode.SCHEMA_INVALID, field)
    assert err.detail.startswith(f"VehicleCleared.v1 {field}: ")


def test_a_nested_field_path_is_dotted() -> None:
    payload = json.loads(partner.event_json(EXPECTED_ARRIVAL))
    payload["goods"][0]["hs_code"] = "fruit"
    header = {**HEADER, "cty": "ExpectedArrival.v1"}
    err = refusal(forged(payload, header, type="ExpectedArrival.v1", message_id=EXPECTED_ARRIVAL.event_id))
    assert (err.reason_code, err.field) == (RefusalCode.SCHEMA_INVALID, "goods.0.hs_code")


def test_a_message_for_another_gate_is_refused() -> None:
    # the envelope addressed elsewhere
    assert refusal(example_message(), to_gate="dongxing").reason_code == RefusalCode.WRONG_RECIPIENT
    # the envelope rewritten to reach us, the signed event still for Hekou
    message = {**example_message().model_dump(mode="json"), "to_gate": "dongxing"}
    err = refusal(message, to_gate="dongxing")
    assert err.reason_code == RefusalCode.WRONG_RECIPIENT and "signed event" in err.detail


def test_a_message_signed_as_another_sender_is_refused() -> None:
    err = refusal(example_message(), expected_from_gate="mongcai")
    assert err.reason_code == RefusalCode.WRONG_SENDER


@pytest.mark.parametrize(
    "change", [{"from_gate": "mongcai"}, {"message_id": "kimthanh2-vc-other"}], ids=["from_gate", "message_id"]
)
def test_an_envelope_that_does_not_repeat_the_signed_event_is_refused(change: dict[str, str]) -> None:
    err = refusal({**example_message().model_dump(mode="json"), **change})
    assert err.reason_code == RefusalCode.ENVELOPE_MISMATCH


def test_open_event_checks_detail_type_and_source() -> None:
    detail = example_message().model_dump(mode="json")
    good = {"source": "smartgate.partner.kimthanh2", "detail-type": "VehicleCleared.v1", "detail": detail}
    with pytest.raises(PartnerMessageRefused) as err:
        open_event({**good, "detail-type": "VehicleDeparted.v1"}, KEYS, "hekou")
    assert err.value.reason_code == RefusalCode.TYPE_MISMATCH
    with pytest.raises(PartnerMessageRefused) as err:
        open_event({**good, "source": "smartgate.partner.mongcai"}, KEYS, "hekou")
    assert err.value.reason_code == RefusalCode.ENVELOPE_MISMATCH
    with pytest.raises(PartnerMessageRefused) as err:
        open_event({k: v for k, v in good.items() if k != "detail"}, KEYS, "hekou")
    assert err.value.reason_code == RefusalCode.MALFORMED


def test_every_refusal_code_is_reachable_and_printed_with_its_detail() -> None:
    # (each has its own test above; this keeps the list and the DLQ's vocabulary in step)
    assert {code.value for code in RefusalCode} == {
        "malformed",
        "unknown_type_or_version",
        "unknown_key",
        "bad_signature",
        "type_mismatch",
        "schema_invalid",
        "wrong_recipient",
        "wrong_sender",
        "envelope_mismatch",
    }
    err = refusal(example_message(), to_gate="dongxing")
    assert str(err) == f"wrong_recipient: {err.detail}"


def test_capacity_from_the_partner_opens_with_the_partners_keys_only() -> None:
    hekou_key = Ed25519PrivateKey.generate()
    hekou_keys = {"hekou-2026-1": hekou_key.public_key()}
    message = sign(CAPACITY_PUBLISHED, "hekou-2026-1", hekou_key)

    assert partner.open(message, hekou_keys, "kimthanh2", "hekou") == CAPACITY_PUBLISHED
    # Mong Cai holds Dongxing's keys: a Hekou message is not one of theirs
    dongxing_keys = {"dongxing-2026-1": Ed25519PrivateKey.generate().public_key()}
    with pytest.raises(PartnerMessageRefused) as err:
        partner.open(message, dongxing_keys, "kimthanh2", "hekou")
    assert err.value.reason_code == RefusalCode.UNKNOWN_KEY


def test_base64url_has_no_padding_and_refuses_other_alphabets() -> None:
    assert b64url_encode(b"\xfb\xff") == "-_8"
    assert b64url_decode("-_8", "x") == b"\xfb\xff"
    for bad in ["+/8", "-_8=", "a b"]:
        with pytest.raises(ValueError):
            b64url_decode(bad, "x")
    assert base64.urlsafe_b64decode("-_8=") == b"\xfb\xff"
