"""The lane vision loop: frames in; PlateRead / ContainerRead / PassScanned and LaneHealth out.

Per frame (:meth:`LaneVision.process`): the plate reader, the QR decoder and the optional container
reader look at the image. The best plate reading of the frame (at least ``min_confidence``) becomes a
:class:`~smartgate.domain.merge.PlateObservation` for the :class:`~smartgate.domain.merge.VehicleSegmenter`;
when it reports a vehicle finished (no plate for ``gap_frames`` frames), the vehicle's observations are
merged by vote and published as one PlateRead: the crop of the best frame is stored first, its key goes
in the message, ``format_valid`` and ``confidence`` are the merge's (an invalid read is sent as invalid).
A QR payload gives one PassScanned per showing (again only after it was absent for ``gap_frames``
frames); container codes are grouped the same way and the best read of each code is published.

Health (:class:`~smartgate.schemas.LaneHealth` on ``.../health``): every ``health_interval_s`` from a
timer thread (fps, p50 inference time of the interval, camera_ok, queue depth, last fault), and at once
on a fault (corrupt frame, camera reconnect, reader error, evidence or publish failure). Faults never
stop the loop; a dead camera ends :meth:`LaneVision.run` with a final health event (camera_ok false)
and a summary whose ``exit_code`` is non-zero. Detections that cannot be published wait in a bounded
outbox (``queue_depth``) and are sent again with the next frame; with a durable outbox
(:class:`~smartgate_edge.outbox.LaneOutbox`) they are committed to it and its sender thread sends them.

The uplink may be down at start: ``transport`` None means "not connected yet" (:class:`Uplink` hands it over
with :meth:`LaneVision.attach_uplink` once it connects); detections wait meanwhile, health is logged and
dropped (a snapshot; the next one replaces it).

Local bus (:mod:`smartgate_edge.local_bus`): every detection queued for the uplink is also copied onto
the lane's local detections topic, for the barrier controller's offline clearance. The copy is best
effort, from a thread of its own: a local bus that fails or hangs is logged and never holds up the
frames or the uplink. While the barrier controller says the lane is in degraded mode (``mode``, a
:class:`~smartgate_edge.local_bus.ModeWatcher`), health messages say ``degraded``.
"""

from __future__ import annotations

import hashlib
import logging
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from smartgate import topics
from smartgate.config import ConfigError
from smartgate.domain.merge import PlateObservation, VehicleSegmenter, merge_plate_observations
from smartgate.schemas import (
    FACE_MESSAGES,
    Camera,
    ContainerRead,
    Country,
    FaceReference,
    FaceVerified,
    Identifier,
    LaneHealth,
    PassScanned,
    PlateRead,
    utc_now,
)
from smartgate_edge.local_bus import ModeWatcher, local_detections_topic
from smartgate_edge.outbox import LaneOutbox, Pressure
from smartgate_edge.transport import Transport, TransportError, kv
from smartgate_edge.vision.cab import CabFaces, FaceOutcome
from smartgate_edge.vision.evidence import EvidenceError, EvidenceStore, LocalEvidenceStore, S3EvidenceStore
from smartgate_edge.vision.faces import THRESHOLD
from smartgate_edge.vision.qr import decode_qr
from smartgate_edge.vision.sources import CameraDead, FrameSource, SourceError, SourceFault, open_source
from smartgate_edge.vision.types import ContainerReading, Frame, PlateReader, PlateReading

log = logging.getLogger("smartgate_edge.vision.component")

OUTBOX_LIMIT = 1000
LOCAL_LIMIT = 1000
DETAIL_LIMIT = 500


def _log(level: int, event: str, **fields: Any) -> None:
    log.log(level, kv(event, **fields), extra=fields)


# --------------------------------------------------------------------------- configuration


class LaneVisionConfig(BaseModel):
    """The component's settings, from the environment the recipe sets (``Setenv``), read once."""

    model_config = ConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True)

    gate_id: Identifier = Field(alias="SMARTGATE_GATE_ID")
    lane_id: Identifier = Field(alias="SMARTGATE_LANE_ID")
    source: str = Field(
        alias="SMARTGATE_SOURCE",
        min_length=1,
        description="folder:/path, video:/file, rtsp://..., camera:N, or a plain path",
    )
    camera: Camera = Field(Camera.FRONT, alias="SMARTGATE_CAMERA")
    source_loop: bool = Field(False, alias="SMARTGATE_SOURCE_LOOP")
    source_fps: float | None = Field(None, gt=0, le=120, alias="SMARTGATE_SOURCE_FPS")
    camera_max_failures: int = Field(5, ge=1, le=10_000, alias="SMARTGATE_CAMERA_MAX_FAILURES")
    camera_backoff_s: float = Field(0.5, ge=0, le=60, alias="SMARTGATE_CAMERA_BACKOFF_S")
    camera_backoff_max_s: float = Field(10.0, ge=0, le=600, alias="SMARTGATE_CAMERA_BACKOFF_MAX_S")
    min_confidence: float = Field(0.5, ge=0, le=1, alias="SMARTGATE_MIN_CONFIDENCE")
    gap_frames: int = Field(5, ge=1, le=10_000, alias="SMARTGATE_GAP_FRAMES")
    qr_enabled: bool = Field(True, alias="SMARTGATE_QR_ENABLED")
    read_containers: bool = Field(
        False,
        alias="SMARTGATE_READ_CONTAINERS",
        description="also read ISO 6346 container codes (a camera that sees the doors)",
    )
    health_interval_s: float = Field(30.0, gt=0, le=3600, alias="SMARTGATE_HEALTH_INTERVAL_S")
    fault_health_min_interval_s: float = Field(1.0, ge=0, le=3600, alias="SMARTGATE_FAULT_HEALTH_MIN_INTERVAL_S")
    stall_timeout_s: float = Field(10.0, gt=0, le=3600, alias="SMARTGATE_STALL_TIMEOUT_S")
    fault_exit_delay_s: float = Field(30.0, ge=0, le=3600, alias="SMARTGATE_FAULT_EXIT_DELAY_S")
    detections_topic: str = Field("", alias="SMARTGATE_DETECTIONS_TOPIC")
    health_topic: str = Field("", alias="SMARTGATE_HEALTH_TOPIC")
    faces_topic: str = Field("", alias="SMARTGATE_FACES_TOPIC")
    read_plates: bool = Field(True, alias="SMARTGATE_READ_PLATES", description="false for a camera on the driver only")
    check_faces: bool = Field(
        False,
        alias="SMARTGATE_CHECK_FACES",
        description="a cab camera: check the driver's face 1:1 against the booked driver's (references on .../faces)",
    )
    face_key_id: str | None = Field(
        None, alias="SMARTGATE_FACE_KEY_ID", description="the KMS key face references are decrypted with"
    )
    face_threshold: float = Field(THRESHOLD, gt=0, lt=2, alias="SMARTGATE_FACE_THRESHOLD")
    face_evidence: bool = Field(
        False, alias="SMARTGATE_FACE_EVIDENCE", description="keep the face crop of a mismatch as evidence"
    )
    evidence_bucket: str | None = Field(None, alias="SMARTGATE_EVIDENCE_BUCKET")
    evidence_dir: str = Field("evidence", alias="SMARTGATE_EVIDENCE_DIR")
    outbox_path: str | None = Field(
        None, alias="SMARTGATE_OUTBOX_PATH", description="durable store-and-forward queue (SQLite); unset: in memory"
    )
    disk_cap_mb: float = Field(1024, gt=0, alias="SMARTGATE_DISK_CAP_MB", description="outbox + local evidence")
    aws_region: str | None = Field(None, alias="AWS_REGION")
    model_threads: int = Field(2, ge=1, le=64, alias="SMARTGATE_MODEL_THREADS")

    @model_validator(mode="after")
    def _lane_topics(self) -> LaneVisionConfig:
        """Topics default to the lane's; a configured topic must be the lane's (the cloud checks they agree)."""
        expected = {
            "detections_topic": topics.detections_topic(self.gate_id, self.lane_id),
            "health_topic": topics.health_topic(self.gate_id, self.lane_id),
            "faces_topic": topics.faces_topic(self.gate_id, self.lane_id),
        }
        for name, topic in expected.items():
            configured = getattr(self, name)
            if not configured:
                setattr(self, name, topic)
            elif configured != topic:
                raise ValueError(f"{name} {configured!r} is not this lane's topic {topic!r}")
        if self.check_faces and not self.face_key_id:
            raise ValueError("SMARTGATE_FACE_KEY_ID: a cab camera needs the face key to open references with")
        if not (self.read_plates or self.check_faces or self.qr_enabled):
            raise ValueError("SMARTGATE_READ_PLATES: this camera would read nothing (no plates, passes or faces)")
        return self

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> LaneVisionConfig:
        """Settings from environment variables (empty values count as unset); ConfigError naming the variables."""
        try:
            return cls.model_validate({k: v for k, v in env.items() if v != ""})
        except ValidationError as err:
            aliases = {name: info.alias for name, info in cls.model_fields.items()}
            problems = "; ".join(
                f"{aliases.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else 'settings'}: {e['msg']}"
                for e in err.errors()
            )
            raise ConfigError(f"invalid lane vision settings: {problems}") from err


def source_from_config(config: LaneVisionConfig, stop_event: threading.Event | None = None) -> FrameSource:
    """The frame source the settings name (SourceError if it cannot be opened). With ``stop_event`` its
    waits (pacing, reconnect backoff) end as soon as the event is set, so a stop is not held up."""
    sleep: Callable[[float], object] = stop_event.wait if stop_event is not None else time.sleep
    return open_source(
        config.source,
        loop=config.source_loop,
        fps=config.source_fps,
        sleep=sleep,
        max_failures=config.camera_max_failures,
        backoff_s=config.camera_backoff_s,
        backoff_max_s=config.camera_backoff_max_s,
    )


def evidence_from_config(config: LaneVisionConfig) -> EvidenceStore:
    """S3 when an evidence bucket is configured, else files under ``evidence_dir``."""
    if config.evidence_bucket:
        return S3EvidenceStore(config.evidence_bucket, config.aws_region)
    return LocalEvidenceStore(config.evidence_dir)


def report_fault(
    transport: Transport | None,
    config: LaneVisionConfig,
    detail: str,
    *,
    camera_ok: bool,
    clock: Callable[[], datetime] = utc_now,
) -> LaneHealth:
    """One LaneHealth for a fault before the loop could start (missing model, camera that will not open).
    ``transport`` None (the uplink is not connected): logged, not sent."""
    at = clock()
    health = LaneHealth(
        event_id=_event_id("health", config.gate_id, config.lane_id, at.isoformat()),
        gate_id=config.gate_id,
        lane_id=config.lane_id,
        online=True,
        camera_ok=camera_ok,
        fps=0.0,
        inference_ms=0.0,
        queue_depth=0,
        detail=_clip(detail),
        at=at,
    )
    if transport is None:
        _log(logging.ERROR, "health not published: uplink not connected", topic=config.health_topic, detail=detail)
        return health
    try:
        transport.publish(config.health_topic, health)
    except TransportError as exc:
        _log(logging.ERROR, "health not published", topic=config.health_topic, error=exc)
    return health


class Uplink:
    """The lane's uplink: given connected at start, or :meth:`attach`-ed later by a background connect
    (:func:`smartgate_edge.transport.connect_in_background`), while the lane already reads and queues.
    :meth:`when_connected` runs a callback with the transport now or once it connects."""

    def __init__(self, transport: Transport | None = None) -> None:
        self._transport = transport
        self._listeners: list[Callable[[Transport], None]] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def transport(self) -> Transport | None:
        return self._transport

    def attach(self, transport: Transport) -> None:
        with self._lock:
            if self._closed:  # connected just as the lane stopped
                transport.close()
                return
            self._transport = transport
            listeners, self._listeners = self._listeners, []
        _log(logging.INFO, "uplink connected")
        for listener in listeners:
            listener(transport)

    def when_connected(self, listener: Callable[[Transport], None]) -> None:
        with self._lock:
            transport = self._transport
            if transport is None:
                self._listeners.append(listener)
                return
        listener(transport)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            transport, self._listeners = self._transport, []
        if transport is not None:
            transport.close()


# --------------------------------------------------------------------------- helpers


class ContainerReader(Protocol):
    def read(self, image: np.ndarray) -> list[ContainerReading]: ...


def _event_id(kind: str, *parts: str) -> str:
    """``{kind}-{32 hex}``: a stable id from the parts (same vehicle / pass / code -> same id)."""
    return f"{kind}-{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:32]}"


def _clip(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def _unit(value: float) -> float:
    return min(1.0, max(0.0, float(value)))


def _sharpness(image: np.ndarray) -> float:
    """Variance of the Laplacian: higher is sharper (used to pick the best crop among equal reads)."""
    if image is None or image.size == 0:
        return 0.0
    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def _guess_country(text: str) -> Country:
    """CN when the plate starts with a Chinese character (province), VN otherwise."""
    return Country.CN if text[:1] and "\u4e00" <= text[0] <= "\u9fff" else Country.VN


@dataclass(frozen=True)
class _FrameRead:
    captured_at: datetime
    reading: PlateReading


@dataclass
class _Showing:
    """Repeated sightings of one thing (a QR payload, a container code) until it is absent for gap frames."""

    first_index: int
    first_at: datetime
    last_index: int
    reads: list[tuple[ContainerReading, datetime]] = field(default_factory=list)


@dataclass
class _Interval:
    """Faults since the last periodic health event."""

    started: float
    faults: int = 0
    camera_faults: int = 0
    last_fault: str | None = None


@dataclass
class RunSummary:
    frames: int = 0
    vehicles: int = 0
    published: int = 0
    reader_errors: int = 0
    source_faults: int = 0
    evidence_errors: int = 0
    camera_dead: bool = False
    error: str | None = None

    @property
    def exit_code(self) -> int:
        return 1 if self.camera_dead or self.error else 0


class _LocalCopy:
    """Copies detections onto the local bus from a thread of its own, in order; at most ``limit`` wait (the
    oldest is dropped beyond). A failing or hanging bus costs the lane its offline clearance, nothing else."""

    def __init__(self, bus: Transport, topic: str, limit: int = LOCAL_LIMIT) -> None:
        self.bus = bus
        self.topic = topic
        self.limit = limit
        self._items: deque[BaseModel] = deque()
        self._busy = False
        self._cond = threading.Condition()
        threading.Thread(target=self._run, name="lane-local-bus", daemon=True).start()

    def put(self, message: BaseModel) -> None:
        with self._cond:
            if len(self._items) >= self.limit:
                dropped = self._items.popleft()
                _log(
                    logging.WARNING,
                    "local bus backlog full, oldest copy dropped",
                    topic=self.topic,
                    event_id=getattr(dropped, "event_id", None),
                )
            self._items.append(message)
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._items))
                message = self._items.popleft()
                self._busy = True
            try:
                self.bus.publish(self.topic, message)
            except Exception as exc:  # TransportError, or a bus bug: the uplink has the detection
                _log(
                    logging.WARNING,
                    "detection not put on the local bus",
                    topic=self.topic,
                    event_id=getattr(message, "event_id", None),
                    error=exc,
                )
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def wait_sent(self, timeout: float) -> bool:
        """Wait until every copy was handed to the bus (True) or ``timeout`` passed (False)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._items and not self._busy, timeout)


# --------------------------------------------------------------------------- the loop


class LaneVision:
    def __init__(
        self,
        config: LaneVisionConfig,
        reader: PlateReader | None,
        transport: Transport | None,
        evidence: EvidenceStore,
        container_reader: ContainerReader | None = None,
        clock: Callable[[], datetime] = utc_now,
        durable: LaneOutbox | None = None,
        *,
        local: Transport | None = None,
        mode: ModeWatcher | None = None,
        faces: CabFaces | None = None,
    ) -> None:
        """``reader`` None: no plates on this camera (a cab camera). ``faces``: the driver's face checks
        (:meth:`refer` hands them the cloud's references). ``transport``: the uplink, None while it is not
        connected yet (:meth:`attach_uplink`). ``durable``: every detection is committed to it before it is
        sent (store-and-forward); without it, detections wait in memory while the link is down (up to
        OUTBOX_LIMIT). ``local``: the lane's local bus, which gets a copy of every detection. ``mode``: the
        barrier controller's word on degraded mode."""
        self.config = config
        self.durable = durable
        self.mode = mode
        self._local = (
            _LocalCopy(local, local_detections_topic(config.gate_id, config.lane_id)) if local is not None else None
        )
        self.reader = reader
        self.transport = transport
        self.evidence = evidence
        self.container_reader = container_reader
        self.faces = faces
        self.clock = clock
        self.summary = RunSummary()
        self._segmenter = VehicleSegmenter(gap_frames=config.gap_frames)
        self._plate_frames: dict[int, _FrameRead] = {}
        self._passes: dict[str, _Showing] = {}
        self._containers: dict[str, _Showing] = {}
        self._outbox: deque[tuple[str, BaseModel]] = deque()
        self._lock = threading.Lock()
        self._interval = _Interval(time.monotonic())
        self._window: deque[tuple[float, float | None]] = deque()  # (when, reader ms) of the frames of the window
        self._started = time.monotonic()
        self._last_frame = self._started
        self._last_fault_health = float("-inf")
        self._camera_dead = False
        self._pressure: Pressure | None = None

    def attach_uplink(self, transport: Transport) -> None:
        """The uplink connected: detections waiting (in memory or in the durable outbox) go out now."""
        self.transport = transport
        if self.durable is not None:
            self.durable.transport = transport

    def disk_pressure(self, pressure: Pressure) -> None:
        """The outbox evicted evidence to stay under the disk cap: said on the next health message, at once."""
        with self._lock:
            self._pressure = pressure
        self._fault("disk_pressure", pressure.describe(), camera=False)

    # ---- per frame

    def process(self, frame: Frame) -> None:
        """Read one frame and publish what it completes. Never raises for a bad frame or a failing reader."""
        self.summary.frames += 1
        latency_ms: float | None = None
        if frame.image is None or frame.image.size == 0:
            self._fault("corrupt_frame", f"frame {frame.index} from {frame.source} is empty", camera=True)
            readings: list[PlateReading] = []
        else:
            started = time.perf_counter()
            readings = self._read_plates(frame) if self.reader is not None else []
            if self.faces is not None:
                self._check_faces(frame)
            latency_ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self._last_frame = time.monotonic()
            self._window.append((self._last_frame, latency_ms))
        self._feed_plates(frame, readings)
        if frame.image is not None and frame.image.size:
            if self.config.qr_enabled:
                self._read_passes(frame)
            if self.container_reader is not None:
                self._read_containers(frame)
        self._end_showings(frame.index)
        self.drain()

    def _read_plates(self, frame: Frame) -> list[PlateReading]:
        assert self.reader is not None
        try:
            return list(self.reader.read(frame.image))
        except Exception as exc:  # one bad frame or a reader bug must not stop the lane
            self.summary.reader_errors += 1
            log.debug("reader traceback", exc_info=True)
            self._fault(
                "reader_error", f"frame {frame.index} ({frame.source}): {type(exc).__name__}: {exc}", camera=False
            )
            return []

    def refer(self, _topic: str, payload: bytes) -> None:
        """A face reference from the cloud (the uplink's thread): kept for the vehicle it is for; or its
        revocation (the driver withdrew consent): dropped."""
        if self.faces is None:
            return
        try:
            message = FACE_MESSAGES.validate_json(payload)
        except ValidationError as exc:
            self._fault("face_reference", f"not a face reference: {exc.errors()[0]['msg']}", camera=False)
            return
        if isinstance(message, FaceReference):
            self.faces.refer(message)
        else:
            self.faces.revoke(message)

    def _check_faces(self, frame: Frame) -> None:
        assert self.faces is not None
        try:
            outcomes = self.faces.offer(frame.image, frame.captured_at)
        except Exception as exc:  # a detector or embedder error on one frame: report, go on
            log.debug("face check traceback", exc_info=True)
            self._fault("face_error", f"frame {frame.index}: {type(exc).__name__}: {exc}", camera=False)
            return
        for outcome in outcomes:
            self._publish_face(outcome)

    def _publish_face(self, outcome: FaceOutcome) -> None:
        event_id = _event_id(
            "face", self.config.gate_id, self.config.lane_id, outcome.reference.booking_id, outcome.first_at.isoformat()
        )
        evidence_key = self._store_crop(event_id, outcome.crop, "face", outcome.captured_at)
        self._publish(
            FaceVerified,
            self.config.detections_topic,
            dict(event_id=event_id, evidence_key=evidence_key, **outcome.fields()),
        )

    def _feed_plates(self, frame: Frame, readings: Sequence[PlateReading]) -> None:
        best = next((r for r in readings if r.text and r.confidence >= self.config.min_confidence), None)
        observations: list[PlateObservation] = []
        if best is not None:
            self._plate_frames[frame.index] = _FrameRead(frame.captured_at, best)
            observations.append(
                PlateObservation(
                    text=best.text,
                    confidence=best.confidence,
                    char_confidences=tuple(best.char_confidences),
                    frame_index=frame.index,
                    sharpness=_sharpness(best.crop),
                )
            )
        try:
            vehicle = self._segmenter.feed(frame.index, observations)
        except ValueError as exc:  # a frame out of order (a source restarted its count): skip it
            self._fault("frame_order", f"frame {frame.index} ({frame.source}): {exc}", camera=True)
            self._plate_frames.pop(frame.index, None)
            return
        if vehicle:
            self._publish_vehicle(vehicle)

    def _read_passes(self, frame: Frame) -> None:
        try:
            codes = decode_qr(frame.image)
        except Exception as exc:  # cv2.error on odd images: report, go on
            self._fault("qr_error", f"frame {frame.index}: {exc}", camera=False)
            return
        for code in codes:
            showing = self._passes.get(code.payload)
            if showing is not None:
                showing.last_index = frame.index
                continue
            self._passes[code.payload] = _Showing(frame.index, frame.captured_at, frame.index)
            self._publish(
                PassScanned,
                self.config.detections_topic,
                dict(
                    event_id=_event_id(
                        "pass", self.config.gate_id, self.config.lane_id, code.payload, frame.captured_at.isoformat()
                    ),
                    token=code.payload,
                    verified_offline=False,
                    captured_at=frame.captured_at,
                ),
            )

    def _read_containers(self, frame: Frame) -> None:
        assert self.container_reader is not None
        try:
            readings = self.container_reader.read(frame.image)
        except Exception as exc:
            self._fault("container_reader_error", f"frame {frame.index}: {type(exc).__name__}: {exc}", camera=False)
            return
        for reading in readings:
            if not reading.text or reading.confidence < self.config.min_confidence:
                continue
            showing = self._containers.setdefault(reading.text, _Showing(frame.index, frame.captured_at, frame.index))
            showing.last_index = frame.index
            showing.reads.append((reading, frame.captured_at))

    def _end_showings(self, index: int | None) -> None:
        """Forget passes and publish container groups not seen for more than gap_frames (all when index is None)."""
        gap = self.config.gap_frames
        for payload in [p for p, s in self._passes.items() if index is None or index - s.last_index > gap]:
            del self._passes[payload]
        if not self._containers:
            return
        if index is not None and any(index - s.last_index <= gap for s in self._containers.values()):
            return  # the truck is still in view: wait until every code of it is gone
        group, self._containers = self._containers, {}
        self._publish_containers(group)

    # ---- publishing

    def _publish_vehicle(self, vehicle: list[PlateObservation]) -> None:
        frames = self._plate_frames
        reads = {o.frame_index: frames.pop(o.frame_index) for o in vehicle if o.frame_index in frames}
        votes: dict[Country, float] = {}
        for read in reads.values():
            if read.reading.country is not None:
                votes[read.reading.country] = votes.get(read.reading.country, 0.0) + read.reading.confidence
        voted = max(votes, key=lambda c: votes[c]) if votes else None
        merged = merge_plate_observations(vehicle, country=voted)
        if merged is None:
            _log(logging.INFO, "vehicle without a plate", frames=len(vehicle), lane=self.config.lane_id)
            return
        self.summary.vehicles += 1
        first_at = reads[min(reads)].captured_at if reads else self.clock()
        best = reads.get(merged.best_frame_index)
        captured_at = best.captured_at if best else first_at
        event_id = _event_id(
            "plate",
            self.config.gate_id,
            self.config.lane_id,
            self.config.camera.value,
            first_at.isoformat(),
            merged.key,
        )
        crop_key = self._store_crop(event_id, best.reading.crop if best else None, "plate", captured_at)
        self._publish(
            PlateRead,
            self.config.detections_topic,
            dict(
                event_id=event_id,
                camera=self.config.camera,
                plate_text=merged.text,
                country=merged.country or voted or _guess_country(merged.text),
                format_valid=merged.format_valid,
                confidence=_unit(merged.confidence),
                char_confidences=[_unit(c) for c in merged.char_confidences],
                crop_key=crop_key,
                captured_at=captured_at,
            ),
        )
        _log(
            logging.INFO,
            "vehicle read",
            lane=self.config.lane_id,
            plate=merged.text,
            valid=merged.format_valid,
            confidence=round(float(merged.confidence), 3),
            frames=len(vehicle),
            event_id=event_id,
        )

    def _publish_containers(self, group: dict[str, _Showing]) -> None:
        valid = {text: s for text, s in group.items() if any(r.check_digit_ok for r, _ in s.reads)}
        if valid:
            chosen = valid
        else:  # no code proves itself: the one seen most (then the most confident), published as invalid
            text = max(group, key=lambda t: (len(group[t].reads), max(r.confidence for r, _ in group[t].reads)))
            chosen = {text: group[text]}
        for text, showing in chosen.items():
            reading, at = max(showing.reads, key=lambda item: (item[0].check_digit_ok, item[0].confidence))
            event_id = _event_id(
                "container", self.config.gate_id, self.config.lane_id, text, showing.first_at.isoformat()
            )
            crop_key = self._store_crop(event_id, reading.crop, "container", at)
            self._publish(
                ContainerRead,
                self.config.detections_topic,
                dict(
                    event_id=event_id,
                    container_no=text,
                    check_digit_ok=reading.check_digit_ok,
                    confidence=_unit(reading.confidence),
                    crop_key=crop_key,
                    captured_at=at,
                ),
            )

    def _store_crop(self, event_id: str, crop: np.ndarray | None, kind: str, at: datetime) -> str | None:
        if crop is None or crop.size == 0:
            return None
        try:
            return self.evidence.put_crop(
                self.config.gate_id, self.config.lane_id, event_id, crop, kind, captured_at=at
            )
        except EvidenceError as exc:  # the detection still goes out, without evidence
            self.summary.evidence_errors += 1
            self._fault("evidence_error", str(exc), camera=False)
            return None

    def _publish(self, model: type[BaseModel], topic: str, fields: dict[str, Any]) -> None:
        try:
            message = model.model_validate({"gate_id": self.config.gate_id, "lane_id": self.config.lane_id, **fields})
        except ValidationError as exc:
            self._fault("invalid_detection", f"{model.__name__} not sent: {exc.errors()[0]['msg']}", camera=False)
            return
        if self.durable is not None:
            self.durable.put(topic, message)  # committed: its sender thread publishes it, in order
            self.summary.published += 1
        else:
            self._queue(topic, message)
        if self._local is not None:  # after the uplink's queue: the copy can hold nothing up
            self._local.put(message)

    def _queue(self, topic: str, message: BaseModel) -> None:
        if len(self._outbox) >= OUTBOX_LIMIT:
            dropped_topic, dropped = self._outbox.popleft()
            _log(
                logging.ERROR,
                "outbox full, oldest detection dropped",
                topic=dropped_topic,
                event_id=getattr(dropped, "event_id", None),
            )
        self._outbox.append((topic, message))
        self.drain()

    def drain(self) -> int:
        """Publish what waits in the outbox, in order; stops at the first failure. Returns what is left."""
        if self.durable is not None:
            return self.durable.pending()
        transport = self.transport
        if transport is None:  # not connected yet: they wait
            return len(self._outbox)
        while self._outbox:
            topic, message = self._outbox[0]
            try:
                transport.publish(topic, message)
            except TransportError as exc:
                self._fault("publish_error", f"{len(self._outbox)} detections waiting: {exc}", camera=False)
                break
            self._outbox.popleft()
            self.summary.published += 1
            _log(logging.DEBUG, "detection published", topic=topic, event_id=getattr(message, "event_id", None))
        return len(self._outbox)

    def flush(self) -> None:
        """End every open vehicle, pass and container group (end of the source or shutdown) and publish them."""
        vehicle = self._segmenter.flush()
        if vehicle:
            self._publish_vehicle(vehicle)
        self._segmenter = VehicleSegmenter(gap_frames=self.config.gap_frames)  # a next run may count from 0 again
        self._end_showings(None)
        if self.faces is not None:
            for outcome in self.faces.end():
                self._publish_face(outcome)
        self.drain()

    # ---- faults and health

    def on_source_fault(self, fault: SourceFault) -> None:
        self.summary.source_faults += 1
        self._fault(fault.kind, fault.detail, camera=True)  # the detail names the file or the (masked) URI

    def _fault(self, kind: str, detail: str, *, camera: bool) -> None:
        text = f"{kind}: {detail}"
        _log(logging.WARNING, "lane vision fault", lane=self.config.lane_id, kind=kind, detail=detail)
        with self._lock:
            self._interval.faults += 1
            self._interval.camera_faults += camera
            self._interval.last_fault = text
            now = time.monotonic()
            due = now - self._last_fault_health >= self.config.fault_health_min_interval_s
            if due:
                self._last_fault_health = now
        if due and kind != "publish_error":  # a broker that refuses detections would refuse health too
            self.publish_health(self.health(camera_ok=not camera, detail=text))

    def health(self, *, camera_ok: bool | None = None, detail: str | None = None, reset: bool = False) -> LaneHealth:
        """A LaneHealth now: fps and p50 reader time over the last ``health_interval_s``, the faults since the
        last periodic event; ``reset`` starts a new fault interval (the periodic event does)."""
        now = time.monotonic()
        window = self.config.health_interval_s
        with self._lock:
            while self._window and self._window[0][0] < now - window:
                self._window.popleft()
            latencies = [ms for _, ms in self._window if ms is not None]
            fps = len(self._window) / max(min(window, now - self._started), 1e-3)
            p50 = statistics.median(latencies) if latencies else 0.0
            interval = self._interval
            stalled = now - self._last_frame > self.config.stall_timeout_s
            if camera_ok is None:
                camera_ok = not (self._camera_dead or interval.camera_faults or stalled)
            if detail is None:
                if interval.faults:
                    detail = f"{interval.faults} faults in {now - interval.started:.1f}s; last {interval.last_fault}"
                elif stalled:
                    detail = f"no frame for {now - self._last_frame:.0f}s"
            if reset:
                self._interval = _Interval(now)
            depth = len(self._outbox) if self.durable is None else self.durable.pending()
            if detail is None and self._pressure is not None:
                detail, self._pressure = self._pressure.describe(), None
        mode = self.mode.mode if self.mode is not None else None
        degraded = bool(mode and mode.degraded)
        if degraded and detail is None and mode is not None:
            detail = f"degraded mode: {mode.detail}" if mode.detail else "degraded mode"
        at = self.clock()
        return LaneHealth(
            event_id=_event_id("health", self.config.gate_id, self.config.lane_id, at.isoformat()),
            gate_id=self.config.gate_id,
            lane_id=self.config.lane_id,
            online=True,
            camera_ok=camera_ok,
            fps=round(fps, 3),
            inference_ms=round(p50, 3),
            queue_depth=depth,
            degraded=degraded,
            detail=_clip(detail),
            at=at,
        )

    def publish_health(self, health: LaneHealth) -> bool:
        transport = self.transport
        if transport is None:  # a snapshot: the next one, once connected, replaces it
            _log(
                logging.WARNING,
                "health not published",
                topic=self.config.health_topic,
                error="uplink not connected",
                detail=health.detail,
            )
            return False
        try:
            transport.publish(self.config.health_topic, health)
        except TransportError as exc:  # health is a snapshot: a lost one is replaced by the next
            _log(logging.WARNING, "health not published", topic=self.config.health_topic, error=exc)
            return False
        _log(
            logging.INFO,
            "lane health",
            lane=self.config.lane_id,
            camera_ok=health.camera_ok,
            degraded=health.degraded,
            fps=health.fps,
            inference_ms=health.inference_ms,
            queue_depth=health.queue_depth,
            detail=health.detail,
        )
        return True

    def _health_loop(self, halt: threading.Event) -> None:
        while not halt.wait(self.config.health_interval_s):
            try:
                self.publish_health(self.health(reset=True))
            except Exception:  # the heartbeat must keep beating
                log.exception(kv("health tick failed", lane=self.config.lane_id))

    # ---- the run

    def run(self, source: FrameSource, stop_event: threading.Event | None = None) -> RunSummary:
        """Process the source until it ends, ``stop_event`` is set, or the camera dies; then flush and report."""
        stop_event = stop_event or threading.Event()
        source.on_fault = self.on_source_fault
        halt = threading.Event()
        ticker = threading.Thread(target=self._health_loop, args=(halt,), name="lane-health", daemon=True)
        _log(
            logging.INFO,
            "lane vision started",
            gate=self.config.gate_id,
            lane=self.config.lane_id,
            source=source.describe(),
            camera=self.config.camera.value,
        )
        ticker.start()
        with self._lock:
            self._started = self._last_frame = time.monotonic()
        try:
            for frame in _until(source, stop_event):
                self.process(frame)
        except CameraDead as exc:
            self._camera_dead = True
            self.summary.camera_dead = True
            self.summary.error = str(exc)
        except SourceError as exc:
            self._camera_dead = True
            self.summary.error = str(exc)
        except Exception as exc:
            self.summary.error = f"internal error: {type(exc).__name__}: {exc}"
            raise
        finally:
            halt.set()
            ticker.join(5)
            source.close()
            try:
                self.flush()
                if self._local is not None and not self._local.wait_sent(2.0):
                    _log(logging.WARNING, "local bus copies still waiting at stop", lane=self.config.lane_id)
            finally:
                detail = self.summary.error or ("stopped" if stop_event.is_set() else "source ended")
                self.publish_health(self.health(camera_ok=not self._camera_dead, detail=detail, reset=True))
                _log(
                    logging.WARNING if self.summary.exit_code else logging.INFO,
                    "lane vision stopped",
                    lane=self.config.lane_id,
                    frames=self.summary.frames,
                    vehicles=self.summary.vehicles,
                    published=self.summary.published,
                    reader_errors=self.summary.reader_errors,
                    source_faults=self.summary.source_faults,
                    error=self.summary.error,
                )
        return self.summary


def _until(frames: Iterable[Frame], stop_event: threading.Event) -> Iterable[Frame]:
    for frame in frames:
        yield frame
        if stop_event.is_set():
            return
