"""A small client of the REST API (the demo, the benchmark and the tests use it as a trader's app would)."""

from __future__ import annotations

import http.client
import json
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def body(self) -> Any:
        return json.loads(self.raw) if self.raw and self.headers.get("content-type", "").endswith("json") else None

    @property
    def problem(self) -> dict[str, Any]:
        """The problem+json of an error reply (``{}`` when it is none)."""
        body = self.body
        return body if isinstance(body, dict) and "status" in body and "title" in body else {}

    def fields(self) -> list[str]:
        return [e["field"] for e in self.problem.get("errors", [])]


@dataclass
class ApiClient:
    """One keep-alive connection per thread, like a browser tab; ``token`` is an ID token (or none)."""

    base_url: str
    token: str | None = None
    timeout: float = 30.0
    _local: threading.local = field(default_factory=threading.local, repr=False)

    def as_(self, token: str | None) -> ApiClient:
        return ApiClient(self.base_url, token, self.timeout)

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            url = urlsplit(self.base_url)
            conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port or 80, timeout=self.timeout)
            self._local.conn = conn
        return conn  # type: ignore[no-any-return]

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> Reply:
        sent = {"Accept": "application/json, */*", **(headers or {})}
        if self.token:
            sent["Authorization"] = self.token
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        if data is not None:
            sent.setdefault("Content-Type", "application/json")
        target = urlsplit(self.base_url).path.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")
        for attempt in (1, 2):  # a kept-alive connection the server closed is opened again, once
            conn = self._connection()
            try:
                conn.request(method, target, body=data, headers=sent)
                response = conn.getresponse()
                payload = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
                continue
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, payload)
        raise AssertionError("unreachable")

    def get(self, path: str, **query: Any) -> Reply:
        return self.call("GET", path, query={k: v for k, v in query.items() if v is not None} or None)

    def post(self, path: str, body: Any = None, *, key: str | None = None) -> Reply:
        return self.call("POST", path, body, headers={"Idempotency-Key": key} if key else None)

    def put(self, path: str, body: Any) -> Reply:
        return self.call("PUT", path, body)

    def sign_in(self, username: str, password: str) -> str:
        reply = self.post("/sessions", {"username": username, "password": password})
        if reply.status != 201:
            raise RuntimeError(f"sign-in of {username} refused: {reply.status} {reply.problem.get('detail')}")
        return str(reply.body["id_token"])
