"""Contract tests for the sample events in ``events/``: each is shaped as AWS delivers it to its function
and parses the way that function parses it. The same files drive ``sam local invoke -e``."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.parser import envelopes, models, parse

from events import EVENTS_DIR, event_names, event_path, load_event
from smartgate.adapters.trade import outbox_note
from smartgate.domain.crossing import passage_id_for
from smartgate.domain.events import passage_events
from smartgate.domain.intake import RECEIVED_KEY, TOPIC_KEY, RejectedDetection, detection_from_rule_event
from smartgate.domain.plates import plate_key
from smartgate.schemas import (
    Channel,
    ClearanceDecided,
    ContainerRead,
    Contract,
    FaceVerified,
    LaneHealth,
    Passage,
    PassageStatus,
    PassScanned,
    PlateRead,
    ShelfLifeAlert,
    WeightReading,
    schema_name,
    utc_now,
)
from smartgate.schemas.api import BookingIn
from smartgate.topics import detections_topic, health_topic, parse_lane_topic
from smartgate_infra.iot_sql import TopicRuleSql
from smartgate_infra.template import Template

ROOT = Path(__file__).resolve().parents[2]

GOOD_DETECTIONS: dict[str, type[Contract]] = {
    "iot/plate_read_ok": PlateRead,
    "iot/plate_read_cn": PlateRead,
    "iot/container_read_ok": ContainerRead,
    "iot/pass_scanned": PassScanned,
    "iot/weight_reading": WeightReading,
    "iot/face_verified_mismatch": FaceVerified,
}
# Deliberately bad: the field the rejection must name, and the one change that would make it acceptable.
BAD_DETECTIONS: dict[str, tuple[str, dict[str, Any]]] = {
    "iot/plate_read_wrong_lane": ("gate_id/lane_id", {"lane_id": "in-1"}),
    "iot/plate_read_bad_confidence": ("confidence", {"confidence": 0.9}),
    "iot/missing_schema": ("schema", {"schema": "PlateRead.v1"}),
}
# Contract samples of lane messages no function consumes yet.
LANE_MESSAGES: dict[str, type[Contract]] = {"iot/lane_health": LaneHealth}
RULE_EVENTS = [*GOOD_DETECTIONS, *BAD_DETECTIONS]


@pytest.fixture(scope="module")
def template() -> Template:
    return Template.load(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def api_app() -> Any:
    """The Chalice app of functions/api, imported from its path as Lambda does (``Handler: app.app``)."""
    path = ROOT / "functions" / "api" / "app.py"
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))  # its chalicelib, as Lambda's code directory
    spec = importlib.util.spec_from_file_location("smartgate_api_function", path)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.app


def payload_of(rule_event: dict[str, Any]) -> dict[str, Any]:
    """What the lane published: the rule output without the keys the rule SQL added."""
    return {k: v for k, v in rule_event.items() if k not in (TOPIC_KEY, RECEIVED_KEY)}


# ------------------------------------------------------------------------------- the helper and the folder


def test_load_event_reads_the_repository_events_folder() -> None:
    assert EVENTS_DIR == ROOT / "events"
    assert load_event("iot/plate_read_ok") == load_event("iot/plate_read_ok.json")
    assert load_event("iot/plate_read_ok") is not load_event("iot/plate_read_ok")


def test_load_event_names_the_missing_file() -> None:
    missing = ROOT / "events" / "iot" / "no_such_case.json"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        load_event("iot/no_such_case")
    with pytest.raises(ValueError, match="relative"):
        event_path("../template")


def test_every_sample_event_is_covered_by_a_test_here() -> None:
    covered = {*GOOD_DETECTIONS, *BAD_DETECTIONS, *LANE_MESSAGES, "iot/barrier_offline_decision"}
    assert set(event_names("iot")) == covered
    assert set(event_names()) - covered == {
        "dynamodb/passage_decided",
        "dynamodb/outbox_notification_inserted",
        "eventbridge/clearance_decided_green",
        "eventbridge/clearance_decided_red",
        "eventbridge/shelf_life_alert",
        "eventbridge/lane_offline",
        "eventbridge/offline_conflict",
        "sqs/settle_due",
        "schedule/shelf_life_watch",
        "schedule/lane_watch",
        *API_SAMPLES,
    }


@pytest.mark.parametrize("name", event_names())
def test_sample_files_are_utf8_json_objects_with_a_trailing_newline(name: str) -> None:
    text = event_path(name).read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert isinstance(json.loads(text), dict)


# ---------------------------------------------------------------------- IoT rule -> ingest_detections


@pytest.mark.parametrize("name", RULE_EVENTS)
def test_iot_samples_are_what_the_topic_rule_sql_delivers(name: str, template: Template) -> None:
    # Given what the lane published, on the topic it used, at the time the rule saw it
    event = load_event(name)
    rule = template.resources["DetectionsTopicRule"].properties["TopicRulePayload"]
    sql = TopicRuleSql.parse(rule["Sql"])
    published = json.dumps(payload_of(event), ensure_ascii=False).encode()
    # When the rule's SQL runs on it
    delivered = sql.evaluate(published, event[TOPIC_KEY], timestamp_ms=event[RECEIVED_KEY])
    # Then the function receives exactly the sample
    assert sql.matches(event[TOPIC_KEY])
    assert delivered == event
    assert isinstance(event[RECEIVED_KEY], int) and event[RECEIVED_KEY] > 1_780_000_000_000  # epoch ms, 2026


@pytest.mark.parametrize(("name", "model"), GOOD_DETECTIONS.items())
def test_good_detection_samples_are_accepted(name: str, model: type[Contract]) -> None:
    event = load_event(name)

    detection = detection_from_rule_event(event)

    assert type(detection) is model
    assert detection.schema_version == schema_name(model)
    topic = parse_lane_topic(event[TOPIC_KEY])
    assert topic.channel == "detections"
    assert (topic.gate_id, topic.lane_id) == (detection.gate_id, detection.lane_id)
    assert event[TOPIC_KEY] == detections_topic(detection.gate_id, detection.lane_id)
    # the payload is exactly what the edge publishes: model.model_dump_json()
    assert json.loads(detection.model_dump_json()) == payload_of(event)
    # and the lane did not publish from the future of the rule
    assert detection.captured_at.timestamp() * 1000 <= event[RECEIVED_KEY]


@pytest.mark.parametrize(("name", "field", "fix"), [(n, f, x) for n, (f, x) in BAD_DETECTIONS.items()])
def test_bad_detection_samples_are_rejected_naming_the_field(name: str, field: str, fix: dict[str, Any]) -> None:
    event = load_event(name)

    with pytest.raises(RejectedDetection) as err:
        detection_from_rule_event(event)

    # the field leads its "loc: message" part (a union branch may prefix it: "PlateRead.v1.confidence: ...")
    assert re.match(rf"^(\S+\.)?{re.escape(field)}: ", err.value.reason), err.value.reason
    # each sample is wrong in that one way only
    assert isinstance(detection_from_rule_event({**event, **fix}), PlateRead)


def test_wrong_lane_sample_is_a_valid_read_published_on_another_lanes_topic() -> None:
    event = load_event("iot/plate_read_wrong_lane")
    read = PlateRead.model_validate(payload_of(event))
    assert parse_lane_topic(event[TOPIC_KEY]).lane_id != read.lane_id


def test_plate_samples_cover_both_countries_and_their_scripts() -> None:
    vn = detection_from_rule_event(load_event("iot/plate_read_ok"))
    cn = detection_from_rule_event(load_event("iot/plate_read_cn"))
    assert isinstance(vn, PlateRead) and isinstance(cn, PlateRead)
    assert (vn.plate_text, vn.country, vn.gate_id, vn.lane_id) == ("29A-123.45", "VN", "kimthanh2", "in-1")
    assert cn.country == "CN" and not cn.plate_text.isascii()
    assert vn.format_valid and cn.format_valid


@pytest.mark.parametrize(("name", "model"), LANE_MESSAGES.items())
def test_lane_health_sample_is_the_published_message(name: str, model: type[Contract]) -> None:
    event = load_event(name)

    message = model.model_validate_json(json.dumps(event))

    assert json.loads(message.model_dump_json()) == event
    assert TOPIC_KEY not in event  # as published on .../health; no rule adds the topic yet
    assert isinstance(message, LaneHealth)
    assert parse_lane_topic(health_topic(message.gate_id, message.lane_id)).channel == "health"


# ------------------------------------------------------------- Passages stream -> publish_passage_events


def _images() -> tuple[dict[str, Any], dict[str, Any]]:
    record = load_event("dynamodb/passage_decided")["Records"][0]["dynamodb"]
    return record["OldImage"], record["NewImage"]


def test_stream_sample_has_the_shape_lambda_delivers(template: Template) -> None:
    event = load_event("dynamodb/passage_decided")

    parsed = models.DynamoDBStreamModel.model_validate(event)

    (record,) = event["Records"]
    assert record["eventName"] == "MODIFY"  # the passage was stored open, then decided
    assert (record["eventSource"], record["eventVersion"]) == ("aws:dynamodb", "1.1")
    assert record["awsRegion"] == record["eventSourceARN"].split(":")[3]
    arn = r"arn:aws:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]+-passages/stream/[0-9T:.-]+"
    assert re.fullmatch(arn, record["eventSourceARN"])
    stream_spec = template.resources["PassagesTable"].properties["StreamSpecification"]
    assert record["dynamodb"]["StreamViewType"] == stream_spec["StreamViewType"]
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int | float)
    assert parsed.Records[0].dynamodb is not None


def test_stream_sample_images_parse_as_passages_like_the_handlers_do() -> None:
    # Given the stream event as the BatchProcessor wraps each record
    event = DynamoDBStreamEvent(load_event("dynamodb/passage_decided"))
    (record,) = list(event.records)
    assert record.dynamodb is not None and record.dynamodb.new_image is not None
    new_image, old_image = record.dynamodb.new_image, record.dynamodb.old_image
    assert old_image is not None
    # When the handlers read the bodies
    new = Passage.model_validate_json(new_image["body"])
    old = Passage.model_validate_json(old_image["body"])
    # Then the write decided an open passage, one version on, and its key attributes agree with the body
    assert old.status == PassageStatus.OPEN and old.decision is None
    assert new.status == PassageStatus.RELEASED and new.channel == Channel.GREEN
    assert new.version == old.version + 1
    assert record.dynamodb.keys == {"passage_id": new.passage_id}
    assert {k: new_image[k] for k in ("passage_id", "gate_status", "opened_at")} == {
        "passage_id": new.passage_id,
        "gate_status": f"{new.gate_id}#{new.status.value}",
        "opened_at": new.opened_at.isoformat(),
    }
    assert int(new_image["version"]) == new.version


def test_stream_sample_is_the_item_the_passages_adapter_writes(template: Template) -> None:
    _, image = _images()

    passage = Passage.model_validate_json(image["body"]["S"])

    assert {k: next(iter(v)) for k, v in image.items()} == {
        "passage_id": "S",
        "gate_status": "S",
        "opened_at": "S",
        "version": "N",
        "body": "S",
        "expires_at": "N",
    }
    ttl_days = int(template.parameters["PersonalDataTtlDays"])
    assert int(image["expires_at"]["N"]) == int((passage.opened_at + timedelta(days=ttl_days)).timestamp())
    assert passage.plate_key == plate_key(passage.plate_text or "")


def test_stream_sample_is_the_passage_of_the_truck_the_iot_samples_read() -> None:
    reads = [
        detection_from_rule_event(load_event(f"iot/{n}"))
        for n in ("plate_read_ok", "container_read_ok", "weight_reading")
    ]
    _, image = _images()

    passage = Passage.model_validate_json(image["body"]["S"])

    assert passage.passage_id == passage_id_for(reads[0])  # the plate read opened it
    assert passage.detections.event_ids() == {r.event_id for r in reads}
    assert passage.opened_at.timestamp() * 1000 >= load_event("iot/plate_read_ok")[RECEIVED_KEY]
    assert passage.decision is not None
    assert passage.decision.facts["containers.read"] == ["CSQU3054383"]


# ------------------------------------------------------------------------------- bus -> notify_officers


def _matches(pattern: dict[str, Any], event: dict[str, Any]) -> bool:
    """EventBridge matching for the pattern forms the template uses: nested objects of value lists."""
    for key, wanted in pattern.items():
        if key not in event:
            return False
        if isinstance(wanted, dict):
            if not isinstance(event[key], dict) or not _matches(wanted, event[key]):
                return False
        elif event[key] not in wanted:
            return False
    return True


@pytest.mark.parametrize(
    ("name", "channel"),
    [("eventbridge/clearance_decided_red", Channel.RED), ("eventbridge/clearance_decided_green", Channel.GREEN)],
)
def test_bus_samples_parse_as_clearance_decided(name: str, channel: Channel) -> None:
    event = load_event(name)

    via_envelope = parse(event=event, model=ClearanceDecided, envelope=envelopes.EventBridgeEnvelope)
    direct = ClearanceDecided.model_validate(event["detail"])

    assert via_envelope == direct
    assert direct.channel == channel
    assert event["detail-type"] == schema_name(ClearanceDecided) == "ClearanceDecided.v2"
    assert json.loads(direct.model_dump_json()) == event["detail"]
    shape = models.EventBridgeModel.model_validate(event)
    assert shape.source == "smartgate.clearance"
    assert shape.time.utcoffset() == timedelta(0) and shape.time.year == 2026


def test_shelf_life_sample_parses_as_the_alert() -> None:
    event = load_event("eventbridge/shelf_life_alert")
    alert = parse(event=event, model=ShelfLifeAlert, envelope=envelopes.EventBridgeEnvelope)
    assert event["detail-type"] == schema_name(ShelfLifeAlert)
    assert alert.deadline - alert.at == timedelta(hours=11, minutes=25)


@pytest.mark.parametrize(
    ("rule", "name", "delivered"),
    [
        ("NeedsOfficer", "eventbridge/clearance_decided_red", True),
        ("NeedsOfficer", "eventbridge/clearance_decided_green", False),
        ("NeedsOfficer", "eventbridge/shelf_life_alert", False),
        ("ShelfLife", "eventbridge/shelf_life_alert", True),
        ("ShelfLife", "eventbridge/clearance_decided_red", False),
        ("LaneStatus", "eventbridge/lane_offline", True),
        ("LaneStatus", "eventbridge/shelf_life_alert", False),
        ("NeedsOfficer", "eventbridge/lane_offline", False),
        ("LaneStatus", "eventbridge/offline_conflict", True),
        ("NeedsOfficer", "eventbridge/offline_conflict", False),
    ],
)
def test_officer_rule_patterns_deliver_what_officers_need(
    rule: str, name: str, delivered: bool, template: Template
) -> None:
    pattern = template.resources["NotifyOfficersFunction"].properties["Events"][rule]["Properties"]
    assert _matches(pattern["Pattern"], load_event(name)) is delivered


def test_green_bus_sample_is_what_the_stream_sample_announces() -> None:
    old_image, new_image = _images()
    old, new = (Passage.model_validate_json(i["body"]["S"]) for i in (old_image, new_image))
    announced = passage_events(old, new, utc_now())
    detail = load_event("eventbridge/clearance_decided_green")["detail"]
    assert ClearanceDecided.model_validate(detail) == announced[0]
    assert [type(e).__name__ for e in announced] == ["ClearanceDecided", "PassageStateChanged"]


def test_settle_sample_names_the_red_samples_passage() -> None:
    event = load_event("sqs/settle_due")
    parsed = models.SqsModel.model_validate(event)
    body = json.loads(parsed.Records[0].body)
    red = ClearanceDecided.model_validate(load_event("eventbridge/clearance_decided_red")["detail"])
    assert body["passage_id"] == red.passage_id
    assert red.rules_fired[0].rule_id == "R-NO-BOOKING"


def test_schedule_sample_is_a_scheduled_event(template: Template) -> None:
    event = load_event("schedule/shelf_life_watch")
    shape = models.EventBridgeModel.model_validate(event)
    assert shape.detail_type == "Scheduled Event" and shape.source == "aws.events"
    props = template.resources["WatchShelfLifeFunction"].properties["Events"]["Every5Minutes"]["Properties"]
    assert props["Schedule"] == "rate(5 minutes)"


# ------------------------------------------------------------------------------- API Gateway -> api (Chalice)

API_SAMPLES = [
    "api/get_health",
    "api/get_passage",
    "api/create_booking",
    "api/create_booking_bad",
    "api/get_consignment",
    "api/register_lab_sample",
    "api/post_lab_result",
    "api/gate_queues",
]


def _template_api_routes(template: Template) -> set[tuple[str, str]]:
    events = template.resources["ApiFunction"].properties["Events"]
    return {(e["Properties"]["Path"], e["Properties"]["Method"].upper()) for e in events.values() if e["Type"] == "Api"}


@pytest.mark.parametrize("name", API_SAMPLES)
def test_api_samples_have_the_rest_proxy_v1_shape(name: str) -> None:
    event = load_event(name)

    parsed = models.APIGatewayProxyEventModel.model_validate(event)

    assert parsed.requestContext.identity.sourceIp
    assert parsed.requestContext.stage == "Prod"  # SAM's implicit API stage
    assert event["requestContext"]["path"] == f"/Prod{event['path']}"
    assert event["multiValueHeaders"] == {k: [v] for k, v in event["headers"].items()}
    assert event["isBase64Encoded"] is False
    assert event["body"] is None or isinstance(event["body"], str)
    resource = re.sub(r"\{(\w+)\}", lambda m: event["pathParameters"][m.group(1)], event["resource"])
    assert resource == event["path"]


@pytest.mark.parametrize("name", API_SAMPLES)
def test_api_samples_route_to_a_chalice_route_and_a_template_api_event(
    name: str, api_app: Any, template: Template
) -> None:
    event = load_event(name)
    resource_path, method = event["requestContext"]["resourcePath"], event["requestContext"]["httpMethod"]

    assert resource_path == event["resource"] and method == event["httpMethod"]
    assert method in api_app.routes.get(resource_path, {}), f"no Chalice route {method} {resource_path}"
    assert (resource_path, method) in _template_api_routes(template)


def test_every_chalice_route_has_its_template_api_event(api_app: Any, template: Template) -> None:
    chalice_routes = {(path, method) for path, methods in api_app.routes.items() for method in methods}
    assert chalice_routes == _template_api_routes(template)


class _LambdaContext:
    function_name = "smartgate-dev-api"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-southeast-1:123456789012:function:smartgate-dev-api"
    aws_request_id = "7d0b7f6e-3a52-4d1b-9f7e-2c4a8e1b5d90"
    log_group_name = "/aws/lambda/smartgate-dev-api"
    log_stream_name = "2026/11/03/[$LATEST]0f1e2d3c4b5a69788796a5b4c3d2e1f0"

    def get_remaining_time_in_millis(self) -> int:
        return 15_000


def test_health_sample_is_answered_by_the_chalice_app(api_app: Any) -> None:
    response = api_app(load_event("api/get_health"), _LambdaContext())
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "ok"


def test_bad_booking_sample_is_refused_naming_the_missing_field(api_app: Any) -> None:
    # rejected before any storage is touched, so no table is needed
    response = api_app(load_event("api/create_booking_bad"), _LambdaContext())
    assert response["statusCode"] == 422
    assert response["headers"]["Content-Type"] == "application/problem+json"
    problem = json.loads(response["body"])
    assert [e["field"] for e in problem["errors"]] == ["body.window_start"]


def test_api_samples_carry_the_claims_the_cognito_authorizer_passes() -> None:
    for name in API_SAMPLES:
        if name == "api/get_health":
            continue
        claims = load_event(name)["requestContext"]["authorizer"]["claims"]
        assert claims["token_use"] == "id" and claims["cognito:groups"] in ("traders", "officers", "lab")
        assert ("custom:company_id" in claims) == (claims["cognito:groups"] == "traders")


def test_booking_sample_body_is_a_valid_booking_request() -> None:
    event = load_event("api/create_booking")
    assert event["headers"]["Content-Type"] == "application/json" and event["headers"]["Idempotency-Key"]
    body = BookingIn.model_validate_json(event["body"])
    assert body.window_start.minute % 15 == 0
    assert "window_start" not in json.loads(load_event("api/create_booking_bad")["body"])


def test_booking_sample_books_the_consignment_of_the_iot_samples_truck() -> None:
    booking = json.loads(load_event("api/create_booking")["body"])
    passage = Passage.model_validate_json(_images()[1]["body"]["S"])
    assert passage.channel == Channel.GREEN and passage.consignment_id == booking["consignment_id"]


def test_get_passage_sample_asks_for_the_stream_sample_passage() -> None:
    passage_id = load_event("dynamodb/passage_decided")["Records"][0]["dynamodb"]["Keys"]["passage_id"]["S"]
    assert (
        load_event("api/get_consignment")["pathParameters"]["consignment_id"]
        == json.loads(load_event("api/create_booking")["body"])["consignment_id"]
    )
    event = load_event("api/get_passage")
    assert event["pathParameters"] == {"passage_id": passage_id}
    assert event["path"] == f"/passages/{passage_id}"


def test_outbox_sample_is_what_the_trader_notifications_function_reads(template: Template) -> None:
    # Given a new outbox entry as the stream delivers it (NEW_IMAGE, as the table's StreamSpecification)
    event = load_event("dynamodb/outbox_notification_inserted")
    (raw,) = event["Records"]
    spec = template.resources["OutboxTable"].properties["StreamSpecification"]
    assert raw["eventName"] == "INSERT" and raw["dynamodb"]["StreamViewType"] == spec["StreamViewType"]
    assert re.fullmatch(
        r"arn:aws:dynamodb:[a-z0-9-]+:\d{12}:table/[A-Za-z0-9_.-]+-outbox/stream/[0-9T:.-]+", raw["eventSourceARN"]
    )
    # When the BatchProcessor's record is read as the function reads it
    (record,) = list(DynamoDBStreamEvent(event).records)
    assert record.dynamodb is not None and record.dynamodb.new_image is not None
    note = outbox_note(record.dynamodb.new_image)
    # Then it is the notification the outbox holds, under the key the adapter writes
    assert note.kind == "booked" and note.company_id == raw["dynamodb"]["Keys"]["company_id"]["S"]
    assert raw["dynamodb"]["Keys"]["sk"]["S"] == f"{note.at.isoformat()}#{note.notification_id}"


# ------------------------------------------------------------------------------- officer alert topics


@pytest.mark.parametrize("stage", ["local", "dev", "staging", "prod"])
def test_every_gate_of_every_stage_has_an_alert_topic_per_severity(stage: str, template: Template) -> None:
    from smartgate.config import load_settings
    from smartgate.domain.gates import default_gates
    from smartgate.schemas.officers import Severity

    env = template.resources["NotifyOfficersFunction"].properties["Environment"]["Variables"]
    topics = load_settings({"ALERT_TOPICS": env["ALERT_TOPICS"]}).topic_map()
    topic_arns = {template.arn(t.logical_id) for t in template.of_type("AWS::SNS::Topic")}
    for gate_id in default_gates(stage).gate_ids():
        for severity in Severity:
            assert topics.get((gate_id, severity.value)) in topic_arns, (gate_id, severity)


def test_lane_offline_sample_parses_and_routes_to_an_alert() -> None:
    from smartgate.domain import alerts
    from smartgate.schemas import LaneStatusChanged

    event = load_event("eventbridge/lane_offline")
    status = parse(event=event, model=LaneStatusChanged, envelope=envelopes.EventBridgeEnvelope)
    assert event["source"] == "smartgate.lanes" and not status.online
    alert = alerts.alert_for(status, status.at, timedelta(minutes=5))
    assert alert is not None and alert.kind.value == "lane_offline" and alert.facts["silent"] == "2"


def test_a_lanes_offline_decision_sample_is_the_published_barrier_event() -> None:
    from smartgate.schemas import BarrierEvent

    event = load_event("iot/barrier_offline_decision")
    body = {k: v for k, v in event.items() if k != TOPIC_KEY}
    message = BarrierEvent.model_validate(body)
    assert json.loads(message.model_dump_json(by_alias=True)) == body
    assert event[TOPIC_KEY].endswith(f"/{message.gate_id}/lanes/{message.lane_id}/barrier")


def test_offline_conflict_sample_parses_and_routes_to_a_critical_alert() -> None:
    from smartgate.domain import alerts
    from smartgate.schemas import LaneDecisionReconciled

    event = load_event("eventbridge/offline_conflict")
    reconciled = parse(event=event, model=LaneDecisionReconciled, envelope=envelopes.EventBridgeEnvelope)
    alert = alerts.alert_for(reconciled, reconciled.at, timedelta(minutes=5))
    assert alert is not None and alert.kind.value == "offline_conflict" and alert.severity.value == "critical"
    assert alert.facts["channel"] == "RED"
    for locale in ("vi", "zh", "en"):
        subject, text = alerts.render(alert, locale, "Kim Thành II")  # type: ignore[arg-type]
        assert "29A-123.45" in subject and "52,100" in text
    agreed = reconciled.model_copy(update={"conflict": False, "cloud_channel": "GREEN"})
    assert alerts.alert_for(agreed, reconciled.at, timedelta(minutes=5)) is None
