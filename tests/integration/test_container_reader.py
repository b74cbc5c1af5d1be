"""Container codes read off (synthetic) container doors with the real text detector and recogniser."""

from __future__ import annotations

import random

import numpy as np
import pytest
from smartgate_edge.vision.container_codes import ContainerReader, _rows
from smartgate_edge.vision.synth import font_path, random_container_code, render_container_door

from smartgate.domain.containers import validate_container

try:
    font_path("latin")
except FileNotFoundError as err:
    pytest.skip(str(err), allow_module_level=True)


@pytest.fixture(scope="module")
def reader() -> ContainerReader:
    return ContainerReader(threads=2)


def test_codes_on_doors_are_read_and_checked(reader: ContainerReader) -> None:
    results = []
    for seed in range(12):
        rng = random.Random(seed)
        code = random_container_code(rng)
        readings = reader.read(render_container_door(code, rng, two_lines=seed % 3 == 0))
        results.append((code, readings[0] if readings else None))
    right = [code for code, r in results if r is not None and r.text == code]
    assert len(right) >= 9, [(c, r.text if r else None) for c, r in results]
    # a reading that claims a good check digit is never a wrong code
    for code, r in results:
        if r is not None and r.check_digit_ok:
            assert r.text == code and validate_container(r.text).check_digit_ok


def test_a_wall_without_a_code_reads_nothing(reader: ContainerReader) -> None:
    assert reader.read(np.full((540, 960, 3), (40, 40, 150), np.uint8)) == []


def test_rows_group_boxes_side_by_side() -> None:
    def quad(x: float, y: float, w: float = 40, h: float = 20) -> np.ndarray:
        return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)

    quads = [quad(200, 102), quad(10, 100), quad(10, 160), quad(100, 99)]
    assert _rows(quads) == [[1, 3, 0], [2]]
