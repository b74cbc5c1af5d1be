"""The static web apps (``web/<app>/``) as the local stack serves them, next to the API on its port.

Deployed, CloudFront serves the same files from an S3 bucket; locally the API's port serves them, so
a page and the API share one origin. ``/<app>/config.json`` tells the page where the API is: locally
the same origin (an empty base), deployed the file `smartgate publish-web` writes from the stack's
outputs.

``web/shared/`` is not an app (no page, no config.json): it holds the modules and styles the apps import with
relative URLs (``../shared/js/dom.js``), served at ``/shared/...`` as deployed (the bucket holds all of web/).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".webmanifest": "application/manifest+json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}


@dataclass(frozen=True)
class StaticFile:
    status: int
    body: bytes
    headers: dict[str, str]


def local_config() -> bytes:
    return json.dumps({"api_url": "", "stage": "local"}).encode()


SHARED = "shared"


def not_found() -> StaticFile:
    return StaticFile(404, b"not found", {"Content-Type": "text/plain; charset=utf-8"})


def serve(web_root: Path, url_path: str) -> StaticFile | None:
    """The answer for ``url_path`` if it names a web app (``/trader/...``) or the shared files (``/shared/...``),
    else None (an API path)."""
    parts = [p for p in url_path.split("/") if p]
    if parts and parts[0] == SHARED and (web_root / SHARED).is_dir():
        return _shared_file(web_root / SHARED, parts[1:])
    if not parts or not (web_root / parts[0] / "index.html").is_file():
        return None
    app_dir = (web_root / parts[0]).resolve()
    if len(parts) == 1 and not url_path.endswith("/"):
        return StaticFile(301, b"", {"Location": f"/{parts[0]}/", "Content-Type": "text/plain"})
    if parts[1:] == ["config.json"] and not (app_dir / "config.json").exists():
        return StaticFile(200, local_config(), {"Content-Type": TYPES[".json"], "Cache-Control": "no-cache"})
    target = (app_dir.joinpath(*parts[1:]) if len(parts) > 1 else app_dir / "index.html").resolve()
    if target.is_dir():
        target = target / "index.html"
    if not target.is_relative_to(app_dir) or not target.is_file() or any(p.startswith(".") for p in parts):
        return not_found()
    headers = _headers(target)
    if target.name == "sw.js":
        headers["Service-Worker-Allowed"] = f"/{parts[0]}/"
    return StaticFile(200, target.read_bytes(), headers)


def _shared_file(shared_dir: Path, parts: list[str]) -> StaticFile:
    """A file of web/shared/; no folder page, no config.json (an app's own), no dot-file."""
    root = shared_dir.resolve()
    target = root.joinpath(*parts).resolve()
    if not parts or any(p.startswith(".") for p in parts) or not target.is_relative_to(root) or not target.is_file():
        return not_found()
    return StaticFile(200, target.read_bytes(), _headers(target))


def _headers(target: Path) -> dict[str, str]:
    return {
        "Content-Type": TYPES.get(target.suffix, "application/octet-stream"),
        "Cache-Control": "no-cache",  # the service worker keeps what must work offline
        "X-Content-Type-Options": "nosniff",
    }
