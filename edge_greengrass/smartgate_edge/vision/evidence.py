"""Evidence images (plate and container crops) stored under a key the detection message references.

Key: ``evidence/{gate}/{lane}/{YYYY}/{MM}/{DD}/{event_id}-{kind}.jpg``, the date being the UTC day the
frame was captured (``captured_at``; the upload day when not given). The same event gives the same
key, so an upload repeated after a failure or a restart overwrites the same object (idempotent).

- :class:`S3EvidenceStore`: boto3 ``put_object`` (JPEG quality 90, ``image/jpeg``, SSE-S3 AES256).
  boto3 finds the local emulator through ``AWS_ENDPOINT_URL``, and the Greengrass Token Exchange
  Service credentials through the usual credential chain; boto3 is imported only here.
- :class:`LocalEvidenceStore`: the same keys as files under a folder, for runs without a bucket.

Every failure (bad ids, an image that cannot be encoded, S3 or disk errors) is an :class:`EvidenceError`
naming the key, so the vision loop catches one exception type and goes on.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from smartgate.schemas import utc_now
from smartgate_edge.transport import kv

log = logging.getLogger("smartgate_edge.vision.evidence")

JPEG_QUALITY = 90
CONTENT_TYPE = "image/jpeg"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")


class EvidenceError(RuntimeError):
    """An evidence image could not be stored; the message says which key and why."""


class EvidenceStore(Protocol):
    def put_crop(
        self,
        gate_id: str,
        lane_id: str,
        event_id: str,
        image: np.ndarray,
        kind: str = "plate",
        *,
        captured_at: datetime | None = None,
    ) -> str:
        """Store the crop; return its key. EvidenceError on any failure."""
        ...


def evidence_key(gate_id: str, lane_id: str, event_id: str, kind: str, at: datetime) -> str:
    """``evidence/{gate}/{lane}/{YYYY}/{MM}/{DD}/{event_id}-{kind}.jpg`` (UTC date); EvidenceError for bad ids."""
    for name, value in (("gate_id", gate_id), ("lane_id", lane_id), ("event_id", event_id), ("kind", kind)):
        if not isinstance(value, str) or not _SEGMENT.match(value):
            raise EvidenceError(f"{name} {value!r} cannot be part of an evidence key (letters, digits, _.:- only)")
    if at.tzinfo is None:
        raise EvidenceError(f"evidence time {at.isoformat()} has no timezone")
    day = at.astimezone(UTC)
    return f"evidence/{gate_id}/{lane_id}/{day:%Y}/{day:%m}/{day:%d}/{event_id}-{kind}.jpg"


def encode_jpeg(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    if image is None or not isinstance(image, np.ndarray) or image.size == 0:
        raise EvidenceError("empty crop: nothing to store")
    if image.dtype != np.uint8:
        image = cv2.convertScaleAbs(image)
    try:
        ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    except cv2.error as exc:
        raise EvidenceError(f"crop of shape {image.shape} cannot be encoded as JPEG: {exc}") from exc
    if not ok:
        raise EvidenceError(f"crop of shape {image.shape} cannot be encoded as JPEG")
    return buffer.tobytes()


class S3EvidenceStore:
    """Crops as JPEG objects in the evidence bucket (server-side encrypted, AES256)."""

    def __init__(self, bucket: str, region: str | None = None, client: Any = None) -> None:
        if not bucket:
            raise EvidenceError("no evidence bucket configured")
        self.bucket = bucket
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError as exc:
                raise EvidenceError("boto3 is needed to store evidence in S3 (pip install boto3)") from exc
            # Bounded: a slow uplink must not hold the lane for minutes.
            config = Config(connect_timeout=5, read_timeout=15, retries={"max_attempts": 3, "mode": "standard"})
            client = boto3.client("s3", region_name=region, config=config)
        self.client = client

    def put_crop(
        self,
        gate_id: str,
        lane_id: str,
        event_id: str,
        image: np.ndarray,
        kind: str = "plate",
        *,
        captured_at: datetime | None = None,
    ) -> str:
        key = evidence_key(gate_id, lane_id, event_id, kind, captured_at or utc_now())
        body = encode_jpeg(image)
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=key,
                Body=body,
                ContentType=CONTENT_TYPE,
                ServerSideEncryption="AES256",
                Metadata={"gate-id": gate_id, "lane-id": lane_id, "event-id": event_id, "kind": kind},
            )
        except Exception as exc:  # botocore ClientError / BotoCoreError / connection errors
            raise EvidenceError(f"cannot store s3://{self.bucket}/{key}: {exc}") from exc
        log.info(
            kv("evidence stored", bucket=self.bucket, key=key, size=len(body)),
            extra={"bucket": self.bucket, "key": key},
        )
        return key


class LocalEvidenceStore:
    """Crops as JPEG files under ``folder``, at the same relative keys as in S3 (atomic writes)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def path_of(self, key: str) -> Path:
        return self.folder / key

    def put_crop(
        self,
        gate_id: str,
        lane_id: str,
        event_id: str,
        image: np.ndarray,
        kind: str = "plate",
        *,
        captured_at: datetime | None = None,
    ) -> str:
        key = evidence_key(gate_id, lane_id, event_id, kind, captured_at or utc_now())
        body = encode_jpeg(image)
        path = self.path_of(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".jpg")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(body)
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise EvidenceError(f"cannot store evidence {path}: {exc}") from exc
        log.info(kv("evidence stored", path=str(path), size=len(body)), extra={"key": key})
        return key
