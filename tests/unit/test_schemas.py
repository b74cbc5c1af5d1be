"""The contracts in smartgate.schemas: round trips, wire names, rejections, the Detection union, UTC,
and the committed JSON Schemas (stale if a model changed without ``make schemas``)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from smartgate.schemas import (
    DETECTION_ADAPTER,
    VERSIONED_MODELS,
    AuditEntry,
    BarrierCommand,
    BarrierEvent,
    Booking,
    ClearanceDecided,
    Consignment,
    ContainerRead,
    Contract,
    FaceReference,
    FaceRevoked,
    FaceVerified,
    LabResultPosted,
    LabSampleRegistered,
    LaneDecisionReconciled,
    LaneHealth,
    LaneStatusChanged,
    OfficerAlert,
    PartnerExchangeAlarm,
    Passage,
    PassageStateChanged,
    PassScanned,
    PlateCorrection,
    PlateRead,
    RejectedMessage,
    ShelfLifeAlert,
    WeightReading,
    export,
    schema_name,
)

T = "2026-11-03T08:30:12.345000Z"

# One valid message per versioned model, in wire form (aliases, ISO timestamps), as a sender builds it.
EXAMPLES: dict[type[Contract], dict[str, Any]] = {
    PlateRead: {
        "schema": "PlateRead.v1",
        "event_id": "in-1-7f3c9a2e5b8d4f1a",
        "gate_id": "kimthanh2",
        "lane_id": "in-1",
        "camera": "front",
        "plate_text": "29A-123.45",
        "country": "VN",
        "format_valid": True,
        "confidence": 0.962,
        "char_confidences": [0.991, 0.987, 0.962, 0.995, 0.989, 0.978, 0.993, 0.984],
        "crop_key": "evidence/kimthanh2/in-1/2026/11/03/in-1-7f3c9a2e5b8d4f1a.jpg",
        "captured_at": T,
    },
    ContainerRead: {
        "schema": "ContainerRead.v1",
        "event_id": "in-1-7f3c9a2e5b8d4f1a.container",
        "gate_id": "kimthanh2",
        "lane_id": "in-1",
        "container_no": "CSQU3054383",
        "check_digit_ok": True,
        "confidence": 0.947,
        "crop_key": None,
        "captured_at": T,
    },
    PassScanned: {
        "schema": "PassScanned.v1",
        "event_id": "in-1-c41f0a7d9e2b",
        "gate_id": "mongcai",
        "lane_id": "in-1",
        "token": "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJCSy0yMDI2MTEwMy0wMTE3In0.c2ln",
        "verified_offline": True,
        "captured_at": T,
    },
    WeightReading: {
        "schema": "WeightReading.v1",
        "event_id": "out-1-5d2a8f6c1e9b",
        "gate_id": "mongcai",
        "lane_id": "out-1",
        "gross_kg": 38462.5,
        "stable": True,
        "captured_at": T,
    },
    FaceVerified: {
        "schema": "FaceVerified.v1",
        "event_id": "out-1-5d2a8f6c1e9b.face",
        "gate_id": "mongcai",
        "lane_id": "out-1",
        "booking_id": "BK-20261103-0117",
        "driver_ref": "DR-20261101-0042",
        "decision": "mismatch",
        "score": 0.31,
        "threshold": 0.55,
        "quality": {
            "face_px": 142,
            "sharpness": 88.2,
            "detector_score": 0.93,
            "frames": 7,
            "rejected": {"blurred": 3, "no_face": 2},
        },
        "evidence_key": "evidence/mongcai/out-1/2026/11/03/out-1-5d2a8f6c1e9b.face.jpg",
        "captured_at": T,
    },
    FaceReference: {
        "schema": "FaceReference.v1",
        "reference_id": "face-ref-5d2a8f6c1e9b",
        "gate_id": "mongcai",
        "lane_id": "out-1",
        "passage_id": "psg-0a1b2c3d4e5f60718293a4b5",
        "booking_id": "BK-20261103-0117",
        "company_id": "TR-0042",
        "driver_ref": "DR-20261101-0042",
        "key_id": "arn:aws:kms:ap-southeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "ciphertext": "AQICAHh0ZXN0LWNpcGhlcnRleHQ=",
        "model": "dlib_face_recognition_resnet_model_v1",
        "issued_at": T,
        "use_by": "2026-11-03T08:40:12Z",
    },
    FaceRevoked: {
        "schema": "FaceRevoked.v1",
        "gate_id": "mongcai",
        "lane_id": "out-1",
        "company_id": "TR-0042",
        "driver_ref": "DR-20261101-0042",
        "revoked_at": T,
    },
    LaneHealth: {
        "schema": "LaneHealth.v1",
        "event_id": "in-1-e8b3f1a6c9d2",
        "gate_id": "kimthanh2",
        "lane_id": "in-1",
        "online": True,
        "camera_ok": True,
        "fps": 12.4,
        "inference_ms": 43.7,
        "queue_depth": 0,
        "degraded": False,
        "detail": None,
        "at": T,
    },
    BarrierEvent: {
        "schema": "BarrierEvent.v1",
        "event_id": "in-1-bar-4c1d9e0a",
        "gate_id": "kimthanh2",
        "lane_id": "in-1",
        "kind": "offline_decision",
        "state": "opening",
        "reason": "offline: pass BK-20261103-0042 valid for this gate, direction and plate",
        "command_id": None,
        "passage_id": "psg-2a5a0adf5ddf",
        "action": "open",
        "operator": None,
        "plate_text": "29A-123.45",
        "booking_id": "BK-20261103-0042",
        "detection_ids": ["in-1-e8b3f1a6c9d2", "in-1-e8b3f1a6c9d2.pass"],
        "at": T,
    },
    BarrierCommand: {
        "schema": "BarrierCommand.v2",
        "command_id": "cmd-5b1e0c9d2f7a",
        "gate_id": "kimthanh2",
        "lane_id": "in-1",
        "action": "open",
        "passage_id": "psg-2a5a0adf5ddf",
        "reason": "GREEN: plate matches booking BK-20261103-0042",
        "issued_at": T,
        "expires_at": "2026-11-03T08:31:12.345000Z",
        "signature": "ab" * 32,
    },
    Booking: {
        "schema": "Booking.v1",
        "booking_id": "BK-20261103-0042",
        "trader_id": "TR-VN-0107",
        "gate_id": "kimthanh2",
        "direction": "CN_TO_VN",
        "plate_text": "29A-123.45",
        "country": "VN",
        "trailer_plate": None,
        "container_no": "CSQU3054383",
        "driver_name": "Nguyễn Văn An",
        "slot_start": "2026-11-03T08:00:00Z",
        "slot_end": "2026-11-03T10:00:00Z",
        "status": "BOOKED",
        "created_at": "2026-11-02T14:05:31.207000Z",
    },
    RejectedMessage: {
        "schema": "RejectedMessage.v1",
        "source": "smartgate/kimthanh2/lanes/in-1/detections",
        "reason": "confidence: Input should be less than or equal to 1",
        "payload": '{"confidence": 7}',
        "payload_encoding": "utf-8",
        "received_at": T,
    },
}
EVENTS = Path(__file__).resolve().parents[2] / "events"


def _sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


_STREAM = _sample("dynamodb/passage_decided")["Records"][0]["dynamodb"]["NewImage"]["body"]["S"]
_LAB_SAMPLE = {
    "sample_id": "S-MC-20261103-011",
    "tests": ["phytosanitary"],
    "taken_by": "lab-bl2-04",
    "taken_at": T,
    "result": None,
}
_LAB_RESULT = {
    "outcome": "pass",
    "tested_by": "lab-bl2-07",
    "posted_at": T,
    "note": "",
    "parameters": [{"name": "fruit fly larvae", "value": 0, "unit": "per kg", "limit": "0", "ok": True}],
}
_IDS = {
    "passage_id": "psg-4f0c2a9e8b7d6c5a4b3e2f1d",
    "gate_id": "mongcai",
    "lane_id": "out-2",
    "booking_id": "BK-MC-0003",
    "consignment_id": "C-MC-0003",
}
EXAMPLES.update(
    {
        Consignment: json.loads(
            (Path(__file__).resolve().parents[1] / "fixtures" / "consignment_C-20261102-0917.json").read_text(
                encoding="utf-8"
            )
        ),
        Passage: json.loads(_STREAM),
        ClearanceDecided: _sample("eventbridge/clearance_decided_green")["detail"],
        ShelfLifeAlert: _sample("eventbridge/shelf_life_alert")["detail"],
        PassageStateChanged: {
            "schema": "PassageStateChanged.v1",
            "event_id": "evt-7a1b2c3d4e5f",
            **_IDS,
            "from_status": "IN_INSPECTION",
            "to_status": "SAMPLED",
            "reason": "sample S-MC-20261103-011 taken for phytosanitary",
            "actor": "lab:lab-bl2-04",
            "at": T,
        },
        LabSampleRegistered: {
            "schema": "LabSampleRegistered.v1",
            "event_id": "evt-8b2c3d4e5f6a",
            **_IDS,
            "sample": _LAB_SAMPLE,
            "perishable_deadline": "2026-11-06T08:00:00Z",
            "at": T,
        },
        LabResultPosted: {
            "schema": "LabResultPosted.v1",
            "event_id": "evt-9c3d4e5f6a7b",
            **_IDS,
            "sample_id": "S-MC-20261103-011",
            "result": _LAB_RESULT,
            "status": "RELEASED",
            "at": T,
        },
        OfficerAlert: {
            "schema": "OfficerAlert.v1",
            "alert_id": "alr-3c1d9e0f7a2b4c5d6e7f8a9b",
            "kind": "clearance",
            "severity": "critical",
            **{k: v for k, v in _IDS.items() if k in ("gate_id", "lane_id", "passage_id")},
            "plate_text": "14C-135.79",
            "role": "quarantine",
            "level": 0,
            "facts": {"channel": "RED", "rules": "the declaration says the goods need testing (phytosanitary)"},
            "status": "acknowledged",
            "created_at": T,
            "ack_due_at": "2026-11-03T09:20:00Z",
            "acked_by": "kiemdich-mc-02",
            "acked_at": "2026-11-03T09:17:12Z",
            "deliveries": [
                {
                    "level": 0,
                    "role": "quarantine",
                    "locale": "vi",
                    "topic": "smartgate-prod-alerts-mongcai-critical",
                    "subject": "Luồng ĐỎ: xe 14C-135.79 tại Mong Cai / Bac Luan II / out-2",
                    "text": "Xe 14C-135.79 được phân luồng ĐỎ tại Mong Cai / Bac Luan II, làn out-2.",
                    "message_id": "5f0c8b1e-0c4a-5d1e-9a7b-2c3d4e5f6a7b",
                    "at": T,
                }
            ],
            "version": 3,
        },
        LaneStatusChanged: {
            "schema": "LaneStatusChanged.v1",
            "event_id": "lane-0a1b2c3d4e5f6a7b8c9d0e1f",
            "gate_id": "mongcai",
            "lane_id": "out-2",
            "online": False,
            "last_heartbeat_at": "2026-11-03T09:10:00Z",
            "silent_seconds": 95.0,
            "at": T,
        },
        PartnerExchangeAlarm: {
            "schema": "PartnerExchangeAlarm.v1",
            "event_id": "partner-alarm-kimthanh2-2961043",
            "gate_id": "kimthanh2",
            "partner_gate": "hekou",
            "refused": 6,
            "minutes": 10,
            "last_reason": "bad_signature: the signature does not verify with key hekou-2026-1",
            "at": T,
        },
        LaneDecisionReconciled: {
            "schema": "LaneDecisionReconciled.v1",
            "event_id": "rec-0a1b2c3d4e5f6a7b8c9d0e1f",
            "gate_id": "kimthanh2",
            "lane_id": "in-1",
            "passage_id": "psg-2a5a0adf5ddf",
            "plate_text": "29A-123.45",
            "booking_id": "BK-20261103-0042",
            "offline_action": "open",
            "offline_reason": "offline: pass BK-20261103-0042 valid for this gate, direction and plate 29A-123.45",
            "offline_at": "2026-11-03T08:29:40Z",
            "cloud_channel": "RED",
            "cloud_reason": "RED: gross weight 52,100 kg is over the 48,000 kg limit",
            "conflict": True,
            "at": T,
        },
        PlateCorrection: {
            "schema": "PlateCorrection.v1",
            **{k: v for k, v in _IDS.items() if k in ("gate_id", "lane_id", "passage_id")},
            "read_text": "14C-l35.79",
            "plate": "14C-135.79",
            "country": "VN",
            "crop_key": "labelled/plates/mongcai/psg-4f0c2a9e8b7d6c5a4b3e2f1d.jpg",
            "officer": "haiquan-mc-11",
            "reason": "read the plate on the truck",
            "at": T,
        },
        AuditEntry: {
            "schema": "AuditEntry.v1",
            "gate_id": "mongcai",
            "seq": 418,
            "entry_id": "psg-4f0c2a9e8b7d6c5a4b3e2f1d:state:5",
            "kind": "state",
            "passage_id": "psg-4f0c2a9e8b7d6c5a4b3e2f1d",
            "actor": "lab:lab-bl2-07",
            "at": T,
            "detail": {
                "from": "SAMPLED",
                "to": "RELEASED",
                "reason": "lab sample S-MC-20261103-011 passed",
                "by": "lab:lab-bl2-07",
            },
            "prev_hash": "ab" * 32,
            "hash": "cd" * 32,
        },
    }
)
DETECTIONS = (PlateRead, ContainerRead, PassScanned, WeightReading, FaceVerified)
IDENTIFIER_FIELDS = ("event_id", "gate_id", "lane_id", "passage_id", "command_id", "booking_id", "trader_id")
TIMESTAMP_FIELDS = (
    "captured_at",
    "at",
    "issued_at",
    "expires_at",
    "opened_at",
    "decided_at",
    "received_at",
    "slot_start",
    "slot_end",
    "created_at",
    "declared_at",
    "deadline",
    "status_at",
    "first_seen",
    "last_seen",
    "revoked_at",
    "use_by",
)
MODEL_IDS = [schema_name(m) for m in VERSIONED_MODELS]


def example(model: type[Contract], **changes: Any) -> dict[str, Any]:
    return {**EXAMPLES[model], **changes}


def error_locs(err: pytest.ExceptionInfo[ValidationError]) -> list[tuple[str | int, ...]]:
    return [e["loc"] for e in err.value.errors()]


def error_types(err: pytest.ExceptionInfo[ValidationError], field: str) -> set[str]:
    return {e["type"] for e in err.value.errors() if e["loc"][:1] == (field,)}


# ------------------------------------------------------------------------------- strategies

identifiers = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9_.:\-]{0,40}\Z")
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
aware_datetimes = st.datetimes(min_value=datetime(2000, 1, 2), max_value=datetime(2099, 12, 30), timezones=offsets)
confidences = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def messages(draw: st.DrawFn, model: type[Contract]) -> Contract:
    """The model's example with its ids, timestamps and confidences drawn at random."""
    data = example(model)
    for name in data:
        if name in IDENTIFIER_FIELDS and data[name] is not None:
            data[name] = draw(identifiers)
        elif name in TIMESTAMP_FIELDS and data[name] is not None:
            data[name] = draw(aware_datetimes).isoformat()
        elif name == "confidence":
            data[name] = draw(confidences)
        elif name == "char_confidences":
            data[name] = draw(st.lists(confidences, max_size=12))
    return model.model_validate(data)


# ------------------------------------------------------------------------------- coverage


def test_every_versioned_model_has_an_example() -> None:
    assert set(EXAMPLES) == set(VERSIONED_MODELS)


@pytest.mark.parametrize("model", VERSIONED_MODELS, ids=MODEL_IDS)
def test_example_is_valid_and_names_its_schema(model: type[Contract]) -> None:
    message = model.model_validate(EXAMPLES[model])

    assert message.schema_version == schema_name(model)  # type: ignore[attr-defined]
    assert re.fullmatch(rf"{model.__name__}\.v[1-9][0-9]*", schema_name(model))


# ------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("model", VERSIONED_MODELS, ids=MODEL_IDS)
def test_example_round_trips_through_json(model: type[Contract]) -> None:
    # Given a valid message
    message = model.model_validate(EXAMPLES[model])
    # When it is sent as the edge sends it and parsed as the cloud parses it
    received = model.model_validate_json(message.model_dump_json())
    # Then nothing is lost
    assert received == message
    assert received.model_dump_json() == message.model_dump_json()


@pytest.mark.parametrize("model", VERSIONED_MODELS, ids=MODEL_IDS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_generated_messages_round_trip(model: type[Contract], data: st.DataObject) -> None:
    message = data.draw(messages(model))
    assert model.model_validate_json(message.model_dump_json()) == message


@pytest.mark.parametrize("model", VERSIONED_MODELS, ids=MODEL_IDS)
def test_schema_literal_is_on_the_wire_under_its_alias(model: type[Contract]) -> None:
    message = model.model_validate({k: v for k, v in EXAMPLES[model].items() if k != "schema"})

    wire = json.loads(message.model_dump_json())

    assert wire["schema"] == schema_name(model)
    assert "schema_version" not in wire
    assert message.model_dump()["schema"] == schema_name(model)


@pytest.mark.parametrize("model", VERSIONED_MODELS, ids=MODEL_IDS)
def test_another_schema_literal_is_rejected(model: type[Contract]) -> None:
    with pytest.raises(ValidationError) as err:
        model.model_validate(example(model, schema=f"{model.__name__}.v9"))
    assert error_locs(err) == [("schema",)]
    assert error_types(err, "schema") == {"literal_error"}


# ------------------------------------------------------------------------------- rejections

REQUIRED = [(m, f.alias or name) for m in VERSIONED_MODELS for name, f in m.model_fields.items() if f.is_required()]


@pytest.mark.parametrize(("model", "field"), REQUIRED, ids=[f"{schema_name(m)}-{f}" for m, f in REQUIRED])
def test_missing_required_field_is_named(model: type[Contract], field: str) -> None:
    data = example(model)
    del data[field]

    with pytest.raises(ValidationError) as err:
        model.model_validate(data)

    assert error_locs(err) == [(field,)]
    assert error_types(err, field) == {"missing"}


@pytest.mark.parametrize("model", [PlateRead, ContainerRead], ids=["PlateRead.v1", "ContainerRead.v1"])
@pytest.mark.parametrize("value", [1.0001, 7, -0.01])
def test_confidence_outside_zero_to_one_is_rejected(model: type[Contract], value: float) -> None:
    with pytest.raises(ValidationError) as err:
        model.model_validate(example(model, confidence=value))
    assert error_locs(err) == [("confidence",)]


def test_character_confidence_above_one_is_rejected_with_its_index() -> None:
    with pytest.raises(ValidationError) as err:
        PlateRead.model_validate(example(PlateRead, char_confidences=[0.9, 1.5]))
    assert error_locs(err) == [("char_confidences", 1)]


@pytest.mark.parametrize("model", VERSIONED_MODELS, ids=MODEL_IDS)
def test_naive_timestamps_are_rejected(model: type[Contract]) -> None:
    fields = [name for name in TIMESTAMP_FIELDS if EXAMPLES[model].get(name) is not None]
    assert fields, "every versioned message carries at least one timestamp"
    for name in fields:
        with pytest.raises(ValidationError) as err:
            model.model_validate(example(model, **{name: "2026-11-03T08:30:12"}))
        assert error_locs(err) == [(name,)]
        assert error_types(err, name) == {"timezone_aware"}


def test_naive_datetime_object_is_rejected_too() -> None:
    with pytest.raises(ValidationError) as err:
        PlateRead.model_validate(example(PlateRead, captured_at=datetime(2026, 11, 3, 8, 30)))
    assert error_types(err, "captured_at") == {"timezone_aware"}


@pytest.mark.parametrize("model", VERSIONED_MODELS, ids=MODEL_IDS)
def test_unknown_field_is_rejected(model: type[Contract]) -> None:
    with pytest.raises(ValidationError) as err:
        model.model_validate(example(model, plate_colour="yellow"))
    assert error_locs(err) == [("plate_colour",)]
    assert error_types(err, "plate_colour") == {"extra_forbidden"}


def test_python_field_name_is_accepted_as_well_as_the_alias() -> None:
    # validate_by_name: code may build a message with schema_version=...; the wire still says "schema".
    data = {k: v for k, v in EXAMPLES[PlateRead].items() if k != "schema"}
    read = PlateRead.model_validate({**data, "schema_version": "PlateRead.v1"})
    assert read.schema_version == "PlateRead.v1"


@pytest.mark.parametrize("bad_id", ["kimthanh2/in-1", "in 1", "+", "#", "", "-in-1", "in-1\nx", "x" * 129])
@pytest.mark.parametrize("field", ["gate_id", "lane_id", "event_id"])
def test_identifiers_that_cannot_be_topic_levels_are_rejected(field: str, bad_id: str) -> None:
    with pytest.raises(ValidationError) as err:
        PlateRead.model_validate(example(PlateRead, **{field: bad_id}))
    assert error_locs(err) == [(field,)]


@pytest.mark.parametrize("model", VERSIONED_MODELS, ids=MODEL_IDS)
def test_every_identifier_field_refuses_a_slash(model: type[Contract]) -> None:
    fields = [name for name in IDENTIFIER_FIELDS if name in model.model_fields]
    for name in fields:
        with pytest.raises(ValidationError) as err:
            model.model_validate(example(model, **{name: "kimthanh2/in-1"}))
        assert error_locs(err) == [(name,)], name


@given(text=identifiers)
def test_generated_identifiers_are_accepted(text: str) -> None:
    assert PlateRead.model_validate(example(PlateRead, gate_id=text)).gate_id == text


def test_messages_are_immutable() -> None:
    read = PlateRead.model_validate(EXAMPLES[PlateRead])
    with pytest.raises(ValidationError):
        read.confidence = 0.1  # type: ignore[misc]


# ------------------------------------------------------------------------------- the Detection union


@pytest.mark.parametrize("model", DETECTIONS, ids=[schema_name(m) for m in DETECTIONS])
def test_detection_union_picks_the_model_named_by_schema(model: type[Contract]) -> None:
    from_python = DETECTION_ADAPTER.validate_python(EXAMPLES[model])
    from_json = DETECTION_ADAPTER.validate_json(json.dumps(EXAMPLES[model]))

    assert type(from_python) is model
    assert from_json == from_python == model.model_validate(EXAMPLES[model])


def test_detection_union_reports_the_branch_that_failed() -> None:
    with pytest.raises(ValidationError) as err:
        DETECTION_ADAPTER.validate_python(example(PlateRead, confidence=7))
    assert error_locs(err) == [("PlateRead.v1", "confidence")]


@pytest.mark.parametrize("schema", ["LaneHealth.v1", "PlateRead.v2", "Passage.v1"])
def test_detection_union_refuses_other_schemas(schema: str) -> None:
    with pytest.raises(ValidationError) as err:
        DETECTION_ADAPTER.validate_python(example(PlateRead, schema=schema))
    assert {e["type"] for e in err.value.errors()} == {"union_tag_invalid"}


def test_detection_union_needs_the_schema_field() -> None:
    data = {k: v for k, v in EXAMPLES[PlateRead].items() if k != "schema"}
    with pytest.raises(ValidationError) as err:
        DETECTION_ADAPTER.validate_python(data)
    assert {e["type"] for e in err.value.errors()} == {"union_tag_not_found"}


# ------------------------------------------------------------------------------- UTC


def test_timestamps_with_an_offset_are_stored_and_sent_as_utc() -> None:
    read = PlateRead.model_validate(example(PlateRead, captured_at="2026-11-03T15:30:12.345+07:00"))

    assert read.captured_at == datetime(2026, 11, 3, 8, 30, 12, 345000, tzinfo=UTC)
    assert read.captured_at.tzinfo is UTC
    assert json.loads(read.model_dump_json())["captured_at"] == "2026-11-03T08:30:12.345000Z"


@given(moment=aware_datetimes)
def test_any_offset_is_normalised_to_the_same_instant_in_utc(moment: datetime) -> None:
    health = LaneHealth.model_validate(example(LaneHealth, at=moment.isoformat()))

    assert health.at == moment
    assert health.at.utcoffset() == timedelta(0)
    assert health.at.tzinfo is UTC


def test_python_datetimes_are_normalised_as_well() -> None:
    hanoi = timezone(timedelta(hours=7))
    booking = Booking.model_validate(example(Booking, slot_start=datetime(2026, 11, 3, 15, 0, tzinfo=hanoi)))
    assert booking.slot_start == datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    assert booking.slot_start.tzinfo is UTC


# ------------------------------------------------------------------------------- committed JSON Schemas


def test_json_schemas_on_disk_are_up_to_date() -> None:
    # Fails when a model changes without `make schemas` (python -m smartgate.schemas.export).
    rendered = export.render()
    stale, missing, extra = export.compare(rendered)

    assert (stale, missing, extra) == ([], [], []), "JSON Schemas are out of date: run `make schemas`"
    for name, text in rendered.items():
        assert (export.JSON_DIR / name).read_text(encoding="utf-8") == text


def test_json_schema_folder_holds_exactly_one_file_per_versioned_model_and_the_union() -> None:
    on_disk = sorted(path.name for path in export.JSON_DIR.glob("*.json"))
    expected = sorted([f"{schema_name(m)}.json" for m in VERSIONED_MODELS] + ["Detection.v1.json"])
    assert on_disk == expected
    assert sorted(p.name for p in export.JSON_DIR.iterdir() if p.suffix != ".json") == []


def test_check_mode_passes_on_the_repository() -> None:
    assert export.main(["--check"]) == 0


def test_check_mode_lists_stale_missing_and_extra_files_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rendered = export.render()
    stale = rendered["PlateRead.v1.json"].replace("plate", "plaat")
    (tmp_path / "PlateRead.v1.json").write_text(stale, encoding="utf-8")
    (tmp_path / "PlateRead.v0.json").write_text("{}\n", encoding="utf-8")
    before = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()}

    assert export.main(["--check", "--dir", str(tmp_path)]) == 1

    err = capsys.readouterr().err
    assert "stale: " in err and "PlateRead.v1.json" in err
    assert "missing: " in err and "Detection.v1.json" in err
    assert "extra: " in err and "PlateRead.v0.json" in err
    assert {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()} == before


def test_write_mode_converges(tmp_path: Path) -> None:
    (tmp_path / "Old.v1.json").write_text("{}\n", encoding="utf-8")

    assert export.main(["--dir", str(tmp_path)]) == 0

    assert export.compare(export.render(), tmp_path) == ([], [], [])
    assert export.main(["--check", "--dir", str(tmp_path)]) == 0


def test_rendering_is_deterministic_and_formatted() -> None:
    first, second = export.render(), export.render()
    assert first == second
    for name, text in first.items():
        doc = json.loads(text)
        assert text == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        assert doc["$id"] == f"https://smartgate.example/schemas/{name}"
        assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_schemas_use_wire_names_and_forbid_extra_fields() -> None:
    plate = json.loads(export.render()["PlateRead.v1.json"])
    assert plate["properties"]["schema"]["const"] == "PlateRead.v1"
    assert "schema_version" not in plate["properties"]
    assert plate["additionalProperties"] is False
    union = json.loads(export.render()["Detection.v1.json"])
    assert union["discriminator"]["propertyName"] == "schema"
    assert set(union["discriminator"]["mapping"]) == {schema_name(m) for m in DETECTIONS}


@pytest.mark.parametrize("model", VERSIONED_MODELS, ids=MODEL_IDS)
def test_examples_validate_against_the_committed_json_schema(model: type[Contract]) -> None:
    # What the partner gate and the mobile app do with the same files.
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((export.JSON_DIR / f"{schema_name(model)}.json").read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)

    assert list(validator.iter_errors(EXAMPLES[model])) == []
    assert list(validator.iter_errors(example(model, plate_colour="yellow"))) != []


def test_detection_examples_validate_against_the_union_json_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((export.JSON_DIR / "Detection.v1.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    for model in DETECTIONS:
        assert list(validator.iter_errors(EXAMPLES[model])) == [], schema_name(model)
    assert list(validator.iter_errors(EXAMPLES[LaneHealth])) != []


def test_a_face_check_carries_no_embedding_and_no_image_unless_it_is_a_mismatch() -> None:
    with pytest.raises(ValidationError) as err:
        FaceVerified.model_validate(example(FaceVerified, embedding=[0.1] * 128))
    assert error_locs(err) == [("embedding",)]
    with pytest.raises(ValidationError, match="evidence_key: a face image is kept only after a mismatch"):
        FaceVerified.model_validate(example(FaceVerified, decision="match", score=0.7))
    with pytest.raises(ValidationError, match="score: given exactly when the face was compared"):
        FaceVerified.model_validate(example(FaceVerified, decision="unusable", evidence_key=None, quality=None))
    with pytest.raises(ValidationError) as err:
        FaceVerified.model_validate(
            example(FaceVerified, quality={**EXAMPLES[FaceVerified]["quality"], "rejected": {"x": 1}})
        )
    assert error_locs(err)[0][:2] == ("quality", "rejected")
    unusable = FaceVerified.model_validate(
        example(FaceVerified, decision="unusable", score=None, evidence_key=None, quality=None)
    )
    assert unusable.score is None
