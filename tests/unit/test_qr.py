"""QR passes: codes generated with OpenCV's own QRCodeEncoder, decoded by decode_qr."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from smartgate_edge.vision.qr import QrCode, decode_qr

pytestmark = pytest.mark.skipif(not hasattr(cv2, "QRCodeEncoder"), reason="this OpenCV build has no QRCodeEncoder")

TOKEN = "SGP1.eyJib29raW5nX2lkIjoiYmstMDAxIiwicGxhdGUiOiIyOUMxMjM0NSJ9.c2lnbmF0dXJl"


def qr_image(payload: str, module_px: int = 6) -> np.ndarray:
    """A black-on-white QR code with the 4-module quiet zone the standard asks for (grayscale)."""
    code = cv2.QRCodeEncoder.create().encode(payload)
    code = cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    border = 4 * module_px
    return cv2.copyMakeBorder(code, border, border, border, border, cv2.BORDER_CONSTANT, value=255)


def on_canvas(*codes: np.ndarray, gap: int = 40) -> np.ndarray:
    height = max(code.shape[0] for code in codes) + 2 * gap
    width = sum(code.shape[1] for code in codes) + gap * (len(codes) + 1)
    canvas = np.full((height, width), 230, np.uint8)
    x = gap
    for code in codes:
        canvas[gap : gap + code.shape[0], x : x + code.shape[1]] = code
        x += code.shape[1] + gap
    return canvas


def test_decodes_a_pass_token_from_grayscale_bgr_and_bgra() -> None:
    gray = qr_image(TOKEN)
    for image in (gray, cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), cv2.cvtColor(gray, cv2.COLOR_GRAY2BGRA)):
        codes = decode_qr(image)
        assert [code.payload for code in codes] == [TOKEN]
        assert len(codes[0].corners) == 4


def test_corners_lie_on_the_code() -> None:
    image = on_canvas(qr_image("PASS-1"))
    (code,) = decode_qr(image)
    xs = [x for x, _ in code.corners]
    ys = [y for _, y in code.corners]
    assert min(xs) >= 30 and max(xs) <= image.shape[1] - 30
    assert min(ys) >= 30 and max(ys) <= image.shape[0] - 30


@pytest.mark.parametrize(("angle", "scale"), [(0, 0.5), (30, 0.8), (90, 1.0), (-45, 1.5), (170, 1.2)])
def test_decodes_rotated_and_scaled_codes(angle: float, scale: float) -> None:
    code = qr_image("PASS-rotated-42", module_px=8)
    canvas = on_canvas(code, gap=120)
    h, w = canvas.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    warped = cv2.warpAffine(canvas, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=230)
    scene = cv2.cvtColor(warped, cv2.COLOR_GRAY2BGR)
    assert [c.payload for c in decode_qr(scene)] == ["PASS-rotated-42"]


def test_two_codes_in_one_frame() -> None:
    image = cv2.cvtColor(on_canvas(qr_image("PASS-A"), qr_image("PASS-BBBB")), cv2.COLOR_GRAY2BGR)
    codes = decode_qr(image)
    assert sorted(code.payload for code in codes) == ["PASS-A", "PASS-BBBB"]
    assert all(isinstance(code, QrCode) and len(code.corners) == 4 for code in codes)


def test_code_in_a_noisy_lane_frame() -> None:
    rng = np.random.default_rng(7)
    frame = rng.integers(60, 120, size=(720, 1280, 3), dtype=np.uint8)
    code = cv2.cvtColor(qr_image(TOKEN, module_px=5), cv2.COLOR_GRAY2BGR)
    frame[300 : 300 + code.shape[0], 700 : 700 + code.shape[1]] = code
    assert [c.payload for c in decode_qr(frame)] == [TOKEN]


def test_blank_and_noise_images_have_no_code() -> None:
    assert decode_qr(np.full((200, 300, 3), 255, np.uint8)) == []
    assert decode_qr(np.zeros((120, 160), np.uint8)) == []
    assert decode_qr(np.random.default_rng(1).integers(0, 255, size=(240, 320, 3), dtype=np.uint8)) == []


def test_empty_image_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        decode_qr(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        decode_qr(None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shape"):
        decode_qr(np.zeros((10, 10, 5), np.uint8))


def test_every_rendered_pass_decodes_as_the_lane_reads_it() -> None:
    """The pass the API renders (PNG) must read at the lane whatever its content: OpenCV's classic detector
    alone misses about one in thirty (seed 1: 11 of 300), so decode_qr falls back to the ArUco-based one."""
    import random

    from smartgate.adapters.passes import qr

    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"  # Base45, the pass token's alphabet
    rng = random.Random(1)
    missed = []
    for _ in range(120):
        token = "SG2:" + "".join(rng.choice(alphabet) for _ in range(180))
        image = cv2.imdecode(np.frombuffer(qr(token, "png"), np.uint8), cv2.IMREAD_GRAYSCALE)
        if [code.payload for code in decode_qr(image)] != [token]:
            missed.append(token)
    assert not missed, f"{len(missed)} of 120 passes did not decode"
