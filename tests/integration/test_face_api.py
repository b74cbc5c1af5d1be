"""A trader enrols a driver's face with the driver's consent, through the API on the local stack: the photo
is refused with its reason when no face can be used, never kept; the embedding is kept encrypted under the
stack's face key; every use is on the driver's record; withdrawal deletes it."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from smartgate_edge.vision.faces import FaceVerifier, distance
from trade_helpers import new_trader

from smartgate.adapters.biometrics import DynamoFaceStore
from smartgate.domain import biometrics as B
from smartgate.facekey import KmsFaceCipher
from smartgate.schemas import utc_now

pytestmark = pytest.mark.integration
DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "faces" / "dev" / "images"


def _photo(name: str) -> str:
    if not DEV.is_dir():
        if os.environ.get("CI"):
            pytest.fail(f"the face dev photos are missing at {DEV}")
        pytest.skip(f"no face dev photos at {DEV}")
    return base64.b64encode((DEV / name).read_bytes()).decode()


class Clock:
    def now(self):  # type: ignore[no-untyped-def]
        return utc_now()


def test_a_driver_is_enrolled_with_consent_used_on_the_record_and_withdrawn(stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    trader = new_trader(stack, stack_client, prefix="FACE")
    driver_id = trader.driver("Trần Thị Bình", "C99887766")
    photo = _photo("Sharon_Stone_0001.jpg")
    consent = {"given": True, "text_version": "face-1to1-2026-12", "method": "app", "given_at": utc_now().isoformat()}
    path = f"/drivers/{driver_id}/face"

    refused = trader.api.put(path, {"photo": photo, "consent": {**consent, "given": False}})
    assert refused.status == 422 and "body.consent.given" in refused.fields()
    ok, blank = cv2.imencode(".png", np.full((240, 320, 3), 128, np.uint8))
    no_face = trader.api.put(path, {"photo": base64.b64encode(blank.tobytes()).decode(), "consent": consent})
    assert no_face.status == 422 and no_face.fields() == ["body.photo"] and "no face found" in no_face.problem["detail"]
    not_image = trader.api.put(path, {"photo": base64.b64encode(b"x" * 200).decode(), "consent": consent})
    assert not_image.status == 422 and "JPEG or PNG" in not_image.problem["detail"]
    other = new_trader(stack, stack_client, prefix="FACE")
    assert other.api.put(path, {"photo": photo, "consent": consent}).status == 404  # not their driver

    enrolled = trader.api.put(path, {"photo": photo, "consent": consent})

    assert enrolled.status == 200, enrolled.raw
    driver = trader.api.get(f"/drivers/{driver_id}").body
    assert enrolled.body["expires_at"] <= driver["expires_at"]  # never kept past the driver's record
    store = DynamoFaceStore(stack_client.name("FacesTable"), "us-east-1")
    record = store.get(trader.company_id, driver_id)
    assert record is not None and len(record.ciphertext) > 128 * 4
    kms = stack_client.client("kms")
    key = str(stack_client.template.resolve({"Ref": "FaceKey"}))
    deps = B.BiometricDeps(store, KmsFaceCipher(kms, key), stack_client.trade, Clock())  # the API's access log
    kept = B.reference(deps, trader.company_id, driver_id, "test lane out-1", "lane:test")
    probe, _ = FaceVerifier().embedding(cv2.imread(str(DEV / "Sharon_Stone_0002.jpg")))
    assert kept is not None and probe is not None
    assert distance(np.asarray(kept, np.float32), probe) <= 0.6  # the same woman, another photo
    assert np.asarray(kept, "<f4").tobytes() not in record.ciphertext

    uses = trader.api.get(f"{path}/uses")
    assert uses.status == 200, uses.raw
    whats = [u["what"] for u in uses.body]
    assert whats[0].startswith("face enrolled (consent face-1to1-2026-12, app")
    assert "face used: test lane out-1" in whats

    gone = trader.api.call("DELETE", path)
    assert gone.status == 200 and gone.body == {"driver_id": driver_id, "deleted": True, "lanes_told": []}
    assert store.get(trader.company_id, driver_id) is None
    assert B.reference(deps, trader.company_id, driver_id, "after withdrawal", "lane:test") is None
    again = trader.api.call("DELETE", path)
    assert again.status == 200 and again.body["deleted"] is False
    after = [u["what"] for u in trader.api.get(f"{path}/uses").body]
    assert "consent withdrawn: face data deleted" in after
    log = Path(stack.state_dir) / "logs" / "ApiFunction.log"
    assert photo[:64] not in log.read_text(errors="replace")  # the photo never reached the logs
