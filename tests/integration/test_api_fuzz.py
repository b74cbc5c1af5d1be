"""Schemathesis against the API's own /openapi.json on the local stack: generated requests (valid and not)
for every operation, as a trader and as a gate operator. No request may make the server fail (5xx), and
every answer must be what the document says (status code, content type, body schema)."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from trade_helpers import new_trader

from smartgate_infra.api_client import ApiClient
from smartgate_infra.stack import ROOT

pytestmark = pytest.mark.integration


def _document() -> dict:  # type: ignore[type-arg]
    """The document the API serves, made from the same route table (the stack's copy is compared below)."""
    sys.path.insert(0, str(ROOT / "functions" / "api"))
    spec = importlib.util.spec_from_file_location("smartgate_api_for_fuzzing", ROOT / "functions" / "api" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.api.openapi()  # type: ignore[no-any-return]


DOCUMENT = _document()
# (schemathesis.pytest.from_fixture does not run under pytest 9: the document is loaded at import instead)
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])  # valid and invalid


def test_the_stack_serves_this_document(stack) -> None:  # type: ignore[no-untyped-def]
    reply = ApiClient(stack.api_url).get("/openapi.json")
    assert reply.status == 200 and reply.body == DOCUMENT


@pytest.fixture(scope="session")
def tokens(stack, stack_client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    trader = new_trader(stack, stack_client, prefix="FZ")
    return {
        "traders": str(trader.api.token),
        "operators": stack_client.token_for("fuzz-operator", ["operators"]),
        "officers": stack_client.officer_token("fuzz-supervisor", "supervisor", "*"),
    }


OPERATOR_ROUTES = ("/companies", "/gates/{gate_id}/capacity", "/officers")
OFFICER_ROUTES = ("/alerts", "/officers/me", "/passages", "/gates/{gate_id}/lanes", "/gates/{gate_id}/queues")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schema.parametrize()
# CI runs a fixed sample; SMARTGATE_FUZZ_EXAMPLES=200 SMARTGATE_FUZZ_RANDOM=1 explores further
@settings(
    max_examples=int(os.environ.get("SMARTGATE_FUZZ_EXAMPLES", "20")),
    deadline=None,
    derandomize=not os.environ.get("SMARTGATE_FUZZ_RANDOM"),
    suppress_health_check=list(HealthCheck),
)
def test_no_request_breaks_the_api_or_the_document(case, stack, tokens) -> None:  # type: ignore[no-untyped-def]
    path = case.operation.path
    role = (
        "officers"
        if path.startswith(OFFICER_ROUTES)
        else "operators"
        if path.startswith(OPERATOR_ROUTES)
        else "traders"
    )
    response = case.call(base_url=stack.api_url, headers={"Authorization": tokens[role]}, timeout=30)
    case.validate_response(response, checks=CHECKS)
