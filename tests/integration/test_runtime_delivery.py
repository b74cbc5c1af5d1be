"""The local runtime delivers every event source of a SAM template in the shape AWS sends it.

A fixture template (tests/fixtures/runtime/) wires one recording function to a schedule, an SNS
topic, an EventBridge rule, a DynamoDB stream, an SQS queue, an IoT rule and an Api route, and a
failing function to an IoT rule with retries and a dead-letter queue.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from smartgate_edge.transport import Mqtt5Transport

from smartgate_infra.runtime import LocalRuntime
from smartgate_infra.services import stack_ports, start_mosquitto, start_moto
from smartgate_infra.template import Template

pytestmark = pytest.mark.integration
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "runtime"


class Harness:
    def __init__(self, runtime: LocalRuntime, session: boto3.session.Session, endpoint: str) -> None:
        self.runtime = runtime
        self.session = session
        self.endpoint = endpoint
        self.template = runtime.template

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.endpoint)

    def received(self) -> list[dict[str, Any]]:
        table = self.template.resources["ReceivedTable"].physical_name
        items = self.client("dynamodb").scan(TableName=table)["Items"]
        return [json.loads(item["event"]["S"]) for item in items]

    def wait_for(self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 15) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [e for e in self.received() if predicate(e)]
            if found:
                return found[0]
            time.sleep(0.2)
        raise AssertionError(f"no matching event delivered within {timeout} s; got {self.received()}")


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    state = tmp_path_factory.mktemp("runtime")
    ports = stack_ports()
    moto = start_moto(ports.aws, state)
    broker = start_mosquitto(ports.mqtt, state)
    template = Template.load(FIXTURE / "template.yaml", stack_name="rt-test")
    runtime = LocalRuntime(template, FIXTURE, ports, state, schedule_speedup=60)
    try:
        runtime.start()
        session = boto3.session.Session(aws_access_key_id="t", aws_secret_access_key="t", region_name="us-east-1")
        yield Harness(runtime, session, f"http://127.0.0.1:{ports.aws}")
    finally:
        runtime.stop()
        broker.stop()
        moto.stop()


def test_schedule(harness: Harness) -> None:
    event = harness.wait_for(lambda e: e.get("detail-type") == "Scheduled Event", timeout=10)
    assert event["source"] == "aws.events" and event["resources"][0].endswith("-Tick")


def test_sns_subscription(harness: Harness) -> None:
    topic = harness.template.arn("Topic")
    harness.client("sns").publish(TopicArn=topic, Message="lane 3 camera down", Subject="fault")
    event = harness.wait_for(lambda e: e.get("Records", [{}])[0].get("EventSource") == "aws:sns")
    sns = event["Records"][0]["Sns"]
    assert sns["Message"] == "lane 3 camera down" and sns["TopicArn"] == topic and sns["Subject"] == "fault"


def test_eventbridge_rule_matches_its_pattern_only(harness: Harness) -> None:
    events = harness.client("events")
    for kind in ("unwanted", "wanted"):
        events.put_events(
            Entries=[
                {
                    "EventBusName": "test-bus",
                    "Source": "test.source",
                    "DetailType": "Thing.v1",
                    "Detail": json.dumps({"kind": kind}),
                }
            ]
        )
    event = harness.wait_for(lambda e: e.get("detail-type") == "Thing.v1")
    assert event["detail"] == {"kind": "wanted"} and event["account"] == harness.template.account_id
    time.sleep(1)
    assert [e["detail"]["kind"] for e in harness.received() if e.get("detail-type") == "Thing.v1"] == ["wanted"]


def test_dynamodb_stream(harness: Harness) -> None:
    table = harness.template.resources["SourceTable"].physical_name
    harness.client("dynamodb").put_item(TableName=table, Item={"pk": {"S": "truck-1"}})
    event = harness.wait_for(lambda e: e.get("Records", [{}])[0].get("eventSource") == "aws:dynamodb")
    record = event["Records"][0]
    assert record["eventName"] == "INSERT" and record["dynamodb"]["NewImage"] == {"pk": {"S": "truck-1"}}
    assert ":table/" in record["eventSourceARN"] and isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)


def test_sqs_queue(harness: Harness) -> None:
    sqs = harness.client("sqs")
    url = sqs.get_queue_url(QueueName=harness.template.resources["Jobs"].physical_name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="job-7")
    event = harness.wait_for(lambda e: e.get("Records", [{}])[0].get("eventSource") == "aws:sqs")
    assert event["Records"][0]["body"] == "job-7" and event["Records"][0]["eventSourceARN"].endswith(
        harness.template.resources["Jobs"].physical_name
    )


def test_iot_rule_event_with_where_clause(harness: Harness) -> None:
    mqtt = Mqtt5Transport("127.0.0.1", harness.runtime.ports.mqtt, "rt-test-lane").connect()
    try:
        mqtt.publish("test/lane7/in", b'{"n": 1, "tag": "filtered"}')
        mqtt.publish("test/lane7/in", b'{"n": 2, "tag": "passed"}')
    finally:
        mqtt.close()
    event = harness.wait_for(lambda e: e.get("tag") == "passed")
    assert event == {"n": 2, "tag": "passed", "lane": "lane7"}
    time.sleep(1)
    assert not [e for e in harness.received() if e.get("tag") == "filtered"]


def test_api_gateway_proxy_event(harness: Harness) -> None:
    url = f"http://127.0.0.1:{harness.runtime.ports.api}/items/42?verbose=1"
    with urllib.request.urlopen(url, timeout=30) as response:
        event = json.loads(response.read())
    assert event["resource"] == "/items/{id}" and event["pathParameters"] == {"id": "42"}
    assert event["requestContext"]["resourcePath"] == "/items/{id}"
    assert event["queryStringParameters"] == {"verbose": "1"} and event["httpMethod"] == "GET"


def test_failing_async_invocation_is_retried_then_dead_lettered(harness: Harness) -> None:
    mqtt = Mqtt5Transport("127.0.0.1", harness.runtime.ports.mqtt, "rt-test-fail").connect()
    try:
        mqtt.publish("test/fail", b'{"truck": "29C-999.99"}')
    finally:
        mqtt.close()
    sqs = harness.client("sqs")
    url = sqs.get_queue_url(QueueName=harness.template.resources["FailedEvents"].physical_name)["QueueUrl"]
    deadline = time.monotonic() + 15
    messages: list[dict[str, Any]] = []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"], WaitTimeSeconds=1).get(
            "Messages", []
        )
    assert messages, "the failed event never reached the dead-letter queue"
    assert json.loads(messages[0]["Body"]) == {"truck": "29C-999.99"}
    assert "always fails" in messages[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]
    log = (harness.runtime.state_dir / "logs" / "Failing.log").read_text()
    assert log.count("RuntimeError: this function always fails") >= 2  # first attempt + one retry
