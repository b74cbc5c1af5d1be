"""The crossing pass: a compact signed token a lane can check offline, and what it claims.

``SG1.<key id>.<claims>.<signature>``: the claims are compact JSON (booking, plate key, gate,
direction, validity window as epoch seconds), base64url without padding; the signature covers
``SG1.<key id>.<claims>`` and is made with the cloud's private key (Ed25519; see
``smartgate.adapters.passes``). This module only encodes and decodes and checks what the claims say;
signing and verifying are the adapter's.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smartgate.domain.clearance import PassCheck
from smartgate.schemas import Direction

PREFIX = "SG1"


class PassClaims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    booking_id: Annotated[str, Field(alias="b", min_length=1, max_length=128)]
    plate_key: Annotated[str, Field(alias="p", min_length=1, max_length=20)]
    gate_id: Annotated[str, Field(alias="g", min_length=1, max_length=128)]
    direction: Annotated[Direction, Field(alias="d")]
    not_before: Annotated[int, Field(alias="nbf")]
    not_after: Annotated[int, Field(alias="exp")]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode_claims(claims: PassClaims) -> str:
    return b64(json.dumps(claims.model_dump(by_alias=True, mode="json"), separators=(",", ":")).encode())


class MalformedPass(ValueError):
    pass


def split_token(token: str) -> tuple[str, str, bytes]:
    """(key id, signed text, signature) of a token; MalformedPass when it is not one."""
    parts = token.strip().split(".")
    if len(parts) != 4 or parts[0] != PREFIX:
        raise MalformedPass("not a Smart Gate pass (SG1.<key>.<claims>.<signature>)")
    try:
        signature = unb64(parts[3])
    except ValueError as err:
        raise MalformedPass("the signature is not base64url") from err
    return parts[1], ".".join(parts[:3]), signature


def read_claims(token: str) -> PassClaims:
    try:
        raw = json.loads(unb64(token.strip().split(".")[2]))
        return PassClaims.model_validate(raw)
    except (ValueError, IndexError, ValidationError) as err:
        raise MalformedPass(f"the claims cannot be read: {err}") from err


def check_claims(claims: PassClaims, gate_id: str, direction: str, at: datetime) -> PassCheck:
    """What the claims say against where and when the pass was shown (the signature checked already)."""
    when = int(at.astimezone(UTC).timestamp())
    if claims.gate_id != gate_id:
        return PassCheck(False, f"it is for gate {claims.gate_id}, not {gate_id}", claims.booking_id,
                         claims.plate_key)
    if claims.direction.value != direction:
        return PassCheck(False, f"it is for {claims.direction.value}, this lane is {direction}",
                         claims.booking_id, claims.plate_key)
    problem = None
    if when < claims.not_before:
        problem = f"it is valid from {datetime.fromtimestamp(claims.not_before, UTC):%Y-%m-%d %H:%M}Z"
    elif when > claims.not_after:
        problem = f"it expired at {datetime.fromtimestamp(claims.not_after, UTC):%Y-%m-%d %H:%M}Z"
    return PassCheck(True, problem, claims.booking_id, claims.plate_key, in_window=problem is None)
