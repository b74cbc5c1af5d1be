"""The REST API's plumbing, independent of its routes: a route table that also makes the OpenAPI document,
problem+json errors that name the field, callers from Cognito claims, pagination cursors.

Each route is declared once (``Routes.route``) with what it takes and gives (pydantic models, query
parameters, the roles that may call it); Chalice serves it and ``openapi()`` describes it, so the
document and the routes cannot drift apart. A route's errors all become ``application/problem+json``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.json_schema import models_json_schema

from smartgate.schemas.api import FieldError, Problem

PROBLEM_TYPE = "application/problem+json"
ROLES = ("traders", "operators", "officers", "lab", "customs", "border_guard", "quarantine", "supervisor")


class ApiProblem(Exception):
    """An error the client can act on: ``status``, a title, what is wrong, and the fields at fault."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        title: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.errors = list(errors)
        self.title = title or TITLES.get(status, "Error")
        self.headers = headers or {}

    def problem(self) -> Problem:
        return Problem(title=self.title, status=self.status, detail=self.detail, errors=self.errors)


TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Invalid request",
    429: "Too many requests",
    500: "Internal error",
}


def field_problem(field: str, message: str, status: int = 422) -> ApiProblem:
    return ApiProblem(status, f"{field}: {message}", errors=[FieldError(field=field, message=message)])


def validation_problem(err: ValidationError, where: str = "body") -> ApiProblem:
    """A pydantic error as 422 problem+json: every offending field named (``body.goods.0.hs_code``)."""
    errors = []
    for e in err.errors():
        path = ".".join(str(p) for p in (where, *e["loc"]) if p != "")
        errors.append(FieldError(field=path, message=e["msg"].removeprefix("Value error, ")))
    detail = "; ".join(f"{x.field}: {x.message}" for x in errors)
    return ApiProblem(422, detail, errors=errors)


# --------------------------------------------------------------------------- callers


@dataclass(frozen=True)
class Caller:
    username: str
    company_id: str | None
    roles: frozenset[str]
    locale: str | None = None
    gates: str | None = None  # officers: the gates they serve, comma-separated (* all)

    def is_(self, role: str) -> bool:
        return role in self.roles

    def company(self) -> str:
        """The caller's company; a caller without one (an operator) cannot act as a trader."""
        if not self.company_id:
            raise ApiProblem(403, "this account belongs to no company; traders' routes need one")
        return self.company_id

    def may_see_company(self, company_id: str) -> bool:
        return self.company_id == company_id or bool(self.roles & {"operators", "officers"})


def _groups(raw: str) -> frozenset[str]:
    return frozenset(g for g in re.split(r"[\s,\[\]]+", raw or "") if g)


def caller_from_claims(claims: dict[str, Any] | None) -> Caller:
    if not claims:
        raise ApiProblem(401, "sign in first: the Authorization header needs your ID token")
    return Caller(
        username=str(claims.get("cognito:username") or claims.get("username") or claims.get("sub")),
        company_id=claims.get("custom:company_id") or None,
        roles=_groups(str(claims.get("cognito:groups", ""))),
        locale=claims.get("custom:locale") or None,
        gates=claims.get("custom:gates") or None,
    )


# --------------------------------------------------------------------------- cursors


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key, sort_keys=True).encode()).decode() if key else None


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError) as err:
        raise field_problem("query.cursor", "not a cursor this API gave out") from err
    if not isinstance(value, dict):
        raise field_problem("query.cursor", "not a cursor this API gave out")
    return value


# --------------------------------------------------------------------------- the route table


@dataclass(frozen=True)
class Query:
    name: str
    type: Any = str
    required: bool = False
    description: str = ""


@dataclass
class RouteSpec:
    path: str
    method: str
    summary: str
    view: Callable[..., Any]
    tag: str
    request: type[BaseModel] | None = None
    response: Any = None  # a model, a list[...] / Page[...] type, or "binary"
    status: int = 200
    roles: tuple[str, ...] | None = ()  # () any signed-in caller; None: public
    query: tuple[Query, ...] = ()
    idempotent: bool = False  # takes an Idempotency-Key header
    errors: tuple[int, ...] = ()
    also: tuple[int, ...] = ()  # other success statuses with the same body (200: stored already)
    media: str = "application/json"


@dataclass
class Routes:
    specs: list[RouteSpec] = field(default_factory=list)

    def add(self, spec: RouteSpec) -> None:
        self.specs.append(spec)

    def find(self, path: str, method: str) -> RouteSpec | None:
        return next((s for s in self.specs if s.path == path and s.method == method), None)

    def openapi(self, title: str, version: str) -> dict[str, Any]:
        return openapi_document(self.specs, title, version)


def _schema_of(tp: Any, refs: dict[Any, str]) -> dict[str, Any]:
    if tp is None:
        return {}
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return {"$ref": f"#/components/schemas/{refs[tp]}"}
    return TypeAdapter(tp).json_schema(ref_template="#/components/schemas/{model}")


def _models_in(specs: Sequence[RouteSpec]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = [Problem]
    for s in specs:
        for tp in (s.request, s.response):
            if isinstance(tp, type) and issubclass(tp, BaseModel) and tp not in found:
                found.append(tp)
    return found


def openapi_document(specs: Sequence[RouteSpec], title: str, version: str) -> dict[str, Any]:
    models = _models_in(specs)
    (refs, defs) = models_json_schema([(m, "validation") for m in models], ref_template="#/components/schemas/{model}")
    ref_names = {m: refs[(m, "validation")]["$ref"].rsplit("/", 1)[-1] for m in models}
    schemas = dict(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for s in specs:
        op: dict[str, Any] = {"operationId": s.view.__name__, "summary": s.summary, "tags": [s.tag], "responses": {}}
        params = [
            {
                "name": n,
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$", "maxLength": 128},
            }
            for n in re.findall(r"\{(\w+)\}", s.path)
        ]
        for q in s.query:
            schema = TypeAdapter(q.type).json_schema()
            params.append(
                {"name": q.name, "in": "query", "required": q.required, "schema": schema, "description": q.description}
            )
        if s.idempotent:
            params.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "schema": {"type": "string", "minLength": 8, "maxLength": 128, "pattern": r"^[A-Za-z0-9_.:\-]+$"},
                    "description": "the same key and body again returns the first answer",
                }
            )
        if params:
            op["parameters"] = params
        if s.request is not None:
            op["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema_of(s.request, ref_names)}},
            }
        if s.response == "binary":
            op["responses"][str(s.status)] = {
                "description": "OK",
                "content": {s.media: {"schema": {"type": "string", "format": "binary"}}},
            }
        else:
            for status in (s.status, *s.also):
                op["responses"][str(status)] = {
                    "description": "OK",
                    "content": {"application/json": {"schema": _schema_of(s.response, ref_names)}},
                }
        problem = {"content": {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
        codes = {400, 422, *s.errors}  # 422: a path, query or body value that is not valid
        if s.roles is not None:
            codes |= {401, 403}
            op["security"] = [{"CognitoIdToken": []}]
        else:
            op["security"] = []
        for code in sorted(codes):
            op["responses"][str(code)] = {"description": TITLES.get(code, "Error"), **problem}
        if s.roles is not None:  # API Gateway's authorizer answers a missing or bad token itself
            op["responses"]["401"] = {
                "description": "Not signed in (the API Gateway authorizer's answer)",
                "content": {
                    "application/json": {"schema": {"type": "object", "properties": {"message": {"type": "string"}}}}
                },
            }
        paths.setdefault(s.path, {})[s.method.lower()] = op
    for s in specs:  # list/page responses pull their item models into the components too
        if s.response not in (None, "binary") and not (
            isinstance(s.response, type) and issubclass(s.response, BaseModel)
        ):
            extra = TypeAdapter(s.response).json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(extra.pop("$defs", {}))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Smart Gate REST API: traders declare and book, gates set capacity, the lab "
            "posts results. Errors are application/problem+json naming the field.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "CognitoIdToken": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "the Cognito ID token (POST /sessions gives one)",
                }
            },
        },
    }
