"""Frame sources: image folders, video files and dead streams, with the real OpenCV (no mocks).

The images and the video are written by the tests themselves (cv2.imwrite, cv2.VideoWriter MJPG).
The dead stream points at the discard port of the loopback, which refuses the connection at once.
"""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from smartgate_edge.vision.sources import (
    CameraDead,
    FolderSource,
    SourceError,
    SourceFault,
    VideoSource,
    mask_uri,
    open_source,
)


def _image(value: int, shape: tuple[int, int] = (48, 64)) -> np.ndarray:
    image = np.zeros((*shape, 3), np.uint8)
    image[:, :, 0] = value
    cv2.putText(image, str(value), (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
    return image


@pytest.fixture
def frames(tmp_path: Path) -> Path:
    """f1, f2, f10 (natural order), a corrupt .jpg, an empty .png, a grayscale png and a non-image."""
    folder = tmp_path / "frames"
    folder.mkdir()
    for number in (1, 2, 10):
        assert cv2.imwrite(str(folder / f"f{number}.jpg"), _image(number * 20))
    (folder / "f3.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (folder / "f4.png").write_bytes(b"")
    assert cv2.imwrite(str(folder / "f5.png"), np.full((48, 64), 200, np.uint8))
    (folder / "labels.json").write_text("{}")
    return folder


def test_folder_source_yields_sorted_bgr_frames_and_counts_bad_files(frames: Path) -> None:
    # Given a folder with three good jpgs, a grayscale png, a corrupt and an empty file
    source = FolderSource(frames)
    seen: list[SourceFault] = []
    source.on_fault = seen.append

    # When it is read to the end
    got = list(source)

    # Then the good images come in natural order as BGR frames, the bad ones are counted, not raised
    assert [Path(f.source).name for f in got] == ["f1.jpg", "f2.jpg", "f5.png", "f10.jpg"]
    assert [f.index for f in got] == [0, 1, 2, 3]
    assert all(f.image.ndim == 3 and f.image.shape[2] == 3 and f.image.dtype == np.uint8 for f in got)
    assert all(f.captured_at.tzinfo is not None for f in got)
    assert source.faults == 2
    assert [fault.kind for fault in seen] == ["corrupt_frame", "empty_file"]
    assert "f3.jpg" in seen[0].detail and "f4.png" in seen[1].detail
    assert source.last_fault == seen[-1]
    assert source.describe() == f"folder:{frames} (6 images)"


def test_folder_source_pattern_loop_and_close(frames: Path) -> None:
    source = FolderSource(frames, pattern="f1*.jpg", loop=True)
    got = []
    for frame in source:
        got.append(Path(frame.source).name)
        if len(got) == 5:
            source.close()
    assert got == ["f1.jpg", "f10.jpg", "f1.jpg", "f10.jpg", "f1.jpg"]


def test_folder_source_paces_at_fps(frames: Path) -> None:
    started = time.monotonic()
    assert len(list(FolderSource(frames, pattern="f1*.jpg", fps=20))) == 2
    assert time.monotonic() - started >= 0.045


def test_missing_or_empty_folder_fails_at_open_naming_the_path(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=str(tmp_path / "nope")):
        FolderSource(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(SourceError, match="no image files"):
        FolderSource(tmp_path / "empty")


def test_looping_folder_of_only_corrupt_images_stops_with_source_error(tmp_path: Path) -> None:
    (tmp_path / "bad.jpg").write_bytes(b"garbage")
    source = FolderSource(tmp_path, loop=True)
    with pytest.raises(SourceError, match="no readable image"):
        list(source)
    assert source.faults == 1


@pytest.fixture
def video(tmp_path: Path) -> Path:
    path = tmp_path / "lane.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), 10, (64, 48))
    assert writer.isOpened(), "this OpenCV build cannot write MJPG/.avi"
    for value in range(6):
        writer.write(_image(value * 40))
    writer.release()
    return path


def test_video_file_plays_once_then_ends(video: Path) -> None:
    source = VideoSource(str(video))
    got = list(source)
    assert len(got) == 6
    assert [f.index for f in got] == list(range(6))
    assert got[0].image.shape == (48, 64, 3)
    assert source.faults == 0
    assert source.describe() == f"video file {video}"


def test_video_file_loops_when_asked(video: Path) -> None:
    source = VideoSource(str(video), loop=True)
    got = []
    for frame in source:
        got.append(frame)
        if len(got) == 14:
            source.close()
    assert len(got) == 14


def test_missing_video_file_fails_at_open(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="does not exist"):
        VideoSource(str(tmp_path / "missing.mp4"))


def test_undecodable_video_file_is_a_source_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"not a video at all" * 100)
    with pytest.raises(SourceError, match="cannot open video file"):
        list(VideoSource(str(path)))


def test_dead_stream_raises_camera_dead_quickly_with_masked_credentials() -> None:
    # Given a stream nobody serves (connection refused) and a short backoff
    uri = "rtsp://user:secret@127.0.0.1:9/x"
    source = VideoSource(uri, max_failures=3, backoff_s=0.01, backoff_max_s=0.02, open_timeout_ms=1000)
    faults: list[SourceFault] = []
    source.on_fault = faults.append
    started = time.monotonic()

    # When it is read, Then it gives up after three failures in a row, fast, never showing the password
    with pytest.raises(CameraDead) as raised:
        list(source)
    assert time.monotonic() - started < 10
    message = str(raised.value)
    assert "secret" not in message
    assert "rtsp://user:***@127.0.0.1:9/x" in message
    assert "3 failures" in message
    assert len(faults) == 3 and source.faults == 3
    assert all("secret" not in str(fault) for fault in faults)


class _FlakyCapture:
    """A capture that delivers ``script`` items: an image, None (read fails) or 'empty' (an empty frame)."""

    def __init__(self, script: list[object]) -> None:
        self.script = script
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802 - OpenCV's name
        return True

    def read(self) -> tuple[bool, np.ndarray | None]:
        item = self.script.pop(0) if self.script else None
        if item is None:
            return False, None
        if isinstance(item, str):
            return True, np.zeros((0, 0, 3), np.uint8)
        assert isinstance(item, np.ndarray)
        return True, item

    def release(self) -> None:
        self.released = True


def test_stream_reconnects_with_bounded_backoff_and_resets_after_success() -> None:
    # Given a stream that drops twice, comes back, then dies for good
    good = _image(10)
    scripts: list[list[object]] = [[good, None], [None], [good, good, None], [None], [None], [None]]
    opened: list[_FlakyCapture] = []

    def factory() -> _FlakyCapture:
        opened.append(_FlakyCapture(scripts.pop(0) if scripts else []))
        return opened[-1]

    sleeps: list[float] = []
    source = VideoSource(
        "rtsp://cam/lane",
        max_failures=4,
        backoff_s=1.0,
        backoff_max_s=3.0,
        sleep=sleeps.append,
        capture_factory=factory,
    )

    # When read until it dies
    got = []
    with pytest.raises(CameraDead, match="4 failures in a row"):
        for frame in source:
            got.append(frame)

    # Then every good frame came through, failures reset after a good frame, and backoff doubled but capped
    assert len(got) == 3
    assert sleeps == [1.0, 2.0, 1.0, 2.0, 3.0]
    assert all(capture.released for capture in opened[:-1])
    assert source.faults == 6


def test_empty_frames_from_a_stream_are_faults() -> None:
    good = _image(5)
    source = VideoSource(
        "camera:3",
        max_failures=2,
        sleep=lambda _: None,
        capture_factory=lambda: _FlakyCapture([good, "empty", good, "empty", "empty"]),
    )
    got = []
    with pytest.raises(CameraDead):
        for frame in source:
            got.append(frame)
    assert len(got) == 2
    assert source.last_fault is not None and source.last_fault.kind == "empty_frame"
    assert source.describe() == "camera camera:3"


def test_mask_uri_hides_passwords_and_secret_parameters() -> None:
    assert mask_uri("rtsp://admin:p%40ss@10.0.0.5:554/Streaming/101") == "rtsp://admin:***@10.0.0.5:554/Streaming/101"
    assert mask_uri("http://cam/video?user=a&password=xyz&res=hd") == "http://cam/video?user=a&password=***&res=hd"
    assert mask_uri("/data/lane.mp4") == "/data/lane.mp4"
    assert mask_uri("rtsp://10.0.0.5/stream") == "rtsp://10.0.0.5/stream"


def test_open_source_dispatches_on_the_spec(frames: Path, video: Path) -> None:
    assert isinstance(open_source(f"folder:{frames}"), FolderSource)
    assert isinstance(open_source(str(frames)), FolderSource)
    assert isinstance(open_source(f"video:{video}"), VideoSource)
    assert isinstance(open_source(str(video)), VideoSource)
    stream = open_source("rtsp://u:pw@127.0.0.1:9/x", max_failures=1)
    assert isinstance(stream, VideoSource) and stream.is_stream and "pw" not in stream.describe()
    camera = open_source("camera:0")
    assert isinstance(camera, VideoSource) and camera.camera == 0
    assert isinstance(open_source("2"), VideoSource)
    looping = open_source(str(frames), loop=True, fps=5)
    assert isinstance(looping, FolderSource) and looping.loop
    with pytest.raises(SourceError, match="device index"):
        open_source("camera:front")
    with pytest.raises(SourceError, match="empty"):
        open_source("  ")
    with pytest.raises(SourceError, match="does not exist"):
        open_source("/no/such/clip.mp4")
