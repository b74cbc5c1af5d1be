"""Synthetic licence plates: deterministic renders of Vietnamese and Chinese formats, for tests and measurements.

Plates are drawn flat at their legal proportions (1 px per mm at ``scale=1``) with Pillow and a TrueType font,
then degraded by ``augment`` (blur, perspective skew, glare, night noise, JPEG) and optionally pasted into a
simple synthetic truck-front scene. Every random choice comes from the ``random.Random`` passed in, so one seed
gives the same image bit for bit (on one machine: the font files found must be the same). Fonts are looked up
on disk only (see ``infra/fonts.md``); nothing is downloaded.
"""

from __future__ import annotations

import math
import os
import random
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

RGB = tuple[int, int, int]
FontKind = Literal["latin", "cjk"]
SUPERSAMPLE = 2  # plates are drawn at twice the size and shrunk, for smooth edges

# (path, Debian package) in order of preference; SMARTGATE_FONT_LATIN / SMARTGATE_FONT_CJK override.
FONT_CANDIDATES: dict[str, tuple[tuple[str, str], ...]] = {
    "latin": (
        ("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf", "fonts-dejavu-extra"),
        ("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", "fonts-dejavu-core"),
    ),
    "cjk": (
        ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", "fonts-wqy-microhei"),
        ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", "fonts-noto-cjk"),
    ),
}


def font_path(kind: FontKind) -> Path:
    """The font file used for ``kind``; raises FileNotFoundError naming the Debian package to install."""
    override = os.environ.get(f"SMARTGATE_FONT_{kind.upper()}")
    if override and Path(override).is_file():
        return Path(override)
    for path, _package in FONT_CANDIDATES[kind]:
        if Path(path).is_file():
            return Path(path)
    package = FONT_CANDIDATES[kind][0][1]
    raise FileNotFoundError(f"no {kind} font for synthetic plates: apt-get install -y {package}")


@dataclass(frozen=True)
class _Row:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the characters, mm
    char_w: float  # width of one character cell, mm
    gap: float  # between cells, mm
    sep_pad: float = 0.0  # extra space each side of a separator ("-", ".", "·"), mm


@dataclass(frozen=True)
class _Style:
    country: str
    size: tuple[int, int]  # width, height in mm
    background: RGB
    ink: RGB
    border: RGB
    rows: tuple[_Row, ...]
    gradient_to: RGB | None = None  # bottom colour of a vertical background gradient
    border_width: float = 3.0


_VN_WHITE, _VN_YELLOW, _BLACK = (246, 246, 242), (250, 208, 30), (18, 18, 18)
_CN_BLUE, _CN_YELLOW, _WHITE = (16, 66, 168), (246, 190, 20), (240, 240, 240)
_VN_1ROW = (_Row((14, 15, 506, 95), 44, 8),)
_VN_CAR_2ROW = (_Row((12, 12, 318, 78), 40, 8), _Row((12, 88, 318, 154), 40, 8))
_VN_MOTO_2ROW = (_Row((8, 10, 182, 63), 26, 4), _Row((8, 75, 182, 130), 28, 4))
_CN_1ROW = (_Row((15.5, 25, 424.5, 115), 45, 12),)
_CN_2ROW = (_Row((110, 15, 330, 75), 80, 60), _Row((27.5, 95, 412.5, 205), 65, 15))

STYLES: dict[str, _Style] = {
    "vn_white_1row": _Style("VN", (520, 110), _VN_WHITE, _BLACK, _BLACK, _VN_1ROW, border_width=4),
    "vn_white_2row": _Style("VN", (330, 165), _VN_WHITE, _BLACK, _BLACK, _VN_CAR_2ROW, border_width=4),
    "vn_moto_2row": _Style("VN", (190, 140), _VN_WHITE, _BLACK, _BLACK, _VN_MOTO_2ROW),
    "vn_yellow_1row": _Style("VN", (520, 110), _VN_YELLOW, _BLACK, _BLACK, _VN_1ROW, border_width=4),
    "vn_yellow_2row": _Style("VN", (330, 165), _VN_YELLOW, _BLACK, _BLACK, _VN_CAR_2ROW, border_width=4),
    "cn_blue": _Style("CN", (440, 140), _CN_BLUE, _WHITE, _WHITE, _CN_1ROW),
    "cn_green_new_energy": _Style(
        "CN",
        (480, 140),
        (236, 246, 236),
        _BLACK,
        (60, 70, 60),
        (_Row((15.5, 25, 464.5, 115), 43, 9, sep_pad=10),),
        gradient_to=(70, 190, 105),
        border_width=1.5,
    ),
    "cn_yellow_1row": _Style("CN", (440, 140), _CN_YELLOW, _BLACK, _BLACK, _CN_1ROW),
    "cn_yellow_2row": _Style("CN", (440, 220), _CN_YELLOW, _BLACK, _BLACK, _CN_2ROW),
    "cn_trailer": _Style("CN", (440, 220), _CN_YELLOW, _BLACK, _BLACK, _CN_2ROW),
    "cn_hk_macao": _Style("CN", (440, 140), (14, 14, 16), _WHITE, _WHITE, _CN_1ROW),
}
_SEPARATORS = "-.·"


def _style(style: str) -> _Style:
    try:
        return STYLES[style]
    except KeyError:
        raise ValueError(f"unknown plate style {style!r}; known: {', '.join(STYLES)}") from None


@lru_cache(maxsize=512)
def _glyph(char: str) -> Image.Image:
    """The ink of one character as an 'L' mask cropped to its bounding box (drawn large, shrunk later)."""
    cjk = ord(char) > 0x2E80
    font = ImageFont.truetype(str(font_path("cjk" if cjk else "latin")), 256)
    canvas = Image.new("L", (420, 420), 0)
    # The CJK font is a regular weight: a stroke makes it as heavy as plate lettering.
    ImageDraw.Draw(canvas).text(
        (210, 210), char, fill=255, font=font, anchor="mm", stroke_width=7 if cjk else 0, stroke_fill=255
    )
    bbox = canvas.getbbox()
    if bbox is None:
        raise ValueError(f"the font has no glyph for {char!r}")
    return canvas.crop(bbox)


def _row_cells(chars: str, row: _Row) -> list[tuple[str, float, float]]:
    """(char, x, width) in mm for each character of a row: fixed-pitch cells, centred, shrunk if too wide."""
    height = row.box[3] - row.box[1]
    sep_w = {"-": 0.3 * height, ".": 0.15 * height, "·": 0.12 * height}
    widths = [sep_w[c] + 2 * row.sep_pad if c in _SEPARATORS else row.char_w for c in chars]
    total = sum(widths) + row.gap * (len(chars) - 1)
    fit = min(1.0, (row.box[2] - row.box[0]) / total)
    x = (row.box[0] + row.box[2]) / 2 - total * fit / 2
    cells = []
    for char, width in zip(chars, widths, strict=True):
        cells.append((char, x, width * fit))
        x += (width + row.gap) * fit
    return cells


def render_plate(text: str, style: str, *, scale: float = 1.0) -> np.ndarray:
    """A clean, flat plate (BGR uint8), ``scale`` pixels per millimetre. Two-row texts separate rows by a space."""
    spec = _style(style)
    rows = text.split(" ")
    if len(rows) != len(spec.rows) or not all(rows):
        raise ValueError(f"{style} plates have {len(spec.rows)} row(s) of characters; got {text!r}")
    k = scale * SUPERSAMPLE
    width, height = round(spec.size[0] * k), round(spec.size[1] * k)
    if spec.gradient_to is None:
        plate = Image.new("RGB", (width, height), spec.background)
    else:
        t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None] ** 1.5
        top, bottom = np.array(spec.background, np.float32), np.array(spec.gradient_to, np.float32)
        column = np.round(top * (1 - t) + bottom * t).astype(np.uint8)
        plate = Image.fromarray(np.ascontiguousarray(np.broadcast_to(column, (height, width, 3))))
    draw = ImageDraw.Draw(plate)
    inset, line = 2.5 * k, max(1, round(spec.border_width * k))
    draw.rounded_rectangle(
        (inset, inset, width - 1 - inset, height - 1 - inset), radius=round(8 * k), outline=spec.border, width=line
    )
    for chars, row in zip(rows, spec.rows, strict=True):
        y0, y1 = row.box[1] * k, row.box[3] * k
        for char, x, w in _row_cells(chars, row):
            x0, x1 = x * k, (x + w) * k
            if char == "-":
                thick = (y1 - y0) * 0.09
                draw.rectangle((x0, (y0 + y1) / 2 - thick, x1, (y0 + y1) / 2 + thick), fill=spec.ink)
            elif char in ".·":
                radius = min(x1 - x0, (y1 - y0) * 0.12) / 2
                cy = y1 - radius if char == "." else (y0 + y1) / 2
                draw.ellipse(((x0 + x1) / 2 - radius, cy - radius, (x0 + x1) / 2 + radius, cy + radius), fill=spec.ink)
            else:
                _paste_glyph(plate, char, (x0, y0, x1, y1), spec.ink)
    out_size = (round(spec.size[0] * scale), round(spec.size[1] * scale))
    small = np.asarray(plate.resize(out_size, Image.Resampling.LANCZOS))
    return np.ascontiguousarray(small[:, :, ::-1])


def _paste_glyph(plate: Image.Image, char: str, cell: tuple[float, float, float, float], ink: RGB) -> None:
    """Stretch a glyph to the cell height; Latin glyphs keep their proportions condensed like plate lettering."""
    mask = _glyph(char)
    x0, y0, x1, y1 = cell
    cell_w, cell_h = x1 - x0, y1 - y0
    if ord(char) > 0x2E80:
        target_w = cell_w
    else:
        reference = _glyph("0")  # a full-width digit fills the cell; narrower glyphs ("1", "I") stay narrow
        condense = cell_w / (reference.width * cell_h / reference.height)
        target_w = min(cell_w, mask.width * cell_h / mask.height * condense)
    w, h = max(1, round(target_w)), max(1, round(cell_h))
    plate.paste(ink, (round((x0 + x1 - w) / 2), round(y0)), mask.resize((w, h), Image.Resampling.LANCZOS))


_VN_PROVINCES = (
    "11",
    "12",
    "14",
    "15",
    "19",
    "20",
    "21",
    "22",
    "23",
    "24",
    "25",
    "26",
    "27",
    "29",
    "30",
    "34",
    "36",
    "37",
    "43",
    "51",
    "59",
    "61",
    "88",
    "98",
    "99",
)
_VN_LETTERS = "ABCDEFGHKLMNPSTUVXYZ"  # I, J, O, Q, W are not used; R is for trailers
_CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_CN_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # I and O are not used
_DIGITS = "0123456789"


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(_DIGITS) for _ in range(n))


def _vn_number(rng: random.Random) -> str:
    """'123.45' (current five-digit series) or '1234' (older four-digit)."""
    number = _digits(rng, 5)
    return f"{number[:3]}.{number[3:]}" if rng.random() < 0.8 else number[:4]


def _cn_serial(rng: random.Random, n: int, max_letters: int) -> str:
    letters = rng.choices(range(max_letters + 1), weights=(50, 35, 15)[: max_letters + 1])[0]
    at = set(rng.sample(range(n), letters))
    return "".join(rng.choice(_CN_LETTERS) if i in at else rng.choice(_DIGITS) for i in range(n))


def random_plate_text(style: str, rng: random.Random) -> str:
    """A valid-looking text for ``style`` as printed, e.g. '29C-123.45', '29-MD1 504.66', '云A·88K21'."""
    spec = _style(style)
    if spec.country == "VN":
        province = rng.choice(_VN_PROVINCES)
        if style == "vn_moto_2row":
            series = f"MD{rng.randint(1, 9)}" if rng.random() < 0.2 else f"{rng.choice(_VN_LETTERS)}{rng.randint(1, 9)}"
            return f"{province}-{series} {_vn_number(rng)}"
        series = "LD" if rng.random() < 0.1 else rng.choice("CCC" + _VN_LETTERS if "yellow" in style else _VN_LETTERS)
        return f"{province}{series}{' ' if len(spec.rows) == 2 else '-'}{_vn_number(rng)}"
    province = "粤" if style == "cn_hk_macao" else rng.choice(_CN_PROVINCES + "云云桂桂")  # border provinces
    letter = "Z" if style == "cn_hk_macao" else rng.choice(_CN_LETTERS[:17])
    if style == "cn_green_new_energy":
        second = rng.choice(_CN_LETTERS) if rng.random() < 0.3 else rng.choice(_DIGITS)
        return f"{province}{letter}·{rng.choice('DF')}{second}{_digits(rng, 4)}"
    if style == "cn_hk_macao":
        return f"{province}{letter}·{_cn_serial(rng, 4, 1)}{rng.choice('港澳')}"
    if style == "cn_trailer":
        return f"{province}{letter} {_cn_serial(rng, 4, 1)}挂"
    return f"{province}{letter}{' ' if len(spec.rows) == 2 else '·'}{_cn_serial(rng, 5, 2)}"


def augment(
    image: np.ndarray,
    rng: random.Random,
    *,
    blur: float = 0.0,
    skew: float = 0.0,
    glare: float = 0.0,
    night: float = 0.0,
    jpeg_quality: int | None = None,
) -> np.ndarray:
    """A degraded copy of a BGR image; each strength is 0..1 and 0 leaves that effect out.

    Applied in camera order: ``skew`` (perspective, up to ~18% of the side, filled with a vehicle-body grey),
    ``glare`` (a soft elliptical highlight towards white), ``blur`` (gaussian sigma up to 3 px or a motion streak
    up to 15 px, in pixels of this image), ``night`` (darker, a sodium or LED colour cast, sensor noise) and JPEG.
    """
    noise = np.random.default_rng(rng.getrandbits(64))
    out: np.ndarray = image.astype(np.float32)
    h, w = out.shape[:2]
    if skew > 0:
        jitter = [(rng.uniform(0, 0.18) * skew * w, rng.uniform(0, 0.15) * skew * h) for _ in range(4)]
        src = np.array([[0, 0], [w, 0], [w, h], [0, h]], np.float32)
        dst = src + np.array(
            [
                [dx, dy] if i == 0 else [-dx, dy] if i == 1 else [-dx, -dy] if i == 2 else [dx, -dy]
                for i, (dx, dy) in enumerate(jitter)
            ],
            np.float32,
        )
        fill = rng.randint(30, 140)
        out = cv2.warpPerspective(
            out,
            cv2.getPerspectiveTransform(src, dst),
            (w, h),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(fill, fill, fill + rng.randint(-15, 15)),
        )
    if glare > 0:
        cx, cy = rng.uniform(0.15, 0.85) * w, rng.uniform(0.2, 0.8) * h
        a, b, angle = rng.uniform(0.12, 0.35) * w, rng.uniform(0.25, 0.6) * h, rng.uniform(-0.6, 0.6)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        u = ((xx - cx) * math.cos(angle) + (yy - cy) * math.sin(angle)) / a
        v = (-(xx - cx) * math.sin(angle) + (yy - cy) * math.cos(angle)) / b
        highlight = np.exp(-2.0 * (u * u + v * v))[:, :, None] * min(1.0, glare) * 0.95
        out = out + (255.0 - out) * highlight
    if blur > 0:
        if rng.random() < 0.5:
            sigma = 0.4 + 2.6 * blur
            out = cv2.GaussianBlur(out, (0, 0), sigmaX=sigma, sigmaY=sigma)
        else:
            length = max(2, round(3 + 12 * blur))
            kernel = np.zeros((length, length), np.float32)
            angle = math.radians(rng.uniform(-25, 25))
            c, dx, dy = (length - 1) / 2, math.cos(angle) * (length - 1) / 2, math.sin(angle) * (length - 1) / 2
            cv2.line(kernel, (round(c - dx), round(c - dy)), (round(c + dx), round(c + dy)), 1.0, 1, cv2.LINE_AA)
            out = cv2.filter2D(out, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT)
    if night > 0:
        night = min(1.0, night)
        cast = rng.choice(((0.75, 0.95, 1.15), (1.12, 1.0, 0.85)))  # BGR gains: sodium orange, cold LED blue
        gain = (1.0 - 0.72 * night) * np.array([1 + (g - 1) * night for g in cast], np.float32)
        out = 255.0 * (out / 255.0) ** (1.0 + 0.6 * night) * gain
        sigma = 2.0 + 14.0 * night
        grain = noise.normal(0.0, sigma, (h, w, 1)) + noise.normal(0.0, sigma * 0.4, (h, w, 3))
        out = out + grain.astype(np.float32)
    result: np.ndarray = np.clip(np.round(out), 0, 255).astype(np.uint8)
    if jpeg_quality is not None:
        ok, encoded = cv2.imencode(".jpg", result, [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)])
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
        if decoded is None:
            raise ValueError("JPEG round trip failed")
        result = decoded
    return result


_TRUCK_COLOURS = ((235, 235, 232), (40, 40, 190), (170, 90, 30), (50, 120, 50), (150, 150, 150), (30, 170, 230))


def in_scene(
    plate: np.ndarray,
    rng: random.Random,
    *,
    size: tuple[int, int] = (1280, 720),
    plate_width_frac: tuple[float, float] = (0.12, 0.3),
) -> tuple[np.ndarray, np.ndarray]:
    """Paste the plate, in perspective, on the bumper of a drawn truck front; (scene BGR, corners tl-tr-br-bl)."""
    W, H = size
    yy = np.linspace(0.0, 1.0, H, dtype=np.float32)[:, None, None]
    sky, ground = np.array([rng.randint(150, 220)] * 3, np.float32), np.array([rng.randint(60, 110)] * 3, np.float32)
    scene = np.ascontiguousarray(np.broadcast_to(sky * (1 - yy) + ground * yy, (H, W, 3))).astype(np.uint8)
    left, right = round(rng.uniform(0.05, 0.2) * W), round(rng.uniform(0.8, 0.95) * W)
    body = tuple(int(c) + rng.randint(-15, 15) for c in rng.choice(_TRUCK_COLOURS))
    cv2.rectangle(scene, (left, round(-0.05 * H)), (right, round(0.9 * H)), body, -1)
    glass_bottom = round(rng.uniform(0.25, 0.38) * H)
    glass = np.array(
        [
            [left + 0.06 * W, 0.03 * H],
            [right - 0.06 * W, 0.03 * H],
            [right - 0.03 * W, glass_bottom],
            [left + 0.03 * W, glass_bottom],
        ],
        np.int32,
    )
    cv2.fillPoly(scene, [glass], (rng.randint(40, 80), rng.randint(40, 70), rng.randint(30, 50)), cv2.LINE_AA)
    bumper_top, bumper_bottom = round(rng.uniform(0.62, 0.7) * H), round(rng.uniform(0.82, 0.88) * H)
    grille = (
        round(left + 0.22 * (right - left)),
        glass_bottom + round(0.06 * H),
        round(right - 0.22 * (right - left)),
        bumper_top - round(0.05 * H),
    )
    cv2.rectangle(scene, grille[:2], grille[2:], (45, 45, 45), -1)
    for y in range(grille[1] + 6, grille[3], rng.randint(10, 18)):
        cv2.line(scene, (grille[0] + 4, y), (grille[2] - 4, y), (150, 150, 150), 2, cv2.LINE_AA)
    cv2.circle(
        scene,
        ((grille[0] + grille[2]) // 2, (grille[1] + grille[3]) // 2),
        round(0.03 * H),
        (200, 200, 205),
        -1,
        cv2.LINE_AA,
    )
    for x in (left + 0.09 * (right - left), right - 0.09 * (right - left)):
        cv2.ellipse(
            scene,
            (round(x), bumper_top - round(0.1 * H)),
            (round(0.05 * W), round(0.035 * H)),
            0,
            0,
            360,
            (225, 235, 240),
            -1,
            cv2.LINE_AA,
        )
    cv2.rectangle(scene, (left - 8, bumper_top), (right + 8, bumper_bottom), (55, 55, 58), -1)
    for x in (left + 0.12 * (right - left), right - 0.12 * (right - left)):  # wheels
        cv2.ellipse(scene, (round(x), round(0.93 * H)), (round(0.06 * W), round(0.08 * H)), 0, 0, 360, (25, 25, 25), -1)

    ph, pw = plate.shape[:2]
    width = rng.uniform(*plate_width_frac) * W
    height = width * ph / pw
    cx = rng.uniform(-0.08, 0.08) * W + W / 2
    cy = min(max((bumper_top + bumper_bottom) / 2 + rng.uniform(-0.04, 0.04) * H, height), H - height)
    roll, yaw, pitch = rng.uniform(-0.08, 0.08), rng.uniform(-0.15, 0.15), rng.uniform(-0.08, 0.08)
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * [width / 2, height / 2]
    # Yaw shortens one vertical side, pitch one horizontal side; roll turns the whole plate.
    half[:, 1] *= 1 + yaw * np.sign(half[:, 0])
    half[:, 0] *= 1 - pitch * np.sign(half[:, 1])
    rotation = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]], np.float32)
    corners = (half @ rotation.T + [cx, cy]).astype(np.float32)
    corners = np.clip(corners, 1, [W - 2, H - 2]).astype(np.float32)

    holder = ((corners - corners.mean(axis=0)) * 1.06 + corners.mean(axis=0)).round().astype(np.int32)
    cv2.fillPoly(scene, [holder], (20, 20, 22), cv2.LINE_AA)
    src = np.array([[0, 0], [pw, 0], [pw, ph], [0, ph]], np.float32)
    matrix = cv2.getPerspectiveTransform(src, corners)
    warped = cv2.warpPerspective(plate, matrix, (W, H), flags=cv2.INTER_AREA if width < pw else cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(np.ones((ph, pw), np.float32), matrix, (W, H), flags=cv2.INTER_LINEAR)[:, :, None]
    scene = np.round(scene * (1 - mask) + warped * mask).astype(np.uint8)
    return scene, corners


@dataclass(frozen=True)
class SyntheticPlate:
    image: np.ndarray  # BGR uint8
    text: str  # as printed; two-row plates separate rows by one space
    country: str  # "VN" | "CN"
    rows: int  # 1 | 2
    style: str
    corners: np.ndarray | None  # 4x2 float32 tl, tr, br, bl in the image when placed in a scene, else None


def sample(style: str, rng: random.Random, *, difficulty: float = 0.5, scene: bool = False) -> SyntheticPlate:
    """One random plate of ``style``, degraded according to ``difficulty`` (0 = clean, 1 = hard)."""
    spec = _style(style)
    d = min(1.0, max(0.0, difficulty))
    text = random_plate_text(style, rng)
    scale = rng.uniform(0.7, 1.3)

    def strength() -> float:
        applies = rng.random() < 0.25 + 0.6 * d
        amount = d * rng.uniform(0.4, 1.0)
        return amount if applies else 0.0

    blur, skew, glare = strength(), strength(), strength()
    night = d * rng.uniform(0.5, 1.0) if rng.random() < 0.5 * d else 0.0
    quality = round(95 - 65 * d * rng.random())
    jpeg = quality if d > 0 else None
    plate = render_plate(text, style, scale=1.0 if scene else scale)
    corners = None
    if scene:
        plate = augment(plate, rng, glare=glare)  # a headlight on the plate itself; the scene gives the perspective
        image, corners = in_scene(plate, rng)
        image = augment(image, rng, blur=blur, night=night, jpeg_quality=jpeg)
    else:
        image = augment(plate, rng, blur=blur, skew=skew, glare=glare, night=night, jpeg_quality=jpeg)
    return SyntheticPlate(image, text, spec.country, len(spec.rows), style, corners)


def random_container_code(rng: random.Random) -> str:
    """A well-formed ISO 6346 code with the right check digit, e.g. ``"MSKU6011672"``."""
    from smartgate.domain.containers import check_digit

    owner = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(3)) + rng.choice("UUUJZ")
    serial = _digits(rng, 6)
    return f"{owner}{serial}{check_digit(owner + serial)}"


def render_container_door(
    code: str, rng: random.Random, *, size: tuple[int, int] = (960, 540), two_lines: bool = False
) -> np.ndarray:
    """A container door: corrugated paint, the code in white (check digit boxed), size/type code below."""
    w, h = size
    paint = rng.choice([(40, 40, 150), (30, 90, 30), (120, 60, 20), (90, 90, 90), (20, 60, 130)])  # BGR-ish
    door = np.zeros((h, w, 3), np.uint8)
    door[:] = paint
    for x in range(0, w, 24):  # vertical corrugation
        shade = 25 if (x // 24) % 2 else -25
        door[:, x : x + 12] = np.clip(np.array(paint, int) + shade, 0, 255)
    image = Image.fromarray(cv2.cvtColor(door, cv2.COLOR_BGR2RGB))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(font_path("latin")), size=int(h * rng.uniform(0.09, 0.13)))
    x, y = int(w * rng.uniform(0.08, 0.2)), int(h * rng.uniform(0.12, 0.3))
    owner, serial, digit = code[:4], code[4:10], code[10]
    lines = [f"{owner}", f"{serial}"] if two_lines else [f"{owner} {serial}"]
    for i, line in enumerate(lines):
        ly = y + i * int(font.size * 1.3)
        draw.text((x, ly), line, font=font, fill=(245, 245, 245))
        if i == len(lines) - 1:
            right = draw.textbbox((x, ly), line + " ", font=font)[2]
            box = draw.textbbox((right, ly), digit, font=font)
            draw.rectangle((box[0] - 6, box[1] - 6, box[2] + 6, box[3] + 6), outline=(245, 245, 245), width=3)
            draw.text((right, ly), digit, font=font, fill=(245, 245, 245))
    small = ImageFont.truetype(str(font_path("latin")), size=int(font.size * 0.7))
    draw.text(
        (x, y + len(lines) * int(font.size * 1.3) + 10),
        rng.choice(["45G1", "22G1", "42R1"]),
        font=small,
        fill=(245, 245, 245),
    )
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)
