"""A trader, in each language, on a phone and on a desktop: signs in, declares a consignment (the API's
checks show as they type), books a slot on the day view and gets the QR pass — which, read back from the
screenshot with OpenCV, is a pass the lane's verifier accepts. On the phone the pass then opens offline.

Elements are found by their role and label in the page's language (from its catalogue), as a person would.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, timedelta
from itertools import count
from typing import Any

import cv2
import numpy as np
import pytest
from playwright.sync_api import Page, expect
from trade_helpers import new_trader
from web_helpers import DEVICES, LOCALES

from smartgate.domain.passes import Ed25519PassVerifier
from smartgate_infra.api_client import ApiClient
from smartgate_infra.stack import ROOT

pytestmark = pytest.mark.integration

LANGUAGES = ("vi", "zh", "en")
DAYS_AHEAD = count(5)  # each flow books its own day, clear of the other tests' windows
PLATES = count(1)


def catalogue(lang: str) -> dict[str, str]:
    return json.loads((ROOT / "web" / "trader" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def pattern(message: str) -> re.Pattern[str]:
    """A catalogue message with its {placeholders} as wildcards."""
    parts = re.split(r"\{\w+\}", message)
    return re.compile(".+".join(re.escape(p) for p in parts))


def qr_token(png: bytes) -> str:
    """The QR code in a screenshot, read as a lane scanner would: OpenCV's two detectors, on the image as
    captured, enlarged and binarised (each alone misses some codes drawn at ~5 px per module)."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE)
    _, binary = cv2.threshold(image, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    variants = [image, binary, cv2.resize(binary, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)]
    for detector in (cv2.QRCodeDetector(), cv2.QRCodeDetectorAruco()):
        for variant in variants:
            text, _, _ = detector.detectAndDecode(variant)
            if text:
                return str(text)
    raise AssertionError(f"the QR code in the screenshot ({image.shape[1]}x{image.shape[0]} px) does not decode")


class Flow:
    def __init__(self, page: Page, lang: str, device: str, artefacts: Any) -> None:
        self.page, self.m, self.name, self.artefacts = page, catalogue(lang), f"{lang}-{device}", artefacts

    def shot(self, step: str, full: bool = True) -> None:
        self.page.screenshot(path=str(self.artefacts / f"trader-{self.name}-{step}.png"), full_page=full)

    def label(self, key: str, **kw: Any) -> Any:
        return self.page.get_by_label(self.m[key], **kw)

    def button(self, key: str) -> Any:
        return self.page.get_by_role("button", name=self.m[key])


def sign_in_and_book(page: Page, flow: Flow, stack, stack_client, lang: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The whole trader flow; returns (booking id, company id)."""
    m = flow.m
    trader = new_trader(stack, stack_client, prefix="WB")
    username = f"web-{flow.name}-{uuid.uuid4().hex[:6]}"
    stack_client.create_user(username, stack_client.LOCAL_PASSWORD, ["traders"], trader.company_id, lang)

    page.goto(f"{stack.api_url}/trader/")
    page.wait_for_selector("body[data-ready='1']")
    flow.label("lang.label").select_option(lang)
    page.wait_for_selector(f"body[data-lang='{lang}']")  # the view is drawn again in it (what was typed stays)
    expect(page.locator("html")).to_have_attribute("lang", LOCALES[lang])
    expect(page.get_by_role("heading", name=m["signin.title"])).to_be_visible()
    flow.shot("1-sign-in")
    flow.label("signin.username").fill(username)
    flow.label("signin.password", exact=True).fill(stack_client.LOCAL_PASSWORD)
    flow.button("signin.submit").click()
    expect(page.get_by_role("heading", name=m["bookings.title"])).to_be_visible()

    page.get_by_role("link", name=m["bookings.new"]).click()
    flow.label("declare.gate").select_option("sandbox")
    flow.label("declare.direction").select_option("VN_TO_CN")
    flow.label("declare.country").select_option("VN")
    n = next(PLATES)
    flow.label("declare.plate").fill(f"29C-{700 + n:03d}.{n:02d}")
    container = flow.label("declare.container")
    container.fill("MSCU1234567")  # wrong check digit: the API says so while typing, in this language
    expect(page.get_by_text(m["error.container_nos"])).to_be_visible()
    expect(container).to_have_attribute("aria-invalid", "true")
    flow.shot("2-declare-check")
    container.fill("MSCU1234566")
    flow.label("declare.hs_code").fill("4001.22")
    flow.label("declare.description").fill("Cao su tự nhiên SVR 10")
    flow.label("declare.quantity").fill("18")
    flow.label("declare.net_kg").fill("20160")
    flow.label("declare.gross_kg").fill("20700")
    flow.label("declare.value").fill("35500")
    expect(page.get_by_text(m["declare.looks_right"])).to_be_visible()
    expect(page.get_by_text(m["error.container_nos"])).to_be_hidden()
    flow.button("declare.submit").click()

    expect(page.get_by_role("heading", name=m["slots.title"])).to_be_visible()
    # today, the windows of the next hours say the wait to expect at the gate (the API's forecast)
    expect(page.locator(".slot .wait").first).to_be_visible()
    either = re.compile(f"{pattern(m['slots.wait_none']).pattern}|{pattern(m['slots.wait']).pattern}")
    expect(page.locator(".slot .wait").first).to_have_text(either)
    flow.shot("3-slots-today", full=False)
    for _ in range(next(DAYS_AHEAD)):
        flow.button("slots.later").click()
    slot = page.get_by_role("button", name=pattern(m["slots.pick_label"])).first
    expect(slot).to_be_enabled()
    flow.shot("3-slots", full=False)
    slot.click()

    expect(page.get_by_role("heading", name=m["pass.title"])).to_be_visible()
    qr = page.get_by_role("img", name=pattern(m["pass.qr_alt"]))
    expect(qr).to_be_visible()
    page.wait_for_function("() => { const i = document.querySelector('img.qr'); return i && i.naturalWidth > 0; }")
    flow.shot("4-pass")
    booking_id = page.evaluate("() => decodeURIComponent(location.hash.split('/').pop())")
    return booking_id, trader.company_id


def booking_slot(stack, stack_client, booking_id: str, company_id: str) -> datetime:  # type: ignore[no-untyped-def]
    trader_api = ApiClient(
        stack.api_url, stack_client.token_for(f"check-{company_id.lower()}", ["traders"], company_id)
    )
    return datetime.fromisoformat(trader_api.get(f"/bookings/{booking_id}").body["booking"]["slot_start"])


def assert_lane_accepts(png: bytes, booking_id: str, company_id: str, stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    token = qr_token(png)
    trader_api = ApiClient(
        stack.api_url, stack_client.token_for(f"check-{company_id.lower()}", ["traders"], company_id)
    )
    booking = trader_api.get(f"/bookings/{booking_id}").body["booking"]
    assert booking["trader_id"] == company_id and booking["status"] == "BOOKED"
    verifier = Ed25519PassVerifier(stack_client.signer.public_keys())
    at = datetime.fromisoformat(booking["slot_start"])
    check = verifier.check(token, booking["gate_id"], booking["direction"], at)
    assert check.valid and check.booking_id == booking_id, check.problem
    assert not verifier.check(token, "mongcai", booking["direction"], at).valid  # not a pass for another gate


@pytest.mark.parametrize("device", list(DEVICES))
@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_trader_declares_books_and_carries_the_pass(lang, device, browser, stack, stack_client, artefacts) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=DEVICES[device], locale=LOCALES[lang], timezone_id="Europe/Berlin")
    page = context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda err: failures.append(str(err)))
    flow = Flow(page, lang, device, artefacts)
    try:
        booking_id, company_id = sign_in_and_book(page, flow, stack, stack_client, lang)
        assert_lane_accepts(page.locator("img.qr").screenshot(), booking_id, company_id, stack, stack_client)
        assert page.evaluate("() => document.documentElement.scrollWidth") <= DEVICES[device]["width"]
        if device == "desktop":  # plans change: the booking moves to the next day, with a new pass
            before = booking_slot(stack, stack_client, booking_id, company_id)
            page.get_by_role("link", name=flow.m["booking.move"]).click()
            expect(page.get_by_role("heading", name=flow.m["slots.move_title"])).to_be_visible()
            flow.button("slots.later").click()
            page.get_by_role("button", name=pattern(flow.m["slots.pick_label"])).first.click()
            expect(page.get_by_text(pattern(flow.m["slots.moved"]))).to_be_visible()
            page.wait_for_function(
                "() => { const i = document.querySelector('img.qr'); return i && i.naturalWidth > 0; }"
            )
            flow.shot("5-moved")
            assert booking_slot(stack, stack_client, booking_id, company_id) - before >= timedelta(hours=23)
            assert_lane_accepts(page.locator("img.qr").screenshot(), booking_id, company_id, stack, stack_client)
        if device == "phone":  # where drivers wait the signal is poor: the pass opens offline
            page.wait_for_function("() => navigator.serviceWorker && navigator.serviceWorker.controller !== null")
            page.reload()
            expect(page.locator("img.qr")).to_be_visible()
            page.wait_for_function("() => document.querySelector('img.qr').naturalWidth > 0")
            context.set_offline(True)
            page.reload()
            expect(page.get_by_text(flow.m["pass.saved_copy"])).to_be_visible()
            page.wait_for_function("() => document.querySelector('img.qr').naturalWidth > 0")
            flow.shot("5-pass-offline")
            assert_lane_accepts(page.locator("img.qr").screenshot(), booking_id, company_id, stack, stack_client)
            context.set_offline(False)
    finally:
        context.close()
    assert not failures, failures


@pytest.mark.parametrize(("lang", "device"), [("vi", "phone"), ("zh", "desktop")])
def test_a_trader_enrols_a_drivers_face_with_consent_sees_its_uses_and_withdraws_it(  # type: ignore[no-untyped-def]
    lang, device, browser, stack, stack_client, artefacts, tmp_path
) -> None:
    context = browser.new_context(viewport=DEVICES[device], locale=LOCALES[lang])
    page = context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda err: failures.append(str(err)))
    page.on("dialog", lambda dialog: dialog.accept())  # the withdrawal's "are you sure?"
    flow = Flow(page, lang, device, artefacts)
    m = flow.m
    trader = new_trader(stack, stack_client, prefix="WF")
    driver_id = trader.driver("Trần Thị Hoa", "B7654321")
    username = f"web-face-{flow.name}-{uuid.uuid4().hex[:6]}"
    stack_client.create_user(username, stack_client.LOCAL_PASSWORD, ["traders"], trader.company_id, lang)
    blank = tmp_path / "wall.png"
    cv2.imwrite(str(blank), np.full((480, 640, 3), 170, np.uint8))
    try:
        page.goto(f"{stack.api_url}/trader/")
        page.wait_for_selector("body[data-ready='1']")
        flow.label("lang.label").select_option(lang)
        page.wait_for_selector(f"body[data-lang='{lang}']")  # drawn again in it
        expect(page.get_by_role("heading", name=m["signin.title"])).to_be_visible()
        flow.label("signin.username").fill(username)
        flow.label("signin.password", exact=True).fill(stack_client.LOCAL_PASSWORD)
        flow.button("signin.submit").click()
        expect(page.get_by_role("heading", name=m["bookings.title"])).to_be_visible()
        page.get_by_role("link", name=m["nav.drivers"]).click()
        expect(page.get_by_role("heading", name=m["drivers.title"])).to_be_visible()
        page.get_by_role("link", name=m["drivers.face"]).click()
        expect(page.get_by_text(m["face.not_enrolled"])).to_be_visible()
        expect(page.get_by_text(m["face.consent.never"])).to_be_visible()  # what the driver agrees to, in their words
        flow.shot("face-1-consent")

        # no consent, no enrolment; a photo without a face is refused with the reason, in this language
        photo = flow.label("face.photo")
        photo.set_input_files(str(blank))
        flow.button("face.enrol").click()
        expect(page.get_by_text(m["face.consent_missing"])).to_be_visible()
        page.get_by_label(pattern(m["face.consent_agree"])).check()
        flow.button("face.enrol").click()
        # (the API's first face photo loads the face models: seconds on a cold function)
        expect(page.get_by_text(m["face.photo.no_face"])).to_be_visible(timeout=30_000)
        flow.shot("face-2-refused")

        photo.set_input_files(str(ROOT / "infra" / "smartgate_infra" / "faces" / "grace_hopper.jpg"))
        flow.button("face.enrol").click()
        expect(page.get_by_text(m["face.enrolled"])).to_be_visible(timeout=20_000)
        expect(page.locator(".uses").get_by_text(m["face.use.enrolled"])).to_be_visible()  # on the record, translated
        flow.shot("face-3-enrolled")
        assert page.evaluate("() => document.documentElement.scrollWidth") <= DEVICES[device]["width"]
        status = trader.api.get(f"/drivers/{driver_id}/face").body
        assert status["enrolled"] and status["consent"]["method"] == "app"

        page.get_by_role("button", name=m["face.withdraw"]).click()
        expect(page.get_by_text(m["face.not_enrolled"])).to_be_visible()
        expect(page.locator(".uses").get_by_text(m["face.use.withdrawn"])).to_be_visible()
        flow.shot("face-4-withdrawn")
        assert trader.api.get(f"/drivers/{driver_id}/face").body["enrolled"] is False
    finally:
        context.close()
    assert not failures, failures
