"""Chalice routes declared once, with what they take and give: the route table serves ``/openapi.json``.

``RestApi.route`` registers a view with Chalice and its ``RouteSpec`` with the table. Around every view
it does what each would otherwise repeat: the caller from the authorizer's claims and the roles the route
allows, path and query parameters and the JSON body validated into their models, an ``Idempotency-Key``
on creating requests (Powertools idempotency: the same key and body give the first answer again, another
body under the same key is refused), and every error as ``application/problem+json`` naming the field.
"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from chalice import Chalice, Response
from pydantic import BaseModel, TypeAdapter, ValidationError

from smartgate.api.http import (
    PROBLEM_TYPE,
    ApiProblem,
    Caller,
    Query,
    Routes,
    RouteSpec,
    caller_from_claims,
    field_problem,
    validation_problem,
)
from smartgate.config import settings
from smartgate.domain.slots import TradeError
from smartgate.observability import logger
from smartgate.schemas.api import FieldError

PATH_PARAM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:\-]{8,128}$")
ACCEPTED = [
    "application/json",
    "application/problem+json",
    "text/plain",
    "application/octet-stream",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
    "application/xml",
    "text/html",
]


@dataclass
class Request:
    """What a view gets: the caller (None on public routes), the validated body, path and query values."""

    caller: Caller | None
    body: Any = None
    path: dict[str, str] = field(default_factory=dict)
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def who(self) -> Caller:
        assert self.caller is not None
        return self.caller


@dataclass(frozen=True)
class Answer:
    """A view's answer when it is not simply the route's status: another status, headers, raw bytes."""

    body: Any
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def problem_response(err: ApiProblem) -> Response:
    return Response(
        body=err.problem().model_dump_json(),
        status_code=err.status,
        headers={"Content-Type": PROBLEM_TYPE, **err.headers},
    )


def with_cors(response: Response) -> Response:
    """The answer readable by the web apps' origin (``WEB_ORIGIN``, CloudFront), if one is set.

    API Gateway answers preflight OPTIONS itself (template.yaml Globals.Api.Cors); a proxy integration's
    answers need the header from the function. Retry-After is exposed for 409/429 answers.
    """
    origin = settings().web_origin
    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return response


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list | tuple):
        return [_dump(v) for v in value]
    if isinstance(value, dict):
        return {k: _dump(v) for k, v in value.items()}
    return value


@lru_cache(maxsize=1)
def _idempotency() -> tuple[DynamoDBPersistenceLayer, IdempotencyConfig]:
    store = DynamoDBPersistenceLayer(table_name=settings().require("idempotency_table"))
    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="request",
        expires_after_seconds=24 * 3600,
        raise_on_no_idempotency_key=True,
    )
    return store, config


def _once(key: str, request: dict[str, Any], call: Callable[[], dict[str, Any]], context: Any = None) -> dict[str, Any]:
    """``call`` once per key. With the invocation's context, a request left in progress by an invocation
    that died expires when that invocation's time is up (else a retry would be refused for a day)."""
    store, config = _idempotency()
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        config.register_lambda_context(context)

    @idempotent_function(data_keyword_argument="attempt", persistence_store=store, config=config)
    def run(attempt: dict[str, Any]) -> dict[str, Any]:
        return call()

    return run(attempt={"key": key, "request": request})


View = Callable[[Request], Any]


class RestApi:
    def __init__(self, app: Chalice, title: str, version: str) -> None:
        self.app = app
        self.routes = Routes()
        self.title = title
        self.version = version

    def openapi(self) -> dict[str, Any]:
        return self.routes.openapi(self.title, self.version)

    def route(
        self,
        path: str,
        method: str,
        *,
        summary: str,
        tag: str,
        request: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        roles: tuple[str, ...] | None = (),
        query: tuple[Query, ...] = (),
        idempotent: bool = False,
        errors: tuple[int, ...] = (),
        also: tuple[int, ...] = (),
        media: str = "application/json",
    ) -> Callable[[View], View]:
        def register(view: View) -> View:
            spec = RouteSpec(
                path=path,
                method=method,
                summary=summary,
                view=view,
                tag=tag,
                request=request,
                response=response,
                status=status,
                roles=roles,
                query=query,
                idempotent=idempotent,
                errors=errors,
                also=also,
                media=media,
            )
            self.routes.add(spec)

            @functools.wraps(view)
            def chalice_view(**params: str) -> Response:
                return with_cors(self._serve(spec, params))

            self.app.route(path, methods=[method], content_types=ACCEPTED, name=view.__name__)(chalice_view)
            return view

        return register

    # ------------------------------------------------------------------ one request

    def _serve(self, spec: RouteSpec, params: dict[str, str]) -> Response:
        """The answer, and one access line in the log: the route's template (never its values), the status,
        the time taken and the invocation's request id (no body, no caller: personal data stays out)."""
        started = time.perf_counter()
        response = self._serve_answer(spec, params)
        context = getattr(self.app, "lambda_context", None)
        logger.info(
            "request",
            route=f"{spec.method} {spec.path}",
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 1),
            function_request_id=getattr(context, "aws_request_id", None),
        )
        return response

    def _serve_answer(self, spec: RouteSpec, params: dict[str, str]) -> Response:
        try:
            return self._answer(spec, params)
        except ApiProblem as err:
            return problem_response(err)
        except TradeError as err:
            return problem_response(self._trade_problem(spec, params, err))
        except ValidationError as err:
            return problem_response(validation_problem(err, "body"))
        except IdempotencyValidationError:
            return problem_response(
                field_problem(
                    "Idempotency-Key", "this key was used with another request; use a new key for a new request", 422
                )
            )
        except IdempotencyAlreadyInProgressError:
            return problem_response(
                ApiProblem(
                    409,
                    "a request with this Idempotency-Key is in progress; retry in a moment",
                    headers={"Retry-After": "1"},
                )
            )
        except Exception:
            logger.exception("request failed", route=f"{spec.method} {spec.path}")
            return problem_response(ApiProblem(500, "the request failed on our side; it was logged"))

    def _trade_problem(self, spec: RouteSpec, params: dict[str, str], err: TradeError) -> ApiProblem:
        if spec.request is not None and err.field.split(".")[0] in spec.request.model_fields:
            where = f"body.{err.field}"
        elif err.field in params:
            where = f"path.{err.field}"
        elif any(q.name == err.field for q in spec.query):
            where = f"query.{err.field}"
        else:
            where = err.field
        headers = {"Retry-After": "60"} if err.status == 429 else {}
        return ApiProblem(
            err.status,
            f"{where}: {err.message}",
            errors=[FieldError(field=where, message=err.message)],
            headers=headers,
        )

    def _answer(self, spec: RouteSpec, params: dict[str, str]) -> Response:
        http = self.app.current_request
        assert http is not None
        caller = None
        if spec.roles is not None:
            caller = caller_from_claims((http.context.get("authorizer") or {}).get("claims"))
            if spec.roles and not caller.roles & set(spec.roles):
                raise ApiProblem(403, f"this needs the role {' or '.join(spec.roles)}")
        for name, value in params.items():
            if not PATH_PARAM.match(value):
                raise field_problem(f"path.{name}", "letters, digits and _ . : - only (at most 128)")
        req = Request(
            caller=caller,
            path=dict(params),
            query=self._query(spec, dict(http.query_params or {})),
            headers=dict(http.headers),
        )
        raw: Any = None
        if spec.request is not None:
            raw = self._json(http.raw_body)
            try:
                req.body = spec.request.model_validate(raw)
            except ValidationError as err:
                raise validation_problem(err, "body") from err
        key = http.headers.get("idempotency-key")
        if spec.idempotent and key is not None:
            if not IDEMPOTENCY_KEY.match(key):
                raise field_problem("Idempotency-Key", "8 to 128 letters, digits or _ . : -")
            scope = f"{caller.username if caller else '-'}#{spec.method} {spec.path}#{key}"
            context = getattr(self.app, "lambda_context", None)
            stored = _once(scope, {"path": params, "body": raw}, lambda: self._run(spec, req), context)
            return self._response(stored)
        return self._response(self._run(spec, req))

    def _query(self, spec: RouteSpec, given: dict[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for q in spec.query:
            if q.name not in given:
                if q.required:
                    raise field_problem(f"query.{q.name}", "required")
                continue
            try:
                out[q.name] = TypeAdapter(q.type).validate_strings(given[q.name])
            except ValidationError as err:
                raise field_problem(f"query.{q.name}", err.errors()[0]["msg"]) from err
        return out

    @staticmethod
    def _json(raw: str | bytes | None) -> Any:
        if not raw:
            raise field_problem("body", "a JSON object is needed")
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as err:
            raise field_problem("body", f"not JSON: {err}", 400) from err
        if not isinstance(data, dict):
            raise field_problem("body", "a JSON object is needed")
        return data

    def _run(self, spec: RouteSpec, req: Request) -> dict[str, Any]:
        """The view's answer as a storable dict (status, headers, JSON body or text/binary payload)."""
        result = spec.view(req)
        answer = result if isinstance(result, Answer) else Answer(result)
        status = answer.status or spec.status
        if isinstance(answer.body, bytes | str) and spec.response == "binary":
            return {
                "status": status,
                "headers": {"Content-Type": spec.media, **answer.headers},
                "raw": answer.body if isinstance(answer.body, str) else None,
                "bytes": answer.body if isinstance(answer.body, bytes) else None,
            }
        return {
            "status": status,
            "headers": {"Content-Type": "application/json", **answer.headers},
            "json": _dump(answer.body),
        }

    @staticmethod
    def _response(stored: dict[str, Any]) -> Response:
        if stored.get("bytes") is not None:
            body: Any = stored["bytes"]
        elif stored.get("raw") is not None:
            body = stored["raw"]
        else:
            body = json.dumps(stored.get("json"), ensure_ascii=False)
        return Response(body=body, status_code=int(stored["status"]), headers=dict(stored["headers"]))
