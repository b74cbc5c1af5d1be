"""A lane camera for the local stack: frames of arriving trucks, read by the real LaneVision component.

`stage_frames` writes what a lane camera would see — a few frames of each truck's front (a rendered
scene with the truck's plate, or a real photo), frames of its container doors when it carries one,
then empty road until the next truck. `run_lane_vision` runs edge_greengrass/LaneVision/main.py on
those frames against the local broker and the emulator's evidence bucket, exactly as it runs on a
lane computer (only the source is a folder instead of a camera).

The cab camera: `cab_frames` makes what a camera on the driver's seat sees of a driver (one of the
public-domain portraits in ``faces/``, in a dark cab, moved, lit and noised frame by frame);
`start_cab_camera` runs the same main.py as the lane's cab camera (faces only, looping over the frames
like a driver waiting at the barrier) until it is stopped.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from smartgate_edge.transport import Mqtt5Transport
from smartgate_edge.vision.synth import augment, in_scene, render_container_door, render_plate

from smartgate.schemas import DETECTION_ADAPTER, BarrierCommand, ContainerRead, PlateRead
from smartgate.topics import commands_topic, detections_topic
from smartgate_infra.stack import ROOT, StackState

MAIN = ROOT / "edge_greengrass" / "LaneVision" / "main.py"
GAP_FRAMES = 3
FACES = Path(__file__).with_name("faces")
DRIVER_PHOTOS = {"grace_hopper": FACES / "grace_hopper.jpg", "eileen_collins": FACES / "eileen_collins.jpg"}
"""Public-domain portraits (see faces/README.md) that play drivers."""
CAB_SIZE = (640, 480)


@dataclass(frozen=True)
class CameraTruck:
    plate: str  # as printed
    style: str  # a synth style, used when there is no photo
    container_no: str | None = None
    photo: Path | None = None  # a real photo of the plate, used as the camera's frames
    frames: int = 3


def stage_frames(folder: Path, trucks: Sequence[CameraTruck], seed: int = 2026) -> int:
    """Write the camera's frames (JPEG, numbered in order) into ``folder``; returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    road = np.full((720, 1280, 3), 96, np.uint8)
    count = 0

    def write(image: np.ndarray) -> None:
        nonlocal count
        count += 1
        cv2.imwrite(str(folder / f"{count:05d}.jpg"), image, [cv2.IMWRITE_JPEG_QUALITY, 92])

    for truck in trucks:
        for _ in range(GAP_FRAMES + 2):
            write(road)
        if truck.photo is not None:
            photo = cv2.imread(str(truck.photo))
            if photo is None:
                raise FileNotFoundError(f"cannot read the photo {truck.photo}")
            for _ in range(truck.frames):
                write(photo)
        else:
            plate = render_plate(truck.plate, truck.style, scale=rng.uniform(0.8, 1.1))
            for _ in range(truck.frames):
                scene, _ = in_scene(augment(plate, rng, blur=0.2, glare=0.2, night=0.1), rng)
                write(scene)
        if truck.container_no:
            door = render_container_door(truck.container_no, rng)
            for _ in range(2):
                write(door)
    for _ in range(GAP_FRAMES + 2):
        write(road)
    return count


def cab_frames(photo: Path, count: int, rng: random.Random) -> list[np.ndarray]:
    """What a cab camera sees of a driver: the portrait in a dark cab, shifted, lit and noised per frame."""
    portrait = cv2.imread(str(photo))
    if portrait is None:
        raise FileNotFoundError(f"cannot read the photo {photo}")
    width, height = CAB_SIZE
    frames = []
    for _ in range(count):
        cab = np.full((height, width, 3), (38, 34, 30), np.uint8)
        scale = rng.uniform(1.0, 1.15)
        face = cv2.resize(portrait, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        face = face[: height - 20, : width - 20]
        h, w = face.shape[:2]
        x, y = rng.randint(10, width - w - 10), rng.randint(10, height - h - 10)
        cab[y : y + h, x : x + w] = face
        lit = cv2.convertScaleAbs(cab, alpha=rng.uniform(0.8, 1.15), beta=rng.uniform(-15, 15))
        noise = np.random.default_rng(rng.randrange(2**32)).normal(0, 4, lit.shape)
        frames.append(np.clip(lit.astype(np.float32) + noise, 0, 255).astype(np.uint8))
    return frames


def stage_cab_frames(folder: Path, photo: Path, count: int = 10, seed: int = 2026) -> int:
    """The cab camera's frames of one driver (JPEG, numbered) into ``folder``; returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    for n, frame in enumerate(cab_frames(photo, count, random.Random(seed)), start=1):
        cv2.imwrite(str(folder / f"{n:05d}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return count


@dataclass
class LaneObserver:
    """Watches a lane's detections and commands topics on the broker (what the cloud saw, what it said)."""

    plates: list[PlateRead] = field(default_factory=list)
    containers: list[ContainerRead] = field(default_factory=list)
    commands: list[BarrierCommand] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_detection(self, _topic: str, payload: bytes) -> None:
        detection = DETECTION_ADAPTER.validate_json(payload)
        with self.lock:
            if isinstance(detection, PlateRead):
                self.plates.append(detection)
            elif isinstance(detection, ContainerRead):
                self.containers.append(detection)

    def on_command(self, _topic: str, payload: bytes) -> None:
        with self.lock:
            self.commands.append(BarrierCommand.model_validate_json(payload))


def watch(state: StackState, gate_id: str, lane_id: str) -> tuple[Mqtt5Transport, LaneObserver]:
    observer = LaneObserver()
    transport = Mqtt5Transport(state.ports.host, state.ports.mqtt, f"observer-{lane_id}-{os.getpid()}").connect()
    transport.subscribe(detections_topic(gate_id, lane_id), observer.on_detection)
    transport.subscribe(commands_topic(gate_id, lane_id), observer.on_command)
    return transport, observer


def run_lane_vision(
    state: StackState,
    frames: Path,
    gate_id: str,
    lane_id: str,
    evidence_bucket: str,
    *,
    read_containers: bool = True,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """The LaneVision component (its main.py) over a folder of frames, against the local stack."""
    env = _lane_env(state, frames, gate_id, lane_id, evidence_bucket, SMARTGATE_READ_CONTAINERS=read_containers)
    return subprocess.run(
        [sys.executable, str(MAIN)], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def start_cab_camera(
    state: StackState,
    frames: Path,
    gate_id: str,
    lane_id: str,
    evidence_bucket: str,
    face_key_id: str,
    *,
    fps: float = 5.0,
    log_path: Path | None = None,
) -> subprocess.Popen[bytes]:
    """The lane's cab camera (main.py, faces only) looping over a driver's frames until it is terminated;
    its log goes to ``log_path`` (default: the stack's state folder)."""
    env = _lane_env(
        state,
        frames,
        gate_id,
        lane_id,
        evidence_bucket,
        SMARTGATE_READ_PLATES=False,
        SMARTGATE_QR_ENABLED=False,
        SMARTGATE_CHECK_FACES=True,
        SMARTGATE_FACE_KEY_ID=face_key_id,
        SMARTGATE_FACE_EVIDENCE=True,
        SMARTGATE_SOURCE_LOOP=True,
        SMARTGATE_SOURCE_FPS=fps,
        SMARTGATE_MODEL_THREADS=1,
    )
    log_path = log_path or Path(state.state_dir) / "lanes" / f"{gate_id}-{lane_id}-cab.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen([sys.executable, str(MAIN)], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def _lane_env(
    state: StackState, frames: Path, gate_id: str, lane_id: str, evidence_bucket: str, **settings: object
) -> dict[str, str]:
    """A lane component's environment against the local stack (as the Greengrass recipe sets it on a lane)."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "SMARTGATE_"))},
        "SMARTGATE_GATE_ID": gate_id,
        "SMARTGATE_LANE_ID": lane_id,
        "SMARTGATE_SOURCE": f"folder:{frames}",
        "SMARTGATE_GAP_FRAMES": str(GAP_FRAMES),
        "SMARTGATE_EVIDENCE_BUCKET": evidence_bucket,
        "SMARTGATE_FAULT_EXIT_DELAY_S": "0",
        # store-and-forward as on a lane computer: detections are committed here before they are sent
        "SMARTGATE_OUTBOX_PATH": str(Path(state.state_dir) / "lanes" / f"{gate_id}-{lane_id}-outbox.sqlite3"),
        "SMARTGATE_MQTT_HOST": state.ports.host,
        "SMARTGATE_MQTT_PORT": str(state.ports.mqtt),
        "AWS_ENDPOINT_URL": state.endpoint_url,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }
    for name, value in settings.items():
        env[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return env
