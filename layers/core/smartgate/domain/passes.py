"""The crossing pass: a compact signed token a lane can check offline, and what it claims.

``SG2:`` + Base45 (RFC 9285) of a small binary record — version, key id, booking, plate key, gate,
direction, validity window (minutes since 2020), then the 64-byte Ed25519 signature over everything
before it. Base45 uses only the characters of a QR code's alphanumeric mode, so a pass of a typical
booking (about 110 bytes) fits a version 7 QR code (45 × 45 modules), easy to scan off a phone screen
in sunlight. This module encodes, decodes, verifies (public keys only: what a lane holds) and checks the claims;
signing is the cloud adapter's (``smartgate.adapters.passes``).
"""

from __future__ import annotations

import struct
from datetime import UTC, datetime, timedelta
from typing import Annotated

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smartgate import keys
from smartgate.domain.clearance import PassCheck
from smartgate.schemas import Direction

PREFIX = "SG2:"
VERSION = 2
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
SIGNATURE_BYTES = 64
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_INDEX = {ch: i for i, ch in enumerate(_ALPHABET)}
_DIRECTIONS = [Direction.VN_TO_CN, Direction.CN_TO_VN]


class PassClaims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    booking_id: Annotated[str, Field(min_length=1, max_length=64)]
    plate_key: Annotated[str, Field(min_length=1, max_length=20)]
    gate_id: Annotated[str, Field(min_length=1, max_length=64)]
    direction: Direction
    not_before: int = Field(description="epoch seconds (kept to the minute)")
    not_after: int = Field(description="epoch seconds (kept to the minute)")


class MalformedPass(ValueError):
    pass


# --------------------------------------------------------------------------- Base45 (RFC 9285)


def b45encode(data: bytes) -> str:
    out = []
    for i in range(0, len(data) - 1, 2):
        n = data[i] * 256 + data[i + 1]
        c, n = n % 45, n // 45
        d, e = n % 45, n // 45
        out += [_ALPHABET[c], _ALPHABET[d], _ALPHABET[e]]
    if len(data) % 2:
        n = data[-1]
        out += [_ALPHABET[n % 45], _ALPHABET[n // 45]]
    return "".join(out)


def b45decode(text: str) -> bytes:
    try:
        values = [_INDEX[ch] for ch in text]
    except KeyError as err:
        raise MalformedPass(f"{err.args[0]!r} is not a Base45 character") from err
    if len(values) % 3 == 1:
        raise MalformedPass("the token has a length Base45 never makes")
    out = bytearray()
    for i in range(0, len(values), 3):
        chunk = values[i : i + 3]
        if len(chunk) == 3:
            n = chunk[0] + chunk[1] * 45 + chunk[2] * 45 * 45
            if n > 0xFFFF:
                raise MalformedPass("the token is not Base45")
            out += n.to_bytes(2, "big")
        else:
            n = chunk[0] + chunk[1] * 45
            if n > 0xFF:
                raise MalformedPass("the token is not Base45")
            out.append(n)
    return bytes(out)


# --------------------------------------------------------------------------- the record


def _field(value: str) -> bytes:
    raw = value.encode()
    if len(raw) > 255:
        raise ValueError(f"{value!r} is too long for a pass")
    return bytes([len(raw)]) + raw


def _minutes(epoch_seconds: int) -> int:
    return max(0, (epoch_seconds - int(EPOCH.timestamp())) // 60)


def signed_part(key_id: str, claims: PassClaims) -> bytes:
    """The bytes the signature covers (all of the record but the signature)."""
    return (
        bytes([VERSION])
        + _field(key_id)
        + _field(claims.booking_id)
        + _field(claims.plate_key)
        + _field(claims.gate_id)
        + bytes([_DIRECTIONS.index(claims.direction)])
        + struct.pack(">II", _minutes(claims.not_before), _minutes(claims.not_after))
    )


def encode_token(key_id: str, claims: PassClaims, signature: bytes) -> str:
    if len(signature) != SIGNATURE_BYTES:
        raise ValueError("an Ed25519 signature is 64 bytes")
    return PREFIX + b45encode(signed_part(key_id, claims) + signature)


def decode_token(token: str) -> tuple[str, PassClaims, bytes, bytes]:
    """(key id, claims, signed bytes, signature) of a token; MalformedPass when it is not one."""
    token = token.strip()
    if not token.startswith(PREFIX):
        raise MalformedPass(f"not a Smart Gate pass (it starts {token[:4]!r}, not {PREFIX!r})")
    raw = b45decode(token[len(PREFIX) :])
    if len(raw) < 1 + SIGNATURE_BYTES or raw[0] != VERSION:
        raise MalformedPass("not a version 2 pass")
    body, signature = raw[:-SIGNATURE_BYTES], raw[-SIGNATURE_BYTES:]
    at = 1
    fields = []
    try:
        for _ in range(4):
            size = body[at]
            fields.append(body[at + 1 : at + 1 + size].decode())
            if len(fields[-1].encode()) != size:
                raise MalformedPass("the pass is cut short")
            at += 1 + size
        direction = _DIRECTIONS[body[at]]
        start, end = struct.unpack(">II", body[at + 1 : at + 9])
    except (IndexError, UnicodeDecodeError, struct.error) as err:
        raise MalformedPass("the pass's record cannot be read") from err
    if at + 9 != len(body):
        raise MalformedPass("the pass's record has bytes left over")
    key_id, booking_id, plate_key, gate_id = fields
    epoch = int(EPOCH.timestamp())
    try:
        claims = PassClaims(
            booking_id=booking_id,
            plate_key=plate_key,
            gate_id=gate_id,
            direction=direction,
            not_before=epoch + start * 60,
            not_after=epoch + end * 60,
        )
    except ValidationError as err:
        raise MalformedPass(f"the pass's claims are not valid: {err}") from err
    return key_id, claims, body, signature


def check_claims(claims: PassClaims, gate_id: str, direction: str, at: datetime) -> PassCheck:
    """What the claims say against where and when the pass was shown (the signature checked already)."""
    when = int(at.astimezone(UTC).timestamp())
    if claims.gate_id != gate_id:
        return PassCheck(False, f"it is for gate {claims.gate_id}, not {gate_id}", claims.booking_id, claims.plate_key)
    if claims.direction.value != direction:
        return PassCheck(
            False, f"it is for {claims.direction.value}, this lane is {direction}", claims.booking_id, claims.plate_key
        )
    problem = None
    if when < claims.not_before:
        problem = f"it is valid from {datetime.fromtimestamp(claims.not_before, UTC):%Y-%m-%d %H:%M}Z"
    elif when > claims.not_after:
        problem = f"it expired at {datetime.fromtimestamp(claims.not_after, UTC):%Y-%m-%d %H:%M}Z"
    return PassCheck(True, problem, claims.booking_id, claims.plate_key, in_window=problem is None)


def validity(slot_start: datetime, slot_end: datetime, grace: timedelta) -> tuple[int, int]:
    """The validity window of a booking's pass: its slot with ``grace`` either side, in epoch seconds."""
    return int((slot_start - grace).timestamp()), int((slot_end + grace).timestamp())


def public_keys_from(text: str) -> dict[str, Ed25519PublicKey]:
    """``"key-1=<base64 32 bytes>,key-2=…"`` (what lanes and the ingest function are given) as keys by id."""
    found = keys.public_keys_from(text, "pass public key")
    if not found:
        raise ValueError("no pass public key given")
    return found


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
