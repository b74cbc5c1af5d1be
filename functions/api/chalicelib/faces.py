"""The enrolment photo turned into a face embedding, in memory: the photo is decoded, checked by the lane's
own quality gate, embedded, and dropped (never written anywhere). The detector and embedder load once per
container (their models take a moment)."""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Any

from smartgate.api.http import ApiProblem, field_problem

MAX_PHOTO_BYTES = 2_000_000


@lru_cache(maxsize=1)
def _verifier() -> Any:
    try:
        from smartgate_edge.vision.faces import FaceVerifier  # cv2 + dlib: only this route needs them
    except ImportError as err:  # a deployment without the face layer
        missing = f"face enrolment is not available here (the face models are not installed: {err})"
        raise ApiProblem(503, missing) from err
    return FaceVerifier()


def embedding_of(photo_b64: str) -> tuple[Any, Any]:
    """(embedding, quality) of the photo's one face, or a 422 naming ``body.photo`` and why."""
    verifier = _verifier()
    import cv2
    import numpy as np

    try:
        raw = base64.b64decode(photo_b64, validate=True)
    except (binascii.Error, ValueError) as err:
        raise field_problem("body.photo", f"not base64: {err}") from err
    if len(raw) > MAX_PHOTO_BYTES:
        raise field_problem("body.photo", f"at most {MAX_PHOTO_BYTES // 1_000_000} MB (got {len(raw):,} bytes)")
    if not (raw.startswith(b"\xff\xd8\xff") or raw.startswith(b"\x89PNG\r\n\x1a\n")):
        raise field_problem("body.photo", "a JPEG or PNG image is needed")
    image = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR)
    del raw
    if image is None:
        raise field_problem("body.photo", "the image does not decode")
    embedding, quality = verifier.embedding(image)
    image.fill(0)
    if embedding is None:
        why = {
            "no_face": "no face found",
            "several_faces": "more than one face: the driver alone, please",
            "too_small": f"the face is too small ({quality.face_px} px wide): closer, please",
            "blurred": "the face is blurred: hold still, in good light",
        }[quality.reason.value]
        raise field_problem("body.photo", f"{why} (a face photo like a passport's)")
    return embedding, quality
