"""REST API for traders, officers and the console (Chalice). Each route is a few lines over the core.

Deployed by SAM as one function (``Handler: app.app``); every route has its own ``Api`` event in
template.yaml with the same path, because Chalice routes on API Gateway's resource path.
"""

from __future__ import annotations

from typing import Any

from chalice import BadRequestError, Chalice, NotFoundError, Response
from pydantic import ValidationError

from smartgate import wiring
from smartgate.domain.intake import describe_validation_error
from smartgate.schemas import Booking, utc_now

app = Chalice(app_name="smartgate-api")


@app.route("/health", methods=["GET"])
def health() -> dict[str, Any]:
    return {"status": "ok", "at": utc_now().isoformat()}


@app.route("/passages/{passage_id}", methods=["GET"])
def get_passage(passage_id: str) -> dict[str, Any]:
    passage = wiring.passages().get(passage_id)
    if passage is None:
        raise NotFoundError(f"passage {passage_id} not found")
    return passage.model_dump(mode="json")


@app.route("/bookings/{booking_id}", methods=["GET"])
def get_booking(booking_id: str) -> dict[str, Any]:
    booking = wiring.bookings().get(booking_id)
    if booking is None:
        raise NotFoundError(f"booking {booking_id} not found")
    return booking.model_dump(mode="json")


@app.route("/bookings", methods=["POST"], content_types=["application/json"])
def create_booking() -> Response:
    body = app.current_request.json_body
    if not isinstance(body, dict):
        raise BadRequestError("body: expected a JSON object")
    try:
        booking = Booking.model_validate({"created_at": utc_now().isoformat(), **body})
    except ValidationError as err:
        raise BadRequestError(describe_validation_error(err)) from err
    if booking.slot_end <= booking.slot_start:
        raise BadRequestError("slot_end: must be after slot_start")
    existing = wiring.bookings().get(booking.booking_id)
    if existing is not None:
        same = existing.model_dump(exclude={"created_at"}) == booking.model_dump(exclude={"created_at"})
        if not same:
            return Response(body={"error": f"booking_id: {booking.booking_id} exists with other data"},
                            status_code=409)
        return Response(body=existing.model_dump(mode="json"), status_code=200)
    wiring.bookings().put(booking)
    return Response(body=booking.model_dump(mode="json"), status_code=201)
