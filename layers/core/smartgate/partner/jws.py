"""Compact JWS (RFC 7515) with EdDSA over Ed25519 (RFC 8037): just what the partner exchange needs.

``BASE64URL(header) "." BASE64URL(payload) "." BASE64URL(signature)``, base64url without padding; the
signature is Ed25519 over the ASCII of the first two parts. Only ``alg: EdDSA`` is accepted (never
``none``, never an HMAC), and a header naming ``crit`` extensions is refused (we understand none).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALG = "EdDSA"
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class JwsError(ValueError):
    """A JWS that cannot be read (``malformed``) or whose signature does not verify (``bad_signature``)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, what: str) -> bytes:
    if not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise JwsError("malformed", f"the {what} is not base64url without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as err:
        raise JwsError("malformed", f"the {what} is not base64url: {err}") from err


def _header_json(header: dict[str, Any]) -> bytes:
    return json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()


def sign_compact(header: dict[str, Any], payload: bytes, key: Ed25519PrivateKey) -> str:
    """The compact JWS of ``payload``; ``header`` must say ``alg: EdDSA``."""
    if header.get("alg") != ALG:
        raise ValueError(f"alg must be {ALG}")
    signing_input = f"{b64url_encode(_header_json(header))}.{b64url_encode(payload)}"
    signature = key.sign(signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


@dataclass(frozen=True)
class Compact:
    """A compact JWS split into its parts, its header decoded; the signature not yet checked."""

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    def verify(self, key: Ed25519PublicKey) -> None:
        """Raise :class:`JwsError` (``bad_signature``) unless ``key`` made the signature."""
        if len(self.signature) != 64:
            raise JwsError("bad_signature", f"an Ed25519 signature is 64 bytes, got {len(self.signature)}")
        try:
            key.verify(self.signature, self.signing_input)
        except InvalidSignature as err:
            raise JwsError(
                "bad_signature", f"the signature does not verify with key {self.header.get('kid')!r}"
            ) from err


def parse_compact(token: str) -> Compact:
    """Split and decode a compact JWS; :class:`JwsError` ``malformed`` when it is not one, ``bad_signature``
    when its ``alg`` is not EdDSA (nothing else is verified)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise JwsError("malformed", f"a compact JWS has 3 parts separated by '.', got {len(parts)}")
    raw_header = b64url_decode(parts[0], "JWS header")
    try:
        header = json.loads(raw_header)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise JwsError("malformed", f"the JWS header is not JSON: {err}") from err
    if not isinstance(header, dict):
        raise JwsError("malformed", "the JWS header is not a JSON object")
    if header.get("alg") != ALG:
        raise JwsError("bad_signature", f"alg {header.get('alg')!r} is not {ALG}: not verified")
    if "crit" in header:
        raise JwsError("malformed", f"crit {header['crit']!r}: no JWS extension is understood")
    return Compact(
        header=header,
        payload=b64url_decode(parts[1], "JWS payload"),
        signing_input=f"{parts[0]}.{parts[1]}".encode("ascii"),
        signature=b64url_decode(parts[2], "JWS signature"),
    )
