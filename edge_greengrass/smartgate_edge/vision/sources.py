"""Where lane frames come from: an image folder, a video file, or a camera / RTSP stream (OpenCV).

Every source is an iterator of :class:`~smartgate_edge.vision.types.Frame` (BGR uint8) with
``close()`` and ``describe()``. A bad frame never raises mid-stream: it is logged, counted in
``faults``, kept as ``last_fault`` and handed to ``on_fault`` (the lane component sets it to publish a
health event at once). What cannot work at all raises:

- :class:`SourceError` when the source cannot be opened (missing or empty folder, missing video file);
- :class:`CameraDead` when a camera / stream failed ``max_failures`` times in a row despite
  reconnecting with bounded exponential backoff. Its message names the URI with credentials masked.

:func:`open_source` picks a source from a spec string: ``folder:/path``, ``video:/path.mp4``,
``rtsp://...`` / ``http(s)://...``, ``camera:0``, or a plain path (a folder if it is a directory).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from smartgate.schemas import utc_now
from smartgate_edge.transport import kv
from smartgate_edge.vision.types import Frame

log = logging.getLogger("smartgate_edge.vision.sources")

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pnm"})
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")

Clock = Callable[[], datetime]


class SourceError(RuntimeError):
    """A frame source cannot be opened or yields nothing usable; the message names it."""


class CameraDead(SourceError):
    """A camera or stream failed too many times in a row; reconnecting did not help."""


@dataclass(frozen=True)
class SourceFault:
    """One thing that went wrong while reading frames (the stream went on)."""

    kind: str  # corrupt_frame | empty_file | empty_frame | open_failed | read_failed
    detail: str
    source: str
    at: datetime

    def __str__(self) -> str:
        return f"{self.kind}: {self.detail}"


FaultCallback = Callable[[SourceFault], None]


class FrameSource(Protocol):
    faults: int
    last_fault: SourceFault | None
    on_fault: FaultCallback | None

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...

    def describe(self) -> str: ...


def _log(level: int, event: str, **fields: Any) -> None:
    log.log(level, kv(event, **fields), extra=fields)


_USERINFO = re.compile(r"^(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:@/]*)(?::[^@/]*)?@")
_SECRET_PARAMS = re.compile(r"(?i)([?&](?:password|passwd|pass|pwd|token|key|secret|auth)=)[^&#]*")


def mask_uri(uri: str) -> str:
    """The URI with its password (``user:***@``) and secret-looking query values masked, for logs."""
    masked = _USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:***@", uri)
    return _SECRET_PARAMS.sub(r"\1***", masked)


class _Pacer:
    """Sleeps so that frames leave at no more than ``fps`` per second (None: as fast as they come)."""

    def __init__(self, fps: float | None, sleep: Callable[[float], object]) -> None:
        if fps is not None and fps <= 0:
            raise ValueError(f"fps must be positive, not {fps}")
        self.period = 1.0 / fps if fps else 0.0
        self.sleep = sleep
        self._next = 0.0

    def wait(self) -> None:
        if not self.period:
            return
        now = time.monotonic()
        if self._next > now:
            self.sleep(self._next - now)
        self._next = max(now, self._next) + self.period


class _SourceBase:
    """Fault bookkeeping shared by the sources."""

    def __init__(self, name: str, clock: Clock) -> None:
        self.name = name
        self.clock = clock
        self.faults = 0
        self.last_fault: SourceFault | None = None
        self.on_fault: FaultCallback | None = None
        self._closed = False
        self._index = 0

    def _fault(self, kind: str, detail: str) -> SourceFault:
        fault = SourceFault(kind, detail, self.name, self.clock())
        self.faults += 1
        self.last_fault = fault
        _log(logging.WARNING, "frame source fault", source=self.name, kind=kind, detail=detail, faults=self.faults)
        if self.on_fault is not None:
            try:
                self.on_fault(fault)
            except Exception:  # a failing reporter must not stop the frames
                log.exception(kv("fault callback failed", source=self.name))
        return fault

    def _frame(self, image: np.ndarray, where: str) -> Frame:
        frame = Frame(image=image, captured_at=self.clock(), index=self._index, source=where)
        self._index += 1
        return frame


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]


def _to_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class FolderSource(_SourceBase):
    """The images of a folder in natural order (``f2`` before ``f10``); files with other suffixes are ignored.

    ``loop`` starts again at the end (a demo lane); ``fps`` paces the frames. An unreadable, corrupt or
    empty image is skipped and counted as a fault. SourceError at construction when the folder is
    missing or holds no image, or when a whole pass of a looping folder yields no readable image.
    """

    def __init__(
        self,
        path: str | Path,
        pattern: str = "*",
        loop: bool = False,
        fps: float | None = None,
        *,
        clock: Clock = utc_now,
        sleep: Callable[[float], object] = time.sleep,
    ) -> None:
        self.path = Path(path)
        super().__init__(f"folder:{self.path}", clock)
        self.pattern = pattern
        self.loop = loop
        self._pacer = _Pacer(fps, sleep)
        if not self.path.is_dir():
            raise SourceError(f"frame folder {self.path} does not exist or is not a directory")
        self.files = sorted(
            (p for p in self.path.glob(pattern) if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
            key=_natural_key,
        )
        if not self.files:
            raise SourceError(
                f"frame folder {self.path} has no image files matching {pattern!r} "
                f"({', '.join(sorted(IMAGE_SUFFIXES))})"
            )

    def describe(self) -> str:
        return f"{self.name} ({len(self.files)} images{', looping' if self.loop else ''})"

    def _load(self, file: Path) -> np.ndarray | None:
        try:
            data = np.fromfile(file, dtype=np.uint8)  # np + imdecode: non-ASCII paths work too
        except OSError as exc:
            self._fault("corrupt_frame", f"{file}: cannot read: {exc}")
            return None
        if data.size == 0:
            self._fault("empty_file", f"{file}: empty file")
            return None
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
        if image is None or image.size == 0:
            self._fault("corrupt_frame", f"{file}: not a decodable image ({data.size} bytes)")
            return None
        if image.dtype != np.uint8:
            image = cv2.convertScaleAbs(image, alpha=255.0 / max(float(image.max()), 1.0))
        return _to_bgr(image)

    def __iter__(self) -> Iterator[Frame]:
        while not self._closed:
            yielded = 0
            for file in self.files:
                if self._closed:
                    return
                image = self._load(file)
                if image is None:
                    continue
                self._pacer.wait()
                yielded += 1
                yield self._frame(image, str(file))
            if not self.loop:
                return
            if not yielded:
                raise SourceError(
                    f"frame folder {self.path}: no readable image in a whole pass "
                    f"({len(self.files)} files, last fault: {self.last_fault})"
                )

    def close(self) -> None:
        self._closed = True


def _camera_index(uri: str) -> int | None:
    text = uri.removeprefix("camera:").strip()
    return int(text) if text.isdigit() else None


class VideoSource(_SourceBase):
    """A video file, an RTSP/HTTP stream or a local camera (index, e.g. ``"0"``) through cv2.VideoCapture.

    A file plays once (``loop`` to repeat) and ends the iteration; a missing file is a SourceError at
    construction. A camera or stream that cannot be opened, or stops delivering, is reopened after
    ``backoff_s`` doubling up to ``backoff_max_s``; each failure is a fault. After ``max_failures``
    failures in a row the iteration raises :class:`CameraDead`. A frame that arrives empty is a fault.
    Call ``close()`` from the iterating thread or after it stopped (OpenCV captures are not thread-safe).
    """

    def __init__(
        self,
        uri: str,
        *,
        max_failures: int = 5,
        backoff_s: float = 0.5,
        backoff_max_s: float = 10.0,
        open_timeout_ms: int = 5000,
        read_timeout_ms: int = 5000,
        loop: bool = False,
        fps: float | None = None,
        clock: Clock = utc_now,
        sleep: Callable[[float], object] = time.sleep,
        capture_factory: Callable[[], Any] | None = None,
    ) -> None:
        if max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, not {max_failures}")
        self.uri = uri
        self.masked = mask_uri(uri)
        self.camera = _camera_index(uri)
        self.is_stream = self.camera is not None or uri.lower().startswith(STREAM_SCHEMES)
        super().__init__(f"camera:{self.camera}" if self.camera is not None else self.masked, clock)
        self.max_failures = max_failures
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.open_timeout_ms = open_timeout_ms
        self.read_timeout_ms = read_timeout_ms
        self.loop = loop
        self.sleep = sleep
        self._pacer = _Pacer(fps, sleep)
        self._capture_factory = capture_factory or self._open_capture
        self._capture: Any = None
        if not self.is_stream and not Path(uri).is_file():
            raise SourceError(f"video file {self.masked} does not exist")

    def describe(self) -> str:
        kind = "camera" if self.camera is not None else "stream" if self.is_stream else "video file"
        return f"{kind} {self.name}"

    def _open_capture(self) -> Any:
        if self.camera is not None:
            return cv2.VideoCapture(self.camera)
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            self.open_timeout_ms,
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            self.read_timeout_ms,
        ]
        return cv2.VideoCapture(self.uri, cv2.CAP_FFMPEG, params)

    def _release(self) -> None:
        if self._capture is not None:
            try:
                self._capture.release()
            except Exception:  # releasing anyway
                log.debug(kv("capture release failed", source=self.name))
            self._capture = None

    def _open(self) -> bool:
        self._release()
        try:
            capture = self._capture_factory()
        except Exception as exc:
            self._fault("open_failed", f"{self.describe()}: {exc}")
            return False
        if capture is None or not capture.isOpened():
            self._fault("open_failed", f"cannot open {self.describe()}")
            return False
        self._capture = capture
        _log(logging.INFO, "frame source opened", source=self.name)
        return True

    def _backoff(self, failures: int) -> None:
        delay = min(self.backoff_max_s, self.backoff_s * (2 ** (failures - 1)))
        if delay > 0 and not self._closed:
            self.sleep(delay)

    def _dead(self, failures: int) -> CameraDead:
        return CameraDead(
            f"{self.describe()} is dead: {failures} failures in a row "
            f"(last: {self.last_fault}); check the camera, its cable / network and the URI"
        )

    def __iter__(self) -> Iterator[Frame]:
        failures = 0
        frames_since_open = 0
        while not self._closed:
            if self._capture is None:
                if not self._open():
                    if not self.is_stream:  # a file that will not open will not open later either
                        raise SourceError(f"cannot open video file {self.masked} (not a video OpenCV can decode?)")
                    failures += 1
                    if failures >= self.max_failures:
                        raise self._dead(failures)
                    self._backoff(failures)
                    continue
                frames_since_open = 0
            try:
                ok, image = self._capture.read()
            except Exception as exc:  # cv2.error from a broken stream
                ok, image = False, None
                _log(logging.DEBUG, "capture read raised", source=self.name, error=exc)
            if not ok:
                if not self.is_stream:
                    if frames_since_open and self.loop:
                        self._release()
                        continue
                    if not frames_since_open:
                        self._fault("read_failed", f"{self.describe()}: no frame could be decoded")
                    return  # end of the file
                failures += 1
                self._fault("read_failed", f"{self.describe()}: no frame (failure {failures}/{self.max_failures})")
                self._release()
                if failures >= self.max_failures:
                    raise self._dead(failures)
                self._backoff(failures)
                continue
            if image is None or image.size == 0:
                failures += 1
                self._fault("empty_frame", f"{self.describe()}: empty frame (failure {failures}/{self.max_failures})")
                if failures >= self.max_failures:
                    raise self._dead(failures)
                continue
            failures = 0
            frames_since_open += 1
            self._pacer.wait()
            yield self._frame(_to_bgr(image), self.name)
        self._release()

    def close(self) -> None:
        self._closed = True
        self._release()


def open_source(
    spec: str,
    *,
    loop: bool = False,
    fps: float | None = None,
    clock: Clock = utc_now,
    sleep: Callable[[float], object] = time.sleep,
    **video_options: Any,
) -> FrameSource:
    """The source a spec names. ``loop``, ``fps``, ``clock`` and ``sleep`` go to any source; ``video_options``
    (``max_failures``, ``backoff_s``, ``backoff_max_s``, timeouts) only to a video / camera / stream.

    ``folder:/frames`` · ``video:/clips/lane.mp4`` · ``rtsp://user:pw@cam/stream`` (also rtsps, http,
    https) · ``camera:0`` (or just ``0``) · a plain path: a folder if it is a directory, else a video file.
    """
    spec = spec.strip()
    common: dict[str, Any] = {"loop": loop, "fps": fps, "clock": clock, "sleep": sleep}
    if not spec:
        raise SourceError("empty frame source spec; give folder:/path, video:/file, rtsp://..., or camera:N")
    if spec.startswith("folder:"):
        return FolderSource(spec.removeprefix("folder:"), **common)
    if spec.startswith("camera:") and _camera_index(spec) is None:
        raise SourceError(f"camera spec {spec!r} needs a device index, e.g. camera:0")
    if spec.startswith("video:"):
        spec = spec.removeprefix("video:")
    elif (
        not (spec.startswith("camera:") or spec.lower().startswith(STREAM_SCHEMES) or spec.isdigit())
        and Path(spec).is_dir()
    ):
        return FolderSource(spec, **common)
    return VideoSource(spec, **common, **video_options)
