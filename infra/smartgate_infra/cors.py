"""The REST API's CORS as API Gateway serves it from template.yaml's ``Globals.Api``, for the local runtime.

With ``Cors`` set, SAM gives every path an OPTIONS method answered by a mock integration: 200, the
``Access-Control-Allow-*`` headers, no function, no authorizer (``AddDefaultAuthorizerToCorsPreflight:
false``); unless ``AllowMethods`` is given, the methods are the path's own plus OPTIONS, sorted. With
``GatewayResponses``, API Gateway's own answers (401 from the authorizer, 5xx) carry the headers given
there. Values are API Gateway mapping literals (``"'https://example.com'"``); only literals are served.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from smartgate_infra.template import Template

# API Gateway response types the local runtime's own answers stand for, most specific first.
_RESPONSE_TYPES = {401: ("UNAUTHORIZED", "DEFAULT_4XX"), 403: ("ACCESS_DENIED", "DEFAULT_4XX")}


class CorsConfigError(ValueError):
    """Globals.Api.Cors or GatewayResponses holds something the local runtime cannot serve."""


def _literal(value: Any, where: str) -> str:
    """``'text'`` (an API Gateway static value) -> ``text``; anything else is refused, naming where."""
    if isinstance(value, bool):
        raise CorsConfigError(f"{where}: expected a quoted string such as \"'value'\", got {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1]
    raise CorsConfigError(
        f"{where}: only static values (\"'value'\", quotes included) are served locally, got {value!r}"
    )


@dataclass(frozen=True)
class ApiCors:
    allow_origin: str
    allow_headers: str | None = None
    allow_methods: str | None = None
    max_age: str | None = None
    allow_credentials: bool = False

    @classmethod
    def from_value(cls, value: Any) -> ApiCors:
        """SAM's ``Cors``: a string (the origin) or a map of AllowOrigin, AllowHeaders, AllowMethods ..."""
        if isinstance(value, str):
            value = {"AllowOrigin": value}
        if not isinstance(value, dict) or "AllowOrigin" not in value:
            raise CorsConfigError("Globals.Api.Cors: AllowOrigin is required")

        def opt(key: str) -> str | None:
            return _literal(value[key], f"Globals.Api.Cors.{key}") if key in value else None

        return cls(
            allow_origin=_literal(value["AllowOrigin"], "Globals.Api.Cors.AllowOrigin"),
            allow_headers=opt("AllowHeaders"),
            allow_methods=opt("AllowMethods"),
            max_age=opt("MaxAge"),
            allow_credentials=value.get("AllowCredentials") is True,
        )

    def preflight_headers(self, path_methods: list[str]) -> dict[str, str]:
        """The OPTIONS mock's headers on a path whose routes have ``path_methods``."""
        methods = self.allow_methods or ",".join(sorted({m.upper() for m in path_methods} | {"OPTIONS"}))
        headers = {"Content-Type": "application/json", "Access-Control-Allow-Origin": self.allow_origin}
        if self.allow_headers:
            headers["Access-Control-Allow-Headers"] = self.allow_headers
        headers["Access-Control-Allow-Methods"] = methods
        if self.max_age is not None:
            headers["Access-Control-Max-Age"] = self.max_age
        if self.allow_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
        return headers


@dataclass(frozen=True)
class ApiGatewaySettings:
    """What the runtime's API port needs from ``Globals.Api`` beyond routes and authorizers."""

    cors: ApiCors | None = None
    gateway_headers: dict[str, dict[str, str]] = field(default_factory=dict)  # response type -> headers

    @classmethod
    def from_template(cls, template: Template) -> ApiGatewaySettings:
        cors = template.api_global("Cors")
        responses = template.api_global("GatewayResponses") or {}
        headers = {
            kind: {
                name: _literal(v, f"Globals.Api.GatewayResponses.{kind}.ResponseParameters.Headers.{name}")
                for name, v in ((spec or {}).get("ResponseParameters") or {}).get("Headers", {}).items()
            }
            for kind, spec in responses.items()
        }
        return cls(None if cors is None else ApiCors.from_value(cors), headers)

    def headers_for(self, status: int) -> dict[str, str]:
        """Headers API Gateway adds to an answer of its own with this status (not a function's answer)."""
        kinds = _RESPONSE_TYPES.get(status, ("DEFAULT_4XX",) if status < 500 else ("DEFAULT_5XX",))
        for kind in kinds:
            if kind in self.gateway_headers:
                return dict(self.gateway_headers[kind])
        return {}
