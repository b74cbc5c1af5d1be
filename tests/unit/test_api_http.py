"""The API's plumbing: field-naming problems, callers from Cognito claims, cursors, the generated document."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate
from pydantic import ValidationError

from smartgate.api.http import (
    ApiProblem,
    Query,
    RouteSpec,
    caller_from_claims,
    decode_cursor,
    encode_cursor,
    openapi_document,
    validation_problem,
)
from smartgate.schemas.api import BookingIn, ConsignmentIn, Page, PassOut


def book() -> None: ...


def listing() -> None: ...


def qr() -> None: ...


def document() -> None: ...


def test_a_validation_error_names_every_field() -> None:
    with pytest.raises(ValidationError) as err:
        ConsignmentIn.model_validate(
            {
                "gate_id": "kimthanh2",
                "direction": "VN_TO_CN",
                "country": "VN",
                "plate_text": "24C-123.45",
                "container_nos": ["MSCU1234560"],
                "goods": [{"hs_code": "12", "description": "x", "net_mass_kg": 1}],
            }
        )
    problem = validation_problem(err.value).problem()
    fields = {e.field for e in problem.errors}
    assert problem.status == 422 and "body.goods.0.hs_code" in fields and "body.container_nos.0" in fields
    assert "body.goods.0.hs_code" in problem.detail


def test_callers_come_from_claims_and_groups_in_either_form() -> None:
    a = caller_from_claims({"cognito:username": "lan", "custom:company_id": "acme", "cognito:groups": "traders,lab"})
    b = caller_from_claims({"cognito:username": "op", "cognito:groups": "[operators officers]"})
    assert a.company() == "acme" and a.is_("lab") and not a.is_("operators")
    assert b.roles == {"operators", "officers"} and b.may_see_company("acme") and not a.may_see_company("other")
    with pytest.raises(ApiProblem) as err:
        b.company()
    assert err.value.status == 403
    with pytest.raises(ApiProblem) as err:
        caller_from_claims(None)
    assert err.value.status == 401


def test_cursors_round_trip_and_junk_is_a_field_error() -> None:
    key: dict[str, Any] = {"company_id": {"S": "acme"}, "sk": {"S": "vehicle#29C12345"}}
    assert decode_cursor(encode_cursor(key)) == key and encode_cursor(None) is None
    for junk in ("%%%", "bm90IGpzb24", "WzFd"):
        with pytest.raises(ApiProblem) as err:
            decode_cursor(junk)
        assert err.value.errors[0].field == "query.cursor"


def test_the_document_is_valid_openapi_and_describes_each_route() -> None:
    specs = [
        RouteSpec(
            "/bookings",
            "POST",
            "book",
            book,
            "bookings",
            request=BookingIn,
            response=PassOut,
            status=201,
            idempotent=True,
            errors=(409,),
        ),
        RouteSpec(
            "/bookings",
            "GET",
            "list",
            listing,
            "bookings",
            response=Page[PassOut],
            query=(Query("cursor"), Query("limit", int)),
        ),
        RouteSpec("/bookings/{booking_id}/pass.png", "GET", "qr", qr, "bookings", response="binary", media="image/png"),
        RouteSpec("/openapi.json", "GET", "doc", document, "meta", roles=None),
    ]
    doc = openapi_document(specs, "t", "1")
    validate(doc)
    post = doc["paths"]["/bookings"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/BookingIn")
    assert {"201", "401", "403", "409", "422"} <= set(post["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in post["parameters"])
    assert doc["paths"]["/openapi.json"]["get"]["security"] == []
    assert "PassOut" in doc["components"]["schemas"]
    assert doc["paths"]["/bookings/{booking_id}/pass.png"]["get"]["parameters"][0]["name"] == "booking_id"
