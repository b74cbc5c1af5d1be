"""Signing crossing passes with Ed25519 (``cryptography``) and drawing them as QR codes: the private key
stays in the cloud (a stack parameter locally; Secrets Manager or KMS when deployed). Verifying is
:class:`smartgate.domain.passes.Ed25519PassVerifier`, shared with the lanes, which hold public keys only."""

from __future__ import annotations

import io

import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from smartgate import keys
from smartgate.domain.passes import PassClaims, encode_token, signed_part


def private_key(seed_b64: str) -> Ed25519PrivateKey:
    return keys.private_key(seed_b64, "pass signing key")


class PassSigner:
    def __init__(self, key_id: str, key: Ed25519PrivateKey) -> None:
        self.key_id = key_id
        self.key = key

    def issue(self, claims: PassClaims) -> str:
        return encode_token(self.key_id, claims, self.key.sign(signed_part(self.key_id, claims)))

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {self.key_id: self.key.public_key()}


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
