"""REST API for traders, officers, the lab and the console (Chalice). Each route is a few lines over the core.

Deployed by SAM as one function (``Handler: app.app``); every route has its own ``Api`` event in
template.yaml with the same path, because Chalice routes on API Gateway's resource path.
"""

from __future__ import annotations

from typing import Any

from chalice import BadRequestError, Chalice, ConflictError, NotFoundError, Response
from pydantic import BaseModel, ValidationError

from smartgate import wiring
from smartgate.domain.intake import describe_validation_error
from smartgate.domain.lab import PassageNotFound, queues, record_result, take_sample
from smartgate.domain.passages import IllegalTransition, PassageError
from smartgate.schemas import Booking, LabResult, LabSample, Passage, utc_now

app = Chalice(app_name="smartgate-api")


def _body() -> dict[str, Any]:
    body = app.current_request.json_body
    if not isinstance(body, dict):
        raise BadRequestError("body: expected a JSON object")
    return body


def _parse(model: type[BaseModel], data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise BadRequestError(describe_validation_error(err)) from err


@app.route("/health", methods=["GET"])
def health() -> dict[str, Any]:
    return {"status": "ok", "at": utc_now().isoformat()}


def _passage_view(passage: Passage) -> dict[str, Any]:
    return passage.model_dump(mode="json")


@app.route("/passages/{passage_id}", methods=["GET"])
def get_passage(passage_id: str) -> dict[str, Any]:
    passage = wiring.passages().get(passage_id)
    if passage is None:
        raise NotFoundError(f"passage {passage_id} not found")
    return _passage_view(passage)


@app.route("/bookings/{booking_id}", methods=["GET"])
def get_booking(booking_id: str) -> dict[str, Any]:
    booking = wiring.bookings().get(booking_id)
    if booking is None:
        raise NotFoundError(f"booking {booking_id} not found")
    return booking.model_dump(mode="json")


@app.route("/consignments/{consignment_id}", methods=["GET"])
def get_consignment(consignment_id: str) -> dict[str, Any]:
    consignment = wiring.consignments().get(consignment_id)
    if consignment is None:
        raise NotFoundError(f"consignment {consignment_id} not found")
    return consignment.model_dump(mode="json")


@app.route("/bookings", methods=["POST"], content_types=["application/json"])
def create_booking() -> Response:
    booking: Booking = _parse(Booking, {"created_at": utc_now().isoformat(), **_body()})
    if booking.slot_end <= booking.slot_start:
        raise BadRequestError("slot_end: must be after slot_start")
    consignment = None
    if booking.consignment_id:
        consignment = wiring.consignments().get(booking.consignment_id)
        if consignment is None:
            raise BadRequestError(f"consignment_id: no consignment {booking.consignment_id}")
    existing = wiring.bookings().get(booking.booking_id)
    if existing is not None:
        same = existing.model_dump(exclude={"created_at"}) == booking.model_dump(exclude={"created_at"})
        if not same:
            return Response(body={"error": f"booking_id: {booking.booking_id} exists with other data"},
                            status_code=409)
        return Response(body=existing.model_dump(mode="json"), status_code=200)
    wiring.bookings().put(booking, consignment)
    return Response(body=booking.model_dump(mode="json"), status_code=201)


def _lab_step(passage_id: str, step: Any) -> Response:
    try:
        passage = step()
    except PassageNotFound as err:
        raise NotFoundError(str(err)) from err
    except (PassageError, IllegalTransition) as err:
        raise ConflictError(str(err)) from err
    return Response(body=_passage_view(passage), status_code=200)


@app.route("/passages/{passage_id}/lab-samples", methods=["POST"], content_types=["application/json"])
def register_lab_sample(passage_id: str) -> Response:
    """A sample taken for the lab (which tests); the passage becomes SAMPLED."""
    sample: LabSample = _parse(LabSample, {"taken_at": utc_now().isoformat(), **_body()})
    return _lab_step(passage_id, lambda: take_sample(wiring.passages(), passage_id, sample))


@app.route("/passages/{passage_id}/lab-samples/{sample_id}/result", methods=["POST"],
           content_types=["application/json"])
def post_lab_result(passage_id: str, sample_id: str) -> Response:
    """The lab's result: pass releases the consignment (once every sample passed), fail refuses it."""
    result: LabResult = _parse(LabResult, {"posted_at": utc_now().isoformat(), **_body()})
    return _lab_step(passage_id, lambda: record_result(wiring.passages(), passage_id, sample_id, result))


@app.route("/gates/{gate_id}/queues", methods=["GET"])
def gate_queues(gate_id: str) -> dict[str, Any]:
    """Who waits at the gate: the inspection and the lab queue, perishables first."""
    if gate_id not in wiring.gates().gates:
        raise NotFoundError(f"gate {gate_id} not found (gates: {', '.join(wiring.gates().gate_ids())})")
    found = queues(wiring.passages(), gate_id)
    return {name: [_queue_row(p) for p in rows] for name, rows in found.items()}


def _queue_row(p: Passage) -> dict[str, Any]:
    deadline = p.consignment.shelf_life_deadline() if p.consignment else None
    return {"passage_id": p.passage_id, "lane_id": p.lane_id, "plate_text": p.plate_text, "status": p.status.value,
            "channel": p.channel.value if p.channel else None, "booking_id": p.booking_id,
            "consignment_id": p.consignment_id, "perishable_deadline": deadline.isoformat() if deadline else None,
            "lab_tests": [t.value for t in p.decision.lab_tests] if p.decision else [],
            "since": p.status_at.isoformat(), "reason": p.status_reason}
