"""Crossing passes: compact (a low QR version), verifiable offline with the public key only, and any
change, expiry, other gate or unknown key refused."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from smartgate.adapters.passes import PassSigner, private_key, qr_version
from smartgate.domain.passes import (
    PREFIX,
    Ed25519PassVerifier,
    PassClaims,
    b45decode,
    b45encode,
    decode_token,
    encode_token,
    public_keys_from,
)
from smartgate_infra.stack import load_template

KEY = "kU5ATyWlL/WKw+EGUTnKtJBfyRDiPBzMkrWaSDtM+XI="
OTHER = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CLAIMS = PassClaims(
    booking_id="BK-KT2-0001",
    plate_key="24C12345",
    gate_id="kimthanh2",
    direction="VN_TO_CN",
    not_before=int((AT - timedelta(hours=2)).timestamp()),
    not_after=int((AT + timedelta(hours=2)).timestamp()),
)
signer = PassSigner("local-1", private_key(KEY))
lane = Ed25519PassVerifier(signer.public_keys())  # a lane holds the public key only


def test_a_pass_verifies_offline_and_says_what_it_is_for() -> None:
    token = signer.issue(CLAIMS)
    check = lane.check(token, "kimthanh2", "VN_TO_CN", AT)
    assert check.valid and check.in_window and check.booking_id == "BK-KT2-0001" and check.plate == "24C12345"


def test_a_pass_is_small_enough_for_a_low_qr_version() -> None:
    token = signer.issue(CLAIMS.model_copy(update={"booking_id": "BK-20261203-004217", "plate_key": "云A88K21"}))
    assert token.startswith(PREFIX) and len(token) < 200
    assert qr_version(token) <= 8


@pytest.mark.parametrize("position", range(len(PREFIX), 180, 7))
def test_one_changed_character_is_refused(position: int) -> None:
    token = signer.issue(CLAIMS)
    if position >= len(token):
        return
    ch = token[position]
    changed = token[:position] + ("B" if ch != "B" else "C") + token[position + 1 :]
    assert not lane.check(changed, "kimthanh2", "VN_TO_CN", AT).valid


def test_expired_early_other_gate_other_direction_unknown_key_and_garbage() -> None:
    token = signer.issue(CLAIMS)
    late = lane.check(token, "kimthanh2", "VN_TO_CN", AT + timedelta(hours=3))
    assert late.valid and not late.in_window and late.problem and "expired" in late.problem
    early = lane.check(token, "kimthanh2", "VN_TO_CN", AT - timedelta(hours=3))
    assert not early.in_window and "valid from" in (early.problem or "")
    gate = lane.check(token, "mongcai", "VN_TO_CN", AT)
    assert not gate.valid and gate.problem == "it is for gate kimthanh2, not mongcai"
    assert not lane.check(token, "kimthanh2", "CN_TO_VN", AT).valid
    stranger = PassSigner("other-1", private_key(OTHER)).issue(CLAIMS)
    assert lane.check(stranger, "kimthanh2", "VN_TO_CN", AT).problem == "it is signed with an unknown key 'other-1'"
    impostor = PassSigner("local-1", private_key(OTHER)).issue(CLAIMS)  # our key id, another key
    assert "does not verify" in (lane.check(impostor, "kimthanh2", "VN_TO_CN", AT).problem or "")
    for junk in ("", "SG2:", "SG2:!!!", "hello", "SG1.local-1.abc.def", PREFIX + b45encode(b"\x02" + b"\x00" * 70)):
        assert not lane.check(junk, "kimthanh2", "VN_TO_CN", AT).valid


def test_claims_changed_under_the_same_signature_are_refused() -> None:
    key_id, claims, _, signature = decode_token(signer.issue(CLAIMS))
    forged = encode_token(key_id, claims.model_copy(update={"plate_key": "29C99999"}), signature)
    assert "does not verify" in (lane.check(forged, "kimthanh2", "VN_TO_CN", AT).problem or "")


@given(st.binary(max_size=300))
def test_base45_round_trips(data: bytes) -> None:
    assert b45decode(b45encode(data)) == data


def test_base45_is_the_rfc_9285_alphabet() -> None:
    assert b45encode(b"AB") == "BB8" and b45encode(b"Hello!!") == "%69 VD92EX0"


def test_public_keys_are_read_as_lanes_are_given_them() -> None:
    current, old = PassSigner("k2", private_key(KEY)), PassSigner("k1", private_key(OTHER))
    text = ",".join(f"{s.key_id}={_raw(s)}" for s in (old, current))
    verifier = Ed25519PassVerifier(public_keys_from(text))
    token = current.issue(CLAIMS)
    assert verifier.check(token, CLAIMS.gate_id, CLAIMS.direction, AT).valid
    for bad in ("", "k1", "k1=", "=AAAA", "k1=" + base64.b64encode(b"short").decode()):
        with pytest.raises(ValueError, match="pass public key"):
            public_keys_from(bad)


def test_only_the_api_function_can_read_the_pass_signing_key() -> None:
    template = load_template()
    for fn in template.of_type("AWS::Serverless::Function"):
        env = (fn.properties.get("Environment") or {}).get("Variables") or {}
        assert "PASS_SIGNING_KEY" not in env, fn.logical_id
        if fn.logical_id == "ApiFunction":
            assert env["PASS_SIGNING_SECRET"] and env["PASS_PUBLIC_KEYS"]
        else:
            assert "PASS_SIGNING_SECRET" not in env, fn.logical_id
    secret = template.resources["PassSigningSecret"]
    public = public_keys_from(str(template.parameters["PassPublicKeys"]))
    signer = PassSigner(str(template.parameters["PassKeyId"]), private_key(str(secret.properties["SecretString"])))
    assert Ed25519PassVerifier(public).check(signer.issue(CLAIMS), CLAIMS.gate_id, CLAIMS.direction, AT).valid


def _raw(signer: PassSigner) -> str:
    key = signer.public_keys()[signer.key_id]
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
