"""The twin's HTML report, as an operator opens it: every plot drawn, the what-if side by side, readable on
a laptop and on a phone (screenshots in the artefacts folder)."""

from __future__ import annotations

from pathlib import Path

from smartgate_infra.twin.run import run_twin

VIEWPORTS = {"laptop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def test_the_twin_report_opens_with_its_plots_and_the_what_if(browser, artefacts, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = tmp_path / "report.html"
    run_twin("kimthanh2", 1000, ["partner.capacity_per_hour=40"], report, say=lambda _: None, bar=False)
    for name, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport, locale="en-GB")
        page = context.new_page()
        failures: list[str] = []
        page.on("pageerror", lambda err, seen=failures: seen.append(str(err)))
        page.on("requestfailed", lambda req, seen=failures: seen.append(req.url))
        page.goto(report.as_uri())
        images = page.locator("img")
        assert images.count() == 5
        for i in range(images.count()):  # decoded and drawn at a readable size
            width = images.nth(i).evaluate("img => img.complete && img.naturalWidth")
            assert width and width >= 700, (name, i, width)
            assert images.nth(i).bounding_box()["width"] >= min(viewport["width"] - 80, 480) * 0.6
        assert page.get_by_role("heading", name="What if: side by side").is_visible()
        assert page.get_by_role("cell", name="reproduced", exact=True).count() == 4
        assert page.evaluate("() => document.documentElement.scrollWidth") <= viewport["width"] + 1, name
        page.screenshot(path=str(artefacts / f"twin-report-{name}.png"), full_page=True)
        assert not failures, failures
        context.close()
