"""The static web apps (``web/<app>/``) as the local stack serves them, next to the API on its port.

Deployed, CloudFront serves the same files from an S3 bucket; locally the API's port serves them, so
a page and the API share one origin. ``/<app>/config.json`` tells the page where the API is: locally
the same origin (an empty base), deployed the file `smartgate publish-web` writes from the stack's
outputs.
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


def serve(web_root: Path, url_path: str) -> StaticFile | None:
    """The answer for ``url_path`` if it names a web app (``/trader/...``), else None (an API path)."""
    parts = [p for p in url_path.split("/") if p]
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
        return StaticFile(404, b"not found", {"Content-Type": "text/plain; charset=utf-8"})
    headers = {
        "Content-Type": TYPES.get(target.suffix, "application/octet-stream"),
        "Cache-Control": "no-cache",  # the service worker keeps what must work offline
        "X-Content-Type-Options": "nosniff",
    }
    if target.name == "sw.js":
        headers["Service-Worker-Allowed"] = f"/{parts[0]}/"
    return StaticFile(200, target.read_bytes(), headers)
