"""The stack's face key (KMS): a face embedding encrypted with the driver and company as encryption context
(CloudTrail records each use with it, and a blob copied to another driver's record does not open). The
cloud encrypts at enrolment; a lane's cab camera only decrypts the one reference it is sent (its role may do
nothing else with the key). Here, not in ``adapters``, because the lanes carry it too."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError


class FaceKeyError(RuntimeError):
    """KMS refused (the key, the context) or could not be reached: nothing is compared then."""


class KmsFaceCipher:
    """Encrypt / decrypt a face embedding (512 bytes: under KMS's 4 KB limit, so no data key is needed)."""

    def __init__(self, kms: Any, key_id: str) -> None:
        self.kms = kms
        self.key_id = key_id

    def encrypt(self, plaintext: bytes, context: dict[str, str]) -> bytes:
        try:
            reply = self.kms.encrypt(KeyId=self.key_id, Plaintext=plaintext, EncryptionContext=context)
        except (ClientError, BotoCoreError) as err:
            raise FaceKeyError(f"the face key {self.key_id} refused to encrypt: {err}") from err
        return bytes(reply["CiphertextBlob"])

    def decrypt(self, ciphertext: bytes, context: dict[str, str]) -> bytes:
        try:
            reply = self.kms.decrypt(KeyId=self.key_id, CiphertextBlob=ciphertext, EncryptionContext=context)
        except (ClientError, BotoCoreError) as err:
            raise FaceKeyError(f"the face data did not decrypt for {context.get('driver_id')}: {err}") from err
        return bytes(reply["Plaintext"])
