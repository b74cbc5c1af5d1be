"""An officer on duty at a gate, in the officers' console: signs in (the console takes the officer's own
language), sees the truck held on a lane (channel, the rule that fired and its explanation, the evidence
image), is refused a release without a reason on the page, releases it with one; the page shows RELEASED
and the audit trail with the officer's action and reason, and the lane gets the signed OPEN command over
MQTT. Screenshots of the gate (lanes and queue) and of the passage, in each language, on a phone and on a
desktop, go to the artefacts folder.

Elements are found by their role and label in the page's language (from its catalogue), as a person would.
Gate ``sandbox``, lane ``out-55`` only: the other lanes are other tests'.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import pytest
from playwright.sync_api import Page, expect
from smartgate_edge.simulator import LaneSimulator
from smartgate_edge.transport import Mqtt5Transport
from smartgate_edge.vision.evidence import encode_jpeg, evidence_key
from web_helpers import DEVICES, LOCALES

from smartgate.domain.crossing import signature_valid
from smartgate.schemas import BarrierAction
from smartgate_infra.demo import command_keys
from smartgate_infra.stack import ROOT

pytestmark = pytest.mark.integration

GATE, LANE = "sandbox", "out-55"
PLATE = "29C-555.01"  # nobody else's: a truck with no booking (R-NO-BOOKING)
LANGUAGES = ("vi", "zh", "en")
PHOTO = ROOT.parent / "shared" / "data" / "plates" / "dev" / "vn_carlongplate_00.jpg"


def catalogue(lang: str) -> dict[str, str]:
    return json.loads((ROOT / "web" / "console" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def pattern(message: str) -> re.Pattern[str]:
    """A catalogue message with its {placeholders} as wildcards."""
    return re.compile(".+".join(re.escape(p) for p in re.split(r"\{\w+\}", message)))


def plate_photo() -> bytes:
    """A real plate photo (read where it lies, not copied into the repo), or a drawn one without it."""
    if PHOTO.is_file():
        return PHOTO.read_bytes()
    image = np.full((120, 480, 3), 235, np.uint8)
    cv2.putText(image, PLATE, (20, 82), cv2.FONT_HERSHEY_SIMPLEX, 2.0, (20, 20, 20), 5)
    return encode_jpeg(image)


def held_truck(stack_client, lane: LaneSimulator, plate: str = PLATE) -> str:  # type: ignore[no-untyped-def]
    """A truck with no booking at the lane, its front plate crop in the evidence bucket: RED, held."""
    lane.heartbeat()
    detections = lane.truck(plate, "VN", weight_kg=31_000)
    front = detections[0]
    key = evidence_key(GATE, LANE, front.event_id, "plate", front.captured_at)  # type: ignore[attr-defined]
    stack_client.client("s3").put_object(
        Bucket=stack_client.name("EvidenceBucket"), Key=key, Body=plate_photo(), ContentType="image/jpeg"
    )
    detections[0] = front.model_copy(update={"crop_key": key})
    result = lane.send(detections, timeout=20, plate=plate)
    assert result.ok and result.signature_ok, result.error
    assert result.command is not None and result.command.action == BarrierAction.HOLD
    return result.command.passage_id


def new_officer(stack_client, role: str = "customs", locale: str = "vi") -> str:  # type: ignore[no-untyped-def]
    username = f"console-{role}-{uuid.uuid4().hex[:6]}"
    stack_client.create_user(username, stack_client.LOCAL_PASSWORD, ["officers", role], locale=locale)
    stack_client.client("cognito-idp").admin_update_user_attributes(
        UserPoolId=stack_client.user_pool_id,
        Username=username,
        UserAttributes=[{"Name": "custom:gates", "Value": GATE}],
    )
    return username


class Console:
    def __init__(self, page: Page, artefacts: Path) -> None:
        self.page, self.artefacts = page, artefacts
        self.lang, self.m = "en", catalogue("en")

    def use(self, lang: str) -> None:
        """Pick the language on the page, as an officer would; the view is drawn again in it."""
        self.page.get_by_label(self.m["lang.label"]).select_option(lang)
        self.lang, self.m = lang, catalogue(lang)
        self.page.wait_for_selector(f"body[data-lang='{lang}']")  # the view is drawn again in it
        expect(self.page.locator("html")).to_have_attribute("lang", LOCALES[lang])

    def shot(self, step: str) -> None:
        for device, size in DEVICES.items():
            self.page.set_viewport_size(size)
            self.page.evaluate("() => window.scrollTo(0, 0)")  # the sticky menu where it is at the top
            self.page.wait_for_timeout(150)  # the layout settles at the new width
            assert self.page.evaluate("() => document.documentElement.scrollWidth") <= size["width"], (step, device)
            self.page.screenshot(path=str(self.artefacts / f"console-{self.lang}-{device}-{step}.png"), full_page=True)
        self.page.set_viewport_size(DEVICES["desktop"])

    def evidence_loaded(self) -> None:
        self.page.wait_for_function(
            "() => { const i = document.querySelector('.evidence img'); return i && i.complete && i.naturalWidth > 0; }"
        )


@contextmanager
def console_at(
    browser, stack, stack_client, artefacts, lane_id: str
) -> Iterator[tuple[LaneSimulator, Console, list[str]]]:  # type: ignore[no-untyped-def]
    """A lane of the sandbox gate (simulated) and the console in a desktop browser; the page's errors."""
    transport = Mqtt5Transport(stack.ports.host, stack.ports.mqtt, f"console-{uuid.uuid4().hex[:6]}").connect()
    lane = LaneSimulator(transport, GATE, lane_id, command_keys(stack_client))
    lane.start()
    context = browser.new_context(viewport=DEVICES["desktop"], locale=LOCALES["en"], timezone_id="Asia/Ho_Chi_Minh")
    page = context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda err: failures.append(str(err)))
    page.on("console", lambda msg: failures.append(msg.text) if "missing message" in msg.text else None)
    try:
        yield lane, Console(page, artefacts), failures
    finally:
        context.close()
        transport.close()


def test_an_officer_releases_a_held_truck_with_a_reason(browser, stack, stack_client, artefacts) -> None:  # type: ignore[no-untyped-def]
    with console_at(browser, stack, stack_client, artefacts, LANE) as (lane, ui, failures):
        page = ui.page
        passage_id = held_truck(stack_client, lane)
        username = new_officer(stack_client, locale="vi")

        # A trader's account is not an officer's: refused on the sign-in page, nothing kept
        trader = f"console-trader-{uuid.uuid4().hex[:6]}"
        stack_client.create_user(trader, stack_client.LOCAL_PASSWORD, ["traders"], "CO-CONSOLE")
        page.goto(f"{stack.api_url}/console/")
        page.wait_for_selector("body[data-ready='1']")
        page.get_by_label(ui.m["signin.username"]).fill(trader)
        page.get_by_label(ui.m["signin.password"], exact=True).fill(stack_client.LOCAL_PASSWORD)
        page.get_by_role("button", name=ui.m["signin.submit"]).click()
        expect(page.get_by_role("alert")).to_contain_text(ui.m["signin.not_officer"])
        assert page.evaluate("() => sessionStorage.getItem('smartgate.console.session')") is None

        # Signs in (the page is in the browser's English); the console then speaks the officer's Vietnamese
        expect(page.get_by_role("heading", name=ui.m["signin.title"])).to_be_visible()
        page.get_by_label(ui.m["signin.username"]).fill(username)
        page.get_by_label(ui.m["signin.password"], exact=True).fill(stack_client.LOCAL_PASSWORD)
        page.get_by_role("button", name=ui.m["signin.submit"]).click()
        expect(page.locator("html")).to_have_attribute("lang", LOCALES["vi"])
        ui.lang, ui.m = "vi", catalogue("vi")

        # The one gate served opens at once: the truck waits for inspection, its lane shows it, barrier closed
        queue_row = page.locator(f".queue a[data-passage='{passage_id}']")
        expect(queue_row).to_contain_text(PLATE)
        expect(queue_row).to_contain_text(ui.m["channel.RED"])
        lane_card = page.locator(f".lane[data-lane='{LANE}']")
        expect(lane_card).to_contain_text(PLATE)
        expect(lane_card).to_contain_text(ui.m["lane.barrier_closed"])
        for lang in LANGUAGES:
            ui.use(lang)
            expect(page.get_by_role("heading", name=ui.m["queue.inspection"])).to_be_visible()
            # the wait to expect at the barrier, per direction, beside the queues (the API's forecast)
            expect(page.get_by_role("heading", name=ui.m["waits.title"])).to_be_visible(timeout=20_000)
            expect(page.locator(".waits-table tbody tr").first).to_be_visible()
            ui.shot("1-gate")

        # The alert for it was delivered in the three languages; the officer acknowledges it
        page.get_by_role("link", name=ui.m["nav.alerts"]).click()
        alert = page.locator(".alert", has=page.get_by_role("link", name=PLATE))
        expect(alert).to_contain_text(ui.m["alert.kind.clearance"], timeout=20_000)
        for lang in LANGUAGES:
            expect(alert.locator(f".lang-tag[lang='{lang}']")).to_be_visible()
        ui.shot("2-alerts")
        alert.get_by_role("button", name=ui.m["alerts.ack"]).click()
        expect(alert).to_contain_text(ui.m["astatus.acknowledged"])
        expect(alert).to_contain_text(username)

        # The passage: channel, the rule that fired and its explanation, the evidence image loaded
        page.get_by_role("link", name=ui.m["nav.gate"]).click()
        queue_row.click()
        expect(page.get_by_role("heading", name=PLATE)).to_be_visible()
        expect(page.locator(".why")).to_contain_text("R-NO-BOOKING")
        expect(page.locator(".why .explanation").first).to_contain_text(f"no booking for plate {PLATE}")
        ui.evidence_loaded()
        for lang in LANGUAGES:
            ui.use(lang)
            expect(page.locator(".passage-summary")).to_contain_text(ui.m["pstatus.IN_INSPECTION"])
            ui.evidence_loaded()
            ui.shot("3-passage")

        # A release without a reason is refused on the page, next to the field; with one it is done
        m = ui.m
        page.get_by_role("button", name=m["action.release"], exact=True).click()
        form = page.locator("form.action-form")
        form.get_by_role("button", name=m["action.release.submit"]).click()
        reason = form.get_by_label(m["action.reason"])
        expect(form.get_by_text(m["error.reason"])).to_be_visible()
        expect(reason).to_have_attribute("aria-invalid", "true")
        ui.shot("4-reason-missing")
        reason.fill("Documents checked at the booth: transit permit 0815")
        form.get_by_role("button", name=m["action.release.submit"]).click()

        summary = page.locator(".passage-summary")
        expect(summary).to_contain_text(m["pstatus.RELEASED"])
        action = page.locator(".audit li[data-kind='officer_action']")
        expect(action).to_contain_text("Documents checked at the booth: transit permit 0815")
        expect(action).to_contain_text(m["outcome.accepted"])
        expect(action).to_contain_text(username)
        ui.shot("5-released")

        # The lane got the OPEN command for this passage, signed by the cloud
        command = lane.next_command(timeout=15)
        assert command is not None and command.action == BarrierAction.OPEN, command
        assert command.passage_id == passage_id and signature_valid(command, command_keys(stack_client))

        # And the lane view shows the barrier open
        page.get_by_role("link", name=m["nav.gate"]).click()
        expect(page.get_by_role("heading", name=m["queue.inspection"])).to_be_visible()
        expect(page.locator(f".queue a[data-passage='{passage_id}']")).to_have_count(0)
        expect(lane_card).to_contain_text(m["lane.barrier_open"])
    assert not failures, failures


def test_an_officer_sees_the_face_check_that_held_a_truck(browser, stack, stack_client, artefacts) -> None:  # type: ignore[no-untyped-def]
    """A booked truck whose driver's face did not match at the lane: YELLOW, held; the passage shows the
    check's score, threshold and quality in the officer's language, and the cab camera's crop kept as evidence."""
    from datetime import timedelta

    from smartgate.schemas import FaceDecision, FaceQuality, FaceVerified, utc_now
    from smartgate_infra.declarations import booked_export

    lane_id = "out-45"  # nobody else's
    export = booked_export(GATE, "TR-CFACE", f"DRV-CFACE-{uuid.uuid4().hex[:6]}", utc_now(), tag="CFACE")
    stack_client.declare(export.entry)
    entry, plate = export.entry, export.plate
    assert entry.booking is not None
    with console_at(browser, stack, stack_client, artefacts, lane_id) as (lane, ui, failures):
        page = ui.page
        at = utc_now() - timedelta(seconds=1)
        reads = export.reads(lane, stack_client.pass_token(entry), at)
        event_id = f"{reads[0].event_id}.face"
        key = evidence_key(GATE, lane_id, event_id, "face", at)
        crop = (ROOT / "infra" / "smartgate_infra" / "faces" / "eileen_collins.jpg").read_bytes()  # public domain
        stack_client.client("s3").put_object(
            Bucket=stack_client.name("EvidenceBucket"), Key=key, Body=crop, ContentType="image/jpeg"
        )
        face = FaceVerified(
            event_id=event_id,
            gate_id=GATE,
            lane_id=lane_id,
            booking_id=entry.booking.booking_id,
            driver_ref=entry.consignment.driver_ref,
            decision=FaceDecision.MISMATCH,
            score=0.32,
            threshold=0.6,
            quality=FaceQuality(face_px=107, sharpness=9.1, detector_score=0.93, frames=12, rejected={"blurred": 2}),
            evidence_key=key,
            captured_at=at,
        )
        result = lane.send([*reads[:2], face, *reads[2:]], timeout=20, pace_s=0.2)
        assert result.command is not None, result.error
        passage_id = result.command.passage_id

        username = new_officer(stack_client, locale="en")
        page.goto(f"{stack.api_url}/console/")
        page.wait_for_selector("body[data-ready='1']")
        page.get_by_label(ui.m["signin.username"]).fill(username)
        page.get_by_label(ui.m["signin.password"], exact=True).fill(stack_client.LOCAL_PASSWORD)
        page.get_by_role("button", name=ui.m["signin.submit"]).click()
        page.locator(f".queue a[data-passage='{passage_id}']").click()  # held: waiting for an officer
        expect(page.get_by_role("heading", name=plate)).to_be_visible()
        expect(page.locator(".why")).to_contain_text("R-FACE-MISMATCH")
        for lang in LANGUAGES:
            ui.use(lang)
            face_row = page.locator(".face-mismatch")
            expect(face_row).to_contain_text(ui.m["face.decision.mismatch"])
            expect(face_row).to_contain_text(pattern(ui.m["passage.face_score"]))
            expect(face_row).to_contain_text(pattern(ui.m["passage.face_quality"]))
            ui.evidence_loaded()
            expect(page.locator(".evidence")).to_contain_text(ui.m["evidence.face"])
            ui.shot("6-face-mismatch")
    assert not failures, failures
