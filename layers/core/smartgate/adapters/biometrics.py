"""Where face data is kept: encrypted by KMS (:class:`KmsFaceCipher`) under the stack's face key, with the
driver and company as encryption context (CloudTrail records each decrypt with it, and a blob copied to
another driver's record does not open); :class:`InMemoryFaceStore` for tests and tools."""

from __future__ import annotations

import threading
from typing import Any

from botocore.exceptions import ClientError

from smartgate.domain.biometrics import FaceRecord


class FaceKeyError(RuntimeError):
    pass


class KmsFaceCipher:
    """Encrypt / decrypt a face embedding (512 bytes: under KMS's 4 KB limit, so no data key is needed)."""

    def __init__(self, kms: Any, key_id: str) -> None:
        self.kms = kms
        self.key_id = key_id

    def encrypt(self, plaintext: bytes, context: dict[str, str]) -> bytes:
        try:
            reply = self.kms.encrypt(KeyId=self.key_id, Plaintext=plaintext, EncryptionContext=context)
        except ClientError as err:
            raise FaceKeyError(f"the face key {self.key_id} refused to encrypt: {err}") from err
        return bytes(reply["CiphertextBlob"])

    def decrypt(self, ciphertext: bytes, context: dict[str, str]) -> bytes:
        try:
            reply = self.kms.decrypt(KeyId=self.key_id, CiphertextBlob=ciphertext, EncryptionContext=context)
        except ClientError as err:
            raise FaceKeyError(f"the face data did not decrypt for {context.get('driver_id')}: {err}") from err
        return bytes(reply["Plaintext"])


class InMemoryFaceStore:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], FaceRecord] = {}
        self._lock = threading.Lock()

    def get(self, company_id: str, driver_id: str) -> FaceRecord | None:
        return self._rows.get((company_id, driver_id))

    def put(self, record: FaceRecord) -> None:
        with self._lock:
            self._rows[(record.company_id, record.driver_id)] = record

    def delete(self, company_id: str, driver_id: str) -> bool:
        with self._lock:
            return self._rows.pop((company_id, driver_id), None) is not None
