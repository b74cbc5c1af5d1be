"""Where face data is kept: FacesTable (:class:`DynamoFaceStore`), encrypted under the stack's face key
(:mod:`smartgate.facekey`); :class:`InMemoryFaceStore` for tests and tools."""

from __future__ import annotations

import threading
from datetime import datetime

from pynamodb.attributes import BinaryAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import DeleteError
from pynamodb.models import Model

from smartgate.adapters.dynamodb import _bind
from smartgate.domain.biometrics import Consent, FaceRecord, subject


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


class _FaceItem(Model):
    subject = UnicodeAttribute(hash_key=True)  # face#<company>#<driver>
    company_id = UnicodeAttribute()
    driver_id = UnicodeAttribute()
    consent = UnicodeAttribute()  # JSON
    enrolled_at = UnicodeAttribute()
    ciphertext = BinaryAttribute(legacy_encoding=False)
    model = UnicodeAttribute()
    expires_at = TTLAttribute()


class DynamoFaceStore:
    """One row per enrolled driver (FacesTable): the consent and the encrypted embedding, never a photo."""

    def __init__(self, table_name: str, region: str) -> None:
        self.items = _bind(_FaceItem, table_name, region)

    def get(self, company_id: str, driver_id: str) -> FaceRecord | None:
        try:
            row = self.items.get(subject(company_id, driver_id), consistent_read=True)
        except self.items.DoesNotExist:
            return None
        return FaceRecord(
            row.company_id,
            row.driver_id,
            Consent.model_validate_json(row.consent),
            datetime.fromisoformat(row.enrolled_at),
            row.expires_at,
            bytes(row.ciphertext),
            row.model,
        )

    def put(self, record: FaceRecord) -> None:
        self.items(
            subject(record.company_id, record.driver_id),
            company_id=record.company_id,
            driver_id=record.driver_id,
            consent=record.consent.model_dump_json(),
            enrolled_at=record.enrolled_at.isoformat(),
            ciphertext=record.ciphertext,
            model=record.model,
            expires_at=record.expires_at,
        ).save()

    def delete(self, company_id: str, driver_id: str) -> bool:
        try:
            self.items(subject(company_id, driver_id)).delete(condition=self.items.subject.exists())
        except DeleteError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True
