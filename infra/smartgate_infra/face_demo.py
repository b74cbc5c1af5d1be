"""`make demo`, section 12: the driver's face at the lane, 1:1 and with consent.

A trader registers a driver and enrols the driver's face with the driver's consent (the photo becomes an
embedding in memory and is not kept). Two trucks booked for that driver come to two sandbox lanes with a cab
camera — the real LaneVision component, faces only, on cab frames made from public-domain portraits
(``faces/README.md``). At the first the booked driver is at the wheel: the cloud sends the driver's face,
still encrypted, to the lane when the pass is shown; the lane compares and answers "match"; the truck is
GREEN. At the second someone else drives: "mismatch", the truck is held for an officer (never refused on the
face alone), who reads the score and the quality. The driver's record shows each use; withdrawing consent
deletes the face data and tells the lanes that were sent it to drop it.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from smartgate.domain.biometrics import CONSENT_TEXT
from smartgate.schemas import BarrierAction, BarrierCommand, utc_now
from smartgate_infra.api_client import ApiClient
from smartgate_infra.client import StackClient
from smartgate_infra.declarations import booked_export
from smartgate_infra.demo import Lanes, command_keys
from smartgate_infra.lane_camera import DRIVER_PHOTOS, stage_cab_frames, start_cab_camera
from smartgate_infra.stack import StackState
from smartgate_infra.trader_demo import DemoStepFailed, _ok, _until, section

GATE = "sandbox"
WARM_UP_LANES = ("open-17", "open-18")  # nobody else's
READY_S = 90.0
"""How long the cab cameras may take to load their models and subscribe (a cold 2-core machine)."""


@dataclass(frozen=True)
class FaceCrossing:
    lane_id: str
    in_cab: str
    plate: str
    booking_id: str
    first: BarrierCommand | None
    last: BarrierCommand | None
    passage: dict[str, Any]

    @property
    def rules(self) -> set[str]:
        return {r["rule_id"] for r in (self.passage.get("decision") or {}).get("rules_fired", [])}

    @property
    def released(self) -> bool:
        """Let through; or held only by the rules' random document check (2 % of declared trucks)."""
        return self.passage.get("status") in ("RELEASED", "DEPARTED") or self.rules & {
            "R-FACE-MISMATCH",
            "R-RANDOM",
        } == {"R-RANDOM"}

    @property
    def face(self) -> dict[str, Any] | None:
        faces = self.passage.get("detections", {}).get("faces") or []
        return faces[-1] if faces else None


@dataclass
class FaceDemo:
    company_id: str = ""
    driver_id: str = ""
    enrolment: dict[str, Any] = field(default_factory=dict)
    crossings: list[FaceCrossing] = field(default_factory=list)
    uses: list[dict[str, Any]] = field(default_factory=list)
    withdrawn: dict[str, Any] = field(default_factory=dict)
    heard: bool = False
    """every cab camera logged the withdrawal's word"""
    cab_logs: list[Path] = field(default_factory=list)


def run_faces(state: StackState, client: StackClient, say: Callable[[str], None] = print) -> bool:
    title = "12. The driver's face at the lane: consented, 1:1 with the booked driver, never a refusal on its own"

    def steps(state: StackState, client: StackClient, say: Callable[[str], None]) -> bool:
        demo = drive_faces(state, client, say)
        matched, other = demo.crossings
        return (
            matched.face is not None
            and matched.face["decision"] == "match"
            and matched.released
            and other.face is not None
            and other.face["decision"] == "mismatch"
            and other.passage.get("status") == "HELD"
            and bool(demo.withdrawn.get("deleted"))
            and demo.heard
        )

    return section(title, steps, state, client, say)


def drive_faces(
    state: StackState,
    client: StackClient,
    say: Callable[[str], None] = print,
    lanes_ids: tuple[str, str] = ("cab-01", "cab-02"),
) -> FaceDemo:
    """The section's steps; what happened, for the demo's lines and for the test that checks them."""
    demo = FaceDemo()
    operator = ApiClient(state.api_url, client.token_for("demo-operator", ["operators"]))
    demo.company_id = f"TR-FACE-{uuid.uuid4().hex[:6].upper()}"
    _ok(
        operator.post(
            "/companies",
            {
                "company_id": demo.company_id,
                "name": "Cong ty Van tai Hoa Binh",
                "country": "VN",
                "tax_id": "0109876543",
            },
        ),
        "register the company",
    )
    trader = ApiClient(state.api_url, client.token_for(f"user-{demo.company_id.lower()}", ["traders"], demo.company_id))
    driver = _ok(
        trader.post("/drivers", {"full_name": "Trần Thị Hoa", "document_number": "B7654321", "country": "VN"}),
        "register the driver",
    )
    demo.driver_id = str(driver["driver_id"])
    photo = base64.b64encode(DRIVER_PHOTOS["grace_hopper"].read_bytes()).decode()
    consent = {"given": True, "text_version": CONSENT_TEXT, "method": "app", "given_at": utc_now().isoformat()}
    demo.enrolment = _ok(
        trader.put(f"/drivers/{demo.driver_id}/face", {"photo": photo, "consent": consent}), "enrol the face"
    )
    say(
        f"   trader {demo.company_id} registered driver {demo.driver_id} and enrolled her face with her consent "
        f"({CONSENT_TEXT}, in the app); kept encrypted until {demo.enrolment['expires_at'][:10]}, the photo not kept"
    )

    key_id = str(client.template.resolve({"Ref": "FaceKey"}))
    bucket = client.name("EvidenceBucket")
    cabs: list[subprocess.Popen[bytes]] = []
    cast = {lanes_ids[0]: "grace_hopper", lanes_ids[1]: "eileen_collins"}
    try:
        for lane_id, who in cast.items():
            frames = Path(state.state_dir) / "cab-frames" / lane_id
            shutil.rmtree(frames, ignore_errors=True)
            stage_cab_frames(frames, DRIVER_PHOTOS[who])
            log_path = Path(state.state_dir) / "lanes" / f"{GATE}-{lane_id}-cab.log"
            log_path.unlink(missing_ok=True)
            demo.cab_logs.append(log_path)
            cabs.append(start_cab_camera(state, frames, GATE, lane_id, bucket, key_id, log_path=log_path))
        if not _until(lambda: all("face references: subscribed" in _text(p) for p in demo.cab_logs) or None, READY_S):
            raise DemoStepFailed(f"the cab cameras did not start in {READY_S:.0f} s; see {demo.cab_logs}")
        say(f"   cab cameras on {' and '.join(lanes_ids)} (LaneVision, faces only: YuNet + dlib) listening")
        lanes = Lanes(state, command_keys(client))
        try:
            _warm_up(lanes)
            for lane_id, who in cast.items():
                demo.crossings.append(_cross(state, client, lanes, demo, lane_id, who))
        finally:
            lanes.close()
        for crossing in demo.crossings:
            say(_line(crossing))
        demo.uses = _ok(trader.get(f"/drivers/{demo.driver_id}/face/uses"), "the driver's record of uses")
        for use in demo.uses:
            say(f"   record  {use['at'][:19]}  {use['what']}")
        # withdrawn while the lanes run: the face data is deleted, and the lanes sent it are told to drop it
        demo.withdrawn = _ok(trader.call("DELETE", f"/drivers/{demo.driver_id}/face"), "withdraw consent")
        demo.heard = bool(_until(lambda: all("consent withdrawn" in _text(p) for p in demo.cab_logs) or None, 15))
        say(
            f"   consent withdrawn: face data deleted = {demo.withdrawn.get('deleted')}; lanes told to drop it: "
            f"{', '.join(demo.withdrawn.get('lanes_told', [])) or 'none'} ({'heard' if demo.heard else 'NOT HEARD'})"
        )
    finally:
        for cab in cabs:
            cab.terminate()
        for cab in cabs:
            try:
                cab.wait(15)
            except subprocess.TimeoutExpired:
                cab.kill()
    return demo


def _warm_up(lanes: Lanes) -> None:
    """Unbooked trucks on spare lanes, at once: every ingest worker's cold start is paid before the booked
    trucks come (the local stack starts a worker per concurrent detection, seconds each on a small machine;
    one slower than the settle time would decide a truck before its reads and its face check are in), as
    provisioned concurrency would on AWS."""
    serial = uuid.uuid4().int % 1000
    trucks = [
        threading.Thread(target=lanes.lane(GATE, lane).cross, args=(f"29C-{serial:03d}.{n + 17}", "VN"), daemon=True)
        for n, lane in enumerate(WARM_UP_LANES)
    ]
    for truck in trucks:
        truck.start()
    for truck in trucks:
        truck.join(30)


def _cross(
    state: StackState, client: StackClient, lanes: Lanes, demo: FaceDemo, lane_id: str, who: str
) -> FaceCrossing:
    export = booked_export(GATE, demo.company_id, demo.driver_id, utc_now())
    client.declare(export.entry)
    plate = export.plate
    lane = lanes.lane(GATE, lane_id)
    reads = export.reads(lane, client.pass_token(export.entry), utc_now() - timedelta(seconds=1))
    result = lane.send(reads, timeout=30, plate=plate, pace_s=0.3)
    if result.command is None:
        raise DemoStepFailed(f"no barrier command at {lane_id} for {plate}: {result.error}")
    first = result.command
    customs = ApiClient(state.api_url, client.officer_token("demo-face-customs", "customs", GATE, "en"))

    def with_face() -> dict[str, Any] | None:
        body = _ok(customs.get(f"/passages/{first.passage_id}"), "read the passage")
        return dict(body) if body["detections"]["faces"] and body["decision"] else None

    passage = _until(with_face, 30)
    if passage is None:
        raise DemoStepFailed(f"no face check joined the truck at {lane_id}; see the cab camera's log")
    last = first
    if passage["detections"]["faces"][-1]["decision"] == "mismatch" and first.action != BarrierAction.HOLD:
        last = lane.next_command(15) or first  # decided before the face came: held while still at the barrier
    passage = _until(lambda: _settled(customs, first.passage_id), 10) or passage
    return FaceCrossing(lane_id, who, plate, export.booking_id, first, last, passage)


def _settled(customs: ApiClient, passage_id: str) -> dict[str, Any] | None:
    body = _ok(customs.get(f"/passages/{passage_id}"), "read the passage")
    return dict(body) if body.get("status") in ("RELEASED", "HELD", "DEPARTED") else None


def _line(crossing: FaceCrossing) -> str:
    face = crossing.face or {}
    quality = face.get("quality") or {}
    score = "-" if face.get("score") is None else f"{face['score']:.2f}"
    person = "the booked driver" if crossing.in_cab == "grace_hopper" else "someone else"
    first, last = crossing.first, crossing.last
    action = "-" if last is None else last.action.value
    if first is not None and last is not None and first.command_id != last.command_id:
        action = f"{first.action.value} then {last.action.value} (the face came after the decision)"
    channel = (crossing.passage.get("decision") or {}).get("channel")
    fired = [
        r for r in (crossing.passage.get("decision") or {}).get("rules_fired", []) if r["rule_id"].startswith("R-FACE")
    ]
    why = f"; {fired[0]['explanation']}" if fired else ""
    if not fired and "R-RANDOM" in crossing.rules:
        why = "; held only by the rules' random document check (2 % of declared trucks)"
    return (
        f"   {crossing.lane_id}: {person} at the wheel -> face {face.get('decision')} (similarity {score}, "
        f"a match from {round(1 - float(face.get('threshold', 0.6)), 2)}; face {quality.get('face_px')} px, "
        f"sharpness {quality.get('sharpness')}, {quality.get('frames')} frames) -> "
        f"{channel} {crossing.passage.get('status')}, barrier {action}{why}"
    )


def _text(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
