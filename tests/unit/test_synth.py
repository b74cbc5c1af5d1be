"""Synthetic plates: layout and colours per style, valid texts, determinism, and what each degradation does."""

from __future__ import annotations

import random
import re

import cv2
import numpy as np
import pytest
from smartgate_edge.vision import synth
from smartgate_edge.vision.synth import (
    STYLES,
    SyntheticPlate,
    augment,
    font_path,
    in_scene,
    random_plate_text,
    render_plate,
    sample,
)

from smartgate.domain.plates import plate_format_valid


def _has_font(kind: synth.FontKind) -> bool:
    try:
        font_path(kind)
    except FileNotFoundError:
        return False
    return True


_NO_CJK = "CJK font missing (Chinese plates need it): apt-get install -y fonts-wqy-microhei"
_NO_LATIN = "Latin font missing: apt-get install -y fonts-dejavu-extra (or fonts-dejavu-core)"
pytestmark = pytest.mark.skipif(not _has_font("latin"), reason=_NO_LATIN)


def _styles(*, country: str | None = None) -> list:
    """Every style as a parameter, Chinese ones skipped when the CJK font is absent."""
    params = []
    for name, spec in STYLES.items():
        if country and spec.country != country:
            continue
        marks = [pytest.mark.skipif(not _has_font("cjk"), reason=_NO_CJK)] if spec.country == "CN" else []
        params.append(pytest.param(name, marks=marks, id=name))
    return params


# What each style's text must look like as printed (stricter than the domain's coarse validity check).
_PRINTED = {
    "vn_white_1row": r"\d\d(?:[A-HK-NP-VX-Z]|LD)-(?:\d{3}\.\d{2}|\d{4})",
    "vn_white_2row": r"\d\d(?:[A-HK-NP-VX-Z]|LD) (?:\d{3}\.\d{2}|\d{4})",
    "vn_moto_2row": r"\d\d-(?:[A-HK-NP-VX-Z]|MD)[1-9] (?:\d{3}\.\d{2}|\d{4})",
    "vn_yellow_1row": r"\d\d(?:[A-HK-NP-VX-Z]|LD)-(?:\d{3}\.\d{2}|\d{4})",
    "vn_yellow_2row": r"\d\d(?:[A-HK-NP-VX-Z]|LD) (?:\d{3}\.\d{2}|\d{4})",
    "cn_blue": r"[\u4e00-\u9fff][A-HJ-NP-Z]·[A-HJ-NP-Z0-9]{5}",
    "cn_green_new_energy": r"[\u4e00-\u9fff][A-HJ-NP-Z]·[DF][A-HJ-NP-Z0-9]\d{4}",
    "cn_yellow_1row": r"[\u4e00-\u9fff][A-HJ-NP-Z]·[A-HJ-NP-Z0-9]{5}",
    "cn_yellow_2row": r"[\u4e00-\u9fff][A-HJ-NP-Z] [A-HJ-NP-Z0-9]{5}",
    "cn_trailer": r"[\u4e00-\u9fff][A-HJ-NP-Z] [A-HJ-NP-Z0-9]{4}挂",
    "cn_hk_macao": r"粤Z·[A-HJ-NP-Z0-9]{4}[港澳]",
}

# Formats that smartgate.domain.plates.plate_format_valid does not accept yet (legitimate plates all the same).
_VALIDATOR_GAPS = {
    "vn_moto_2row": "VN motorbike series end in a digit (29-MD1 504.66); the VN pattern has no such series",
    "cn_trailer": "the CN pattern does not accept the 挂 suffix of trailer plates",
    "cn_hk_macao": "the CN pattern does not accept the 港/澳 suffix of cross-border plates",
}

_SIZES_MM = {
    "vn_white_1row": (520, 110),
    "vn_white_2row": (330, 165),
    "vn_moto_2row": (190, 140),
    "vn_yellow_1row": (520, 110),
    "vn_yellow_2row": (330, 165),
    "cn_blue": (440, 140),
    "cn_green_new_energy": (480, 140),
    "cn_yellow_1row": (440, 140),
    "cn_yellow_2row": (440, 220),
    "cn_trailer": (440, 220),
    "cn_hk_macao": (440, 140),
}


def _colour_name(bgr: np.ndarray) -> str:
    b, g, r = (float(c) for c in bgr)
    if min(b, g, r) > 200:
        return "white"
    if max(b, g, r) < 60:
        return "black"
    if b > r + 60 and b > g + 30:
        return "blue"
    if r > 180 and g > 140 and b < 100:
        return "yellow"
    if g > r + 30 and g > b + 20:
        return "green"
    return f"other{(b, g, r)}"


_BACKGROUND = {
    "vn_white": "white",
    "vn_moto": "white",
    "vn_yellow": "yellow",
    "cn_blue": "blue",
    "cn_green": "green",
    "cn_yellow": "yellow",
    "cn_trailer": "yellow",
    "cn_hk": "black",
}


def _luma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)


@pytest.mark.parametrize("style", _styles())
def test_every_style_renders_at_its_proportions_and_colours(style: str) -> None:
    text = random_plate_text(style, random.Random(3))
    image = render_plate(text, style)
    width_mm, height_mm = _SIZES_MM[style]
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert image.shape[:2] == (height_mm, width_mm)  # 1 px per mm at scale 1
    doubled = render_plate(text, style, scale=2.0)
    assert abs(doubled.shape[1] / doubled.shape[0] - width_mm / height_mm) < 0.02

    background = np.median(image.reshape(-1, 3), axis=0)
    expected = next(colour for prefix, colour in _BACKGROUND.items() if style.startswith(prefix))
    assert _colour_name(background) == expected, (style, background)

    # Characters are there, in the ink colour: dark on light plates, near-white on blue and black ones.
    luma = _luma(image)
    light_ink = expected in ("blue", "black")
    ink_fraction = float((luma > 200).mean() if light_ink else (luma < 70).mean())
    assert 0.12 < ink_fraction < 0.6, (style, ink_fraction)


@pytest.mark.parametrize("style", _styles())
def test_random_texts_have_the_printed_form_of_the_style(style: str) -> None:
    rng = random.Random(11)
    spec = STYLES[style]
    for _ in range(200):
        text = random_plate_text(style, rng)
        assert re.fullmatch(_PRINTED[style], text), (style, text)
        assert len(text.split(" ")) == len(spec.rows)


@pytest.mark.parametrize("style", _styles())
def test_random_texts_pass_the_domain_format_check(style: str) -> None:
    rng = random.Random(12)
    country = STYLES[style].country
    texts = [random_plate_text(style, rng) for _ in range(200)]
    rejected = [text for text in texts if not plate_format_valid(text, country)]
    if rejected and style in _VALIDATOR_GAPS:  # passes by itself once the domain check accepts the format
        pytest.xfail(f"{_VALIDATOR_GAPS[style]}: {rejected[:3]}")
    assert not rejected, rejected[:5]


@pytest.mark.parametrize("scene", [False, True], ids=["crop", "scene"])
@pytest.mark.parametrize("style", _styles())
def test_the_same_seed_gives_the_same_plate_bit_for_bit(style: str, scene: bool) -> None:
    first = sample(style, random.Random(42), difficulty=0.9, scene=scene)
    again = sample(style, random.Random(42), difficulty=0.9, scene=scene)
    other = sample(style, random.Random(43), difficulty=0.9, scene=scene)
    assert isinstance(first, SyntheticPlate)
    assert first.text == again.text and first.style == style
    assert first.country == STYLES[style].country and first.rows == len(STYLES[style].rows)
    assert np.array_equal(first.image, again.image)
    assert first.image.shape != other.image.shape or not np.array_equal(first.image, other.image)
    if scene:
        assert first.image.shape == (720, 1280, 3)
        assert np.array_equal(first.corners, again.corners)
    else:
        assert first.corners is None


@pytest.mark.parametrize("style", _styles(country="VN")[:1] + _styles(country="CN")[:1])
def test_difficulty_zero_is_the_clean_render(style: str) -> None:
    plate = sample(style, random.Random(5), difficulty=0.0)
    rng = random.Random(5)
    text = random_plate_text(style, rng)
    assert plate.text == text
    assert np.array_equal(plate.image, render_plate(text, style, scale=rng.uniform(0.7, 1.3)))


@pytest.fixture(scope="module")
def plate() -> np.ndarray:
    return render_plate("29C-123.45", "vn_white_1row")


def test_augment_with_nothing_to_do_returns_an_equal_copy(plate: np.ndarray) -> None:
    out = augment(plate, random.Random(1))
    assert np.array_equal(out, plate) and out is not plate


def test_night_darkens_and_adds_noise(plate: np.ndarray) -> None:
    out = augment(plate, random.Random(1), night=0.8)
    assert _luma(out).mean() < 0.6 * _luma(plate).mean()
    flat = _luma(out)[2:8, 100:400]  # a strip of plain background above the characters
    assert flat.std() > 3


def test_glare_brightens_a_region_and_darkens_nothing(plate: np.ndarray) -> None:
    dark = render_plate("29C-123.45", "vn_yellow_1row")
    out = augment(dark, random.Random(2), glare=1.0)
    gain = _luma(out) - _luma(dark)
    assert gain.min() >= -1
    assert np.percentile(gain, 95) > 40  # a bright patch...
    assert np.percentile(gain, 20) < 5  # ...not a uniform brightening


@pytest.mark.parametrize("seed", [1, 2, 3, 4])  # both the gaussian and the motion kernels are drawn
def test_blur_lowers_sharpness(plate: np.ndarray, seed: int) -> None:
    sharpness = cv2.Laplacian(_luma(plate), cv2.CV_32F).var()
    weak = cv2.Laplacian(_luma(augment(plate, random.Random(seed), blur=0.2)), cv2.CV_32F).var()
    strong = cv2.Laplacian(_luma(augment(plate, random.Random(seed), blur=1.0)), cv2.CV_32F).var()
    assert strong < weak < sharpness


def test_skew_keeps_the_size_and_moves_the_corners_inwards(plate: np.ndarray) -> None:
    out = augment(plate, random.Random(3), skew=1.0)
    assert out.shape == plate.shape
    assert not np.array_equal(out, plate)
    assert abs(int(out[0, 0].mean()) - int(plate[0, 0].mean())) > 40  # the corner now shows the fill, not the plate


def test_jpeg_quality_changes_pixels_a_little(plate: np.ndarray) -> None:
    out = augment(plate, random.Random(4), jpeg_quality=30)
    difference = np.abs(out.astype(np.int16) - plate.astype(np.int16))
    assert 0 < difference.mean() < 10


@pytest.mark.parametrize("seed", range(6))
def test_in_scene_corners_lie_inside_and_frame_the_plate(plate: np.ndarray, seed: int) -> None:
    scene, corners = in_scene(plate, random.Random(seed), size=(1280, 720))
    assert scene.shape == (720, 1280, 3) and scene.dtype == np.uint8
    assert corners.shape == (4, 2) and corners.dtype == np.float32
    assert (corners >= 0).all() and (corners[:, 0] < 1280).all() and (corners[:, 1] < 720).all()
    tl, tr, br, bl = corners
    assert tl[0] < tr[0] and bl[0] < br[0] and tl[1] < bl[1] and tr[1] < br[1]
    width = (np.linalg.norm(tr - tl) + np.linalg.norm(br - bl)) / 2
    assert 0.1 * 1280 < width < 0.32 * 1280

    h, w = plate.shape[:2]
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
    back = cv2.warpPerspective(scene, cv2.getPerspectiveTransform(corners, target), (w, h))
    inner = (slice(round(0.08 * h), round(0.92 * h)), slice(round(0.04 * w), round(0.96 * w)))
    smooth = cv2.GaussianBlur(plate, (0, 0), 2.0)[inner].astype(np.float32)
    error = np.abs(cv2.GaussianBlur(back, (0, 0), 2.0)[inner].astype(np.float32) - smooth).mean()
    assert error < 20, error


def test_two_row_styles_need_two_rows_of_text() -> None:
    with pytest.raises(ValueError, match="2 row"):
        render_plate("29C-123.45", "vn_white_2row")
    with pytest.raises(ValueError, match="unknown plate style"):
        render_plate("29C-123.45", "vn_pink")


def test_a_missing_font_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SMARTGATE_FONT_CJK", raising=False)
    monkeypatch.setitem(synth.FONT_CANDIDATES, "cjk", (("/nonexistent/font.ttc", "fonts-wqy-microhei"),))
    with pytest.raises(FileNotFoundError, match="fonts-wqy-microhei"):
        font_path("cjk")
