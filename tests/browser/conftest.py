"""Headless Chromium (Debian's package, driven by Playwright) against the web apps the local stack serves.

Screenshots go to ``.smartgate/artefacts/browser/`` (SMARTGATE_ARTEFACTS overrides): look at them."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from web_helpers import CHROMIUM_FLAGS

from smartgate_infra.stack import ROOT


@pytest.fixture(scope="session")
def chromium_path() -> str:
    found = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
    if found is None:
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium (see make doctor)")
    return found


@pytest.fixture(scope="session")
def browser(chromium_path: str) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def artefacts() -> Path:
    out = Path(os.environ.get("SMARTGATE_ARTEFACTS", ROOT / ".smartgate" / "artefacts")) / "browser"
    out.mkdir(parents=True, exist_ok=True)
    return out
