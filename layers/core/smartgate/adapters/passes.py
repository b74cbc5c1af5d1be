"""Signing and verifying crossing passes with Ed25519 (``cryptography``): the private key stays in the
cloud (a stack parameter locally; Secrets Manager or KMS when deployed), lanes and the ingest function
verify with public keys only, chosen by the token's key id so keys can rotate."""

from __future__ import annotations

import base64
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from smartgate.domain.clearance import PassCheck
from smartgate.domain.passes import (
    PREFIX,
    MalformedPass,
    PassClaims,
    b64,
    check_claims,
    encode_claims,
    read_claims,
    split_token,
)


def private_key(seed_b64: str) -> Ed25519PrivateKey:
    seed = base64.b64decode(seed_b64)
    if len(seed) != 32:
        raise ValueError("a pass signing key is 32 bytes (base64)")
    return Ed25519PrivateKey.from_private_bytes(seed)


class PassSigner:
    def __init__(self, key_id: str, key: Ed25519PrivateKey) -> None:
        self.key_id = key_id
        self.key = key

    def issue(self, claims: PassClaims) -> str:
        signed = f"{PREFIX}.{self.key_id}.{encode_claims(claims)}"
        return f"{signed}.{b64(self.key.sign(signed.encode()))}"

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {self.key_id: self.key.public_key()}


class Ed25519PassVerifier:
    def __init__(self, public_keys: dict[str, Ed25519PublicKey]) -> None:
        self.public_keys = public_keys

    def check(self, token: str, gate_id: str, direction: str, at: datetime) -> PassCheck:
        try:
            key_id, signed, signature = split_token(token)
            key = self.public_keys.get(key_id)
            if key is None:
                return PassCheck(False, f"it is signed with an unknown key {key_id!r}")
            try:
                key.verify(signature, signed.encode())
            except InvalidSignature:
                return PassCheck(False, "its signature does not verify (forged or altered)")
            return check_claims(read_claims(token), gate_id, direction, at)
        except MalformedPass as err:
            return PassCheck(False, str(err))
