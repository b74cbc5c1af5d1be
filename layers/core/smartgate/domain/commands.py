"""Barrier commands are signed with Ed25519: the private key stays in the cloud, a lane holds public keys
only (by key id, so keys can rotate), so no lane — nor anyone who took a lane's configuration — can forge a
command for any lane."""

from __future__ import annotations

import base64

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from smartgate.keys import private_key, public_keys_from
from smartgate.schemas import BarrierCommand


class CommandSigner:
    """The cloud's side: signs every barrier command it sends (``key_id`` names the key)."""

    def __init__(self, key_id: str, key: Ed25519PrivateKey) -> None:
        self.key_id = key_id
        self.key = key

    @classmethod
    def from_seed(cls, key_id: str, seed_b64: str) -> CommandSigner:
        return cls(key_id, private_key(seed_b64, "command signing key"))

    def sign(self, command: BarrierCommand) -> BarrierCommand:
        named = command.model_copy(update={"key_id": self.key_id, "signature": ""})
        signature = self.key.sign(named.signing_payload())
        return named.model_copy(update={"signature": base64.urlsafe_b64encode(signature).decode()})

    def keys(self) -> CommandKeys:
        return CommandKeys({self.key_id: self.key.public_key()})


class CommandKeys:
    """A lane's side: the public keys it accepts commands signed with."""

    def __init__(self, public_keys: dict[str, Ed25519PublicKey]) -> None:
        self.public_keys = public_keys

    @classmethod
    def from_text(cls, text: str) -> CommandKeys:
        return cls(public_keys_from(text, "command public key"))

    def valid(self, command: BarrierCommand) -> bool:
        key = self.public_keys.get(command.key_id)
        if key is None or not command.signature:
            return False
        try:
            key.verify(base64.urlsafe_b64decode(command.signature.encode()), command.signing_payload())
        except (InvalidSignature, ValueError):
            return False
        return True
