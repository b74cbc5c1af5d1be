"""Sample events from the repo's ``events/`` folder, shaped exactly as AWS delivers them.

``load_event("iot/plate_read_ok")`` reads ``events/iot/plate_read_ok.json`` (the ``.json`` suffix is
optional). Every call returns a fresh dict, so a test may change it freely. The same files work with
``sam local invoke -e events/iot/plate_read_ok.json IngestDetectionsFunction``.

Importable as ``from events import load_event`` because pytest runs with ``pythonpath = ["tests"]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


def event_path(name: str) -> Path:
    """``events/<name>.json``; a name with ``..`` or an absolute path is refused."""
    relative = Path(name if name.endswith(".json") else f"{name}.json")
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"event name {name!r} must be relative to {EVENTS_DIR}, e.g. 'iot/plate_read_ok'")
    return EVENTS_DIR / relative


def load_event(name: str) -> dict[str, Any]:
    """The sample event ``events/<name>.json`` as a dict."""
    path = event_path(name)
    if not path.is_file():
        available = ", ".join(event_names()) or "none"
        raise FileNotFoundError(f"sample event {name!r} not found: no file {path} (available: {available})")
    with path.open(encoding="utf-8") as fh:
        event = json.load(fh)
    if not isinstance(event, dict):
        raise ValueError(f"sample event {path} holds a {type(event).__name__}, not a JSON object")
    return event


def event_names(source: str | None = None) -> list[str]:
    """``["iot/plate_read_ok", ...]``: every sample event, or those of one source folder, sorted."""
    root = EVENTS_DIR / source if source else EVENTS_DIR
    return sorted(path.relative_to(EVENTS_DIR).with_suffix("").as_posix() for path in root.rglob("*.json"))
