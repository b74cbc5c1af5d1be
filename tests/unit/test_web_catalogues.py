"""The web apps' message catalogues: every language has every key (with the same placeholders), and every
key the pages use exists — the fixed ones named in the code and those made from the API's enums. The modules
in web/shared/ have no catalogue of their own: the keys they use must be in every app's."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import get_args

import pytest

from smartgate.schemas import BookingStatus, Country, Direction
from smartgate.schemas.api import TimelineStatus
from smartgate_infra.stack import ROOT

SHARED = ROOT / "web" / "shared"
APPS = sorted(p.parent.parent for p in (ROOT / "web").glob("*/i18n/en.json") if p.parent.parent != SHARED)
LANGUAGES = ("vi", "zh", "en")
USED = re.compile(r"""\bt\(\s*["']([\w.\-]+)["']|data-i18n="([\w.\-]+)"|:([a-z_]+\.[\w.]+)["';]""")
PREFIXED = re.compile(r"""\bt\(\s*`([\w.\-]+)\.\$\{""")
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def catalogues(app: Path) -> dict[str, dict[str, str]]:
    return {lang: json.loads((app / "i18n" / f"{lang}.json").read_text(encoding="utf-8")) for lang in LANGUAGES}


def sources(app: Path) -> str:
    """The app's pages and modules, and the shared modules it may import (their words are the app's)."""
    files = [*sorted(app.rglob("*")), *sorted(SHARED.rglob("*"))]
    return "\n".join(p.read_text(encoding="utf-8") for p in files if p.suffix in (".js", ".html"))


def test_there_is_a_web_app() -> None:
    assert APPS, "no web/<app>/i18n catalogues found"


def test_the_shared_modules_are_not_an_app_and_have_no_words_of_their_own() -> None:
    assert SHARED not in APPS
    assert not list(SHARED.rglob("*.json")), "shared modules take their words from the app's catalogue (t())"


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.name)
def test_every_language_has_every_key_with_the_same_placeholders(app: Path) -> None:
    found = catalogues(app)
    keys = {lang: set(messages) for lang, messages in found.items()}
    every = set().union(*keys.values())
    missing = {lang: sorted(every - k) for lang, k in keys.items() if every - k}
    assert not missing, f"keys missing: {missing}"
    for key in every:
        placeholders = {lang: set(PLACEHOLDER.findall(found[lang][key])) for lang in LANGUAGES}
        assert len({frozenset(p) for p in placeholders.values()}) == 1, (key, placeholders)
        assert all(found[lang][key].strip() for lang in LANGUAGES), f"{key} is empty in some language"


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.name)
def test_every_key_the_pages_use_is_in_the_catalogues(app: Path) -> None:
    text = sources(app)
    used = {k for groups in USED.findall(text) for k in groups if k and "." in k}
    assert used, "no message keys found in the sources"
    en = catalogues(app)["en"]
    assert not sorted(used - set(en)), f"used but not in the catalogues: {sorted(used - set(en))}"


@pytest.mark.parametrize("app", APPS, ids=lambda p: p.name)
def test_keys_made_from_the_api_values_exist(app: Path) -> None:
    en = catalogues(app)["en"]
    prefixes = set(PREFIXED.findall(sources(app)))
    values = {
        "status": [s.value for s in BookingStatus],
        "timeline": list(get_args(TimelineStatus)),
        "direction": [d.value for d in Direction],
        "country": [c.value for c in Country],
    }
    for prefix in prefixes & set(values):
        missing = [v for v in values[prefix] if f"{prefix}.{v}" not in en]
        assert not missing, f"{prefix}.* missing for {missing}"
