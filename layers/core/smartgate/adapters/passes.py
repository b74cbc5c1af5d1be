"""Signing and verifying crossing passes with Ed25519 (``cryptography``): the private key stays in the
cloud (a stack parameter locally; Secrets Manager or KMS when deployed), lanes and the ingest function
verify with public keys only, chosen by the pass's key id so keys can rotate."""

from __future__ import annotations

import io
from datetime import datetime

import segno
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from smartgate import keys
from smartgate.domain.clearance import PassCheck
from smartgate.domain.passes import MalformedPass, PassClaims, check_claims, decode_token, encode_token, signed_part


def private_key(seed_b64: str) -> Ed25519PrivateKey:
    return keys.private_key(seed_b64, "pass signing key")


def public_keys_from(text: str) -> dict[str, Ed25519PublicKey]:
    """``"key-1=<base64 32 bytes>,key-2=…"`` (what lanes and the ingest function are given) as keys by id."""
    found = keys.public_keys_from(text, "pass public key")
    if not found:
        raise ValueError("no pass public key given")
    return found


class PassSigner:
    def __init__(self, key_id: str, key: Ed25519PrivateKey) -> None:
        self.key_id = key_id
        self.key = key

    def issue(self, claims: PassClaims) -> str:
        return encode_token(self.key_id, claims, self.key.sign(signed_part(self.key_id, claims)))

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {self.key_id: self.key.public_key()}


class Ed25519PassVerifier:
    def __init__(self, public_keys: dict[str, Ed25519PublicKey]) -> None:
        self.public_keys = public_keys

    def check(self, token: str, gate_id: str, direction: str, at: datetime) -> PassCheck:
        try:
            key_id, claims, signed, signature = decode_token(token)
        except MalformedPass as err:
            return PassCheck(False, str(err))
        key = self.public_keys.get(key_id)
        if key is None:
            return PassCheck(False, f"it is signed with an unknown key {key_id!r}")
        try:
            key.verify(signature, signed)
        except InvalidSignature:
            return PassCheck(False, "its signature does not verify (forged or altered)")
        return check_claims(claims, gate_id, direction, at)


def qr(token: str, kind: str) -> bytes:
    """The pass as a QR code: ``png`` or ``svg``; error correction M, alphanumeric mode."""
    code = segno.make_qr(token, error="m")
    out = io.BytesIO()
    if kind == "png":
        code.save(out, kind="png", scale=8, border=4)
    else:
        code.save(out, kind="svg", scale=8, border=4, xmldecl=False, svgns=True, title="Smart Gate pass")
    return out.getvalue()


def qr_version(token: str) -> int:
    return int(segno.make_qr(token, error="m").version)
