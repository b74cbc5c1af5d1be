"""Ed25519 keys as the stack passes them around: a private key as base64 of its 32-byte seed, public keys
as ``"key-1=<base64 32 bytes>,key-2=…"`` (several while keys rotate). Used for crossing passes and
barrier commands; lanes get public keys only."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def private_key(seed_b64: str, what: str = "signing key") -> Ed25519PrivateKey:
    seed = base64.b64decode(seed_b64)
    if len(seed) != 32:
        raise ValueError(f"a {what} is 32 bytes (base64)")
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_keys_from(text: str, what: str = "public key") -> dict[str, Ed25519PublicKey]:
    """``"key-1=<base64 32 bytes>,key-2=…"`` as keys by id; ValueError naming the bad item."""
    keys: dict[str, Ed25519PublicKey] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, value = item.partition("=")
        try:
            raw = base64.b64decode(value.strip(), validate=True) if sep else b""
        except ValueError:  # binascii.Error: not base64
            raw = b""
        if not key_id.strip() or len(raw) != 32:
            raise ValueError(f"a {what} is key_id=<base64 of 32 bytes>, got {item[:40]!r}")
        keys[key_id.strip()] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def public_keys_by_gate(text: str, what: str = "partner public key") -> dict[str, dict[str, Ed25519PublicKey]]:
    """``"hekou:hk-1=<base64>,dongxing:dx-1=<base64>,…"`` as each gate's keys by id, so that a message is
    checked only against the keys of the gate it claims to come from; ValueError naming the bad item."""
    by_gate: dict[str, dict[str, Ed25519PublicKey]] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        gate, sep, key = item.partition(":")
        if not sep or not gate.strip() or "=" in gate or not key.strip():
            raise ValueError(f"a {what} is gate:key_id=<base64 of 32 bytes>, got {item[:40]!r}")
        by_gate.setdefault(gate.strip(), {}).update(public_keys_from(key, what))
    return by_gate


def public_text(keys: dict[str, Ed25519PublicKey]) -> str:
    """The text form of public keys (what a lane's configuration holds)."""
    return ",".join(f"{k}={base64.b64encode(v.public_bytes_raw()).decode()}" for k, v in keys.items())
