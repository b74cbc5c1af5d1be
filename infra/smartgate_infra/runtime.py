"""The local runtime: delivers events to the handlers in the shape AWS sends them.

It reads template.yaml and serves what AWS would: IoT topic rules (subscribed on the real broker,
SQL subset evaluated here), DynamoDB streams (polled from the emulator), EventBridge rules and SNS
subscriptions (the emulator routes to runtime-owned SQS queues, polled here), schedules (rate
expressions), the REST API (API Gateway proxy events on a local HTTP port, with its CORS preflight
answers and gateway-response headers from ``Globals.Api``; the static web apps on the same port), and
the IoT data plane (``iot-data publish`` from a function goes out on the broker). Anything in the
template it cannot serve is refused at start with the resource named.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
from smartgate_edge.transport import Mqtt5Transport

from smartgate_infra.authorizer import CognitoAuthorizer, Unauthorized
from smartgate_infra.cors import ApiGatewaySettings, CorsConfigError
from smartgate_infra.functions import AsyncInvoker, FunctionPool, FunctionSpec, InvocationError, LocalAws
from smartgate_infra.iot_sql import RuleEvaluationError, TopicRuleSql, UnsupportedSqlError
from smartgate_infra.ports import Ports
from smartgate_infra.provision import NOT_LOCAL, Provisioner
from smartgate_infra.template import Template
from smartgate_infra.web_static import serve as serve_web

log = logging.getLogger("smartgate.local.runtime")

SUPPORTED_EVENTS = {"IoTRule", "DynamoDB", "EventBridgeRule", "SNS", "Api", "Schedule", "ScheduleV2", "SQS"}
TAP_QUEUE = "tap"
TAP_RETENTION_S = 120
STREAM_IDLE_POLL_S = 0.25
"""A quiet DynamoDB stream shard is read four times a second (Lambda's own polling rate)."""
SHARDS_EVERY_S = 10.0


class RuntimeConfigError(ValueError):
    """The template asks for something the local runtime cannot serve; names the resource."""


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class LocalRuntime:
    def __init__(
        self, template: Template, root: Path, ports: Ports, state_dir: Path, schedule_speedup: float = 1.0
    ) -> None:
        """``schedule_speedup`` > 1 runs rate() schedules that many times faster (tests, demos)."""
        self.template = template
        self.schedule_speedup = schedule_speedup
        self.root = root
        self.ports = ports
        self.state_dir = state_dir
        self.aws = LocalAws(
            endpoint_url=f"http://{ports.host}:{ports.aws}",
            iot_data_url=f"http://{ports.host}:{ports.iot_data}",
            region=template.region,
            account_id=template.account_id,
        )
        self.session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=template.region
        )
        self.sqs = self.session.client("sqs", endpoint_url=self.aws.endpoint_url)
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.servers: list[ThreadingHTTPServer] = []
        self.mqtt: Mqtt5Transport | None = None  # subscribes for the IoT rules
        self.mqtt_out: Mqtt5Transport | None = None  # publishes (IoT data plane, Republish)
        self._load_functions()
        self.authorizers: dict[str, CognitoAuthorizer] = {}
        self.hosts: dict[str, FunctionPool] = {}
        self.async_invokers: dict[str, AsyncInvoker] = {}
        self.rules: list[tuple[str, TopicRuleSql, dict[str, Any]]] = []
        self.routes: list[tuple[str, str, re.Pattern[str], str]] = []  # method, path template, regex, fn
        self.check()

    # ------------------------------------------------------------------ validation

    def _load_functions(self) -> None:
        self.functions = {
            r.logical_id: FunctionSpec.from_resource(self.template, r, self.root)
            for r in self.template.of_type("AWS::Serverless::Function")
        }
        self.by_arn = {spec.arn: spec for spec in self.functions.values()}

    def check(self) -> None:
        """Refuse, before starting anything, what cannot be served."""
        self.rules = []
        try:
            self.gateway = ApiGatewaySettings.from_template(self.template)
        except CorsConfigError as err:
            raise RuntimeConfigError(str(err)) from err
        for spec in self.functions.values():
            if not spec.code_dir.is_dir():
                raise RuntimeConfigError(f"{spec.logical_id}: CodeUri {spec.code_dir} does not exist")
            for name, event in spec.events.items():
                if event.get("Type") not in SUPPORTED_EVENTS:
                    raise RuntimeConfigError(
                        f"{spec.logical_id}.Events.{name}: event type {event.get('Type')!r} is not served "
                        f"locally (supported: {', '.join(sorted(SUPPORTED_EVENTS))})"
                    )
                props = event.get("Properties", {})
                if event["Type"] == "IoTRule":
                    try:
                        TopicRuleSql.parse(props["Sql"])
                    except UnsupportedSqlError as err:
                        raise RuntimeConfigError(f"{spec.logical_id}.Events.{name}: {err}") from err
                if event["Type"] in ("Schedule", "ScheduleV2"):
                    _rate_seconds(props.get("Schedule") or props.get("ScheduleExpression", ""), spec, name)
        for rule in self.template.of_type("AWS::IoT::TopicRule"):
            payload = rule.properties["TopicRulePayload"]
            try:
                sql = TopicRuleSql.parse(payload["Sql"])
            except UnsupportedSqlError as err:
                raise RuntimeConfigError(f"{rule.logical_id}: {err}") from err
            for action in [*payload.get("Actions", []), payload.get("ErrorAction", {})]:
                for kind, body in action.items():
                    if kind not in ("Lambda", "Sqs", "Republish"):
                        raise RuntimeConfigError(f"{rule.logical_id}: IoT rule action {kind} is not served locally")
                    if kind == "Lambda" and body["FunctionArn"] not in self.by_arn:
                        raise RuntimeConfigError(
                            f"{rule.logical_id}: Lambda action targets unknown function {body['FunctionArn']}"
                        )
            if not payload.get("RuleDisabled"):
                self.rules.append((rule.physical_name, sql, payload))

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        provisioner = Provisioner(self.template, self.session, self.aws.endpoint_url, self.template.with_bindings)
        report = provisioner.provision()
        for logical_id in report.not_local:
            resource = provisioner.template.resources[logical_id]
            log.info("not run locally: %s (%s): %s", logical_id, resource.type, NOT_LOCAL[resource.type])
        if provisioner.template is not self.template:  # assigned ids (a user pool's) are known now
            self.template = provisioner.template
            self._load_functions()
            self.check()
        (self.state_dir / "bindings.json").write_text(json.dumps(self.template.bindings, indent=2))
        self._load_authorizers()
        for logical_id, spec in self.functions.items():
            host = FunctionPool(spec, self.aws, self.state_dir / "logs")
            self.hosts[logical_id] = host
            dlq = self.queue_url_for_arn(spec.dead_letter_arn) if spec.dead_letter_arn else None
            self.async_invokers[logical_id] = AsyncInvoker(host, self.sqs, dlq)
        self._start_http(self.ports.iot_data, _IotDataHandler)
        for spec in self.functions.values():
            for name, event in spec.events.items():
                self._wire_event(spec, name, event)
        self._start_mqtt()
        if self.routes:
            self._start_http(self.ports.api, _ApiHandler)
        self._tap_bus_and_topics()
        for host in self.hosts.values():  # warm every function once, so the first truck is not slow
            host.warm()

    def stop(self) -> None:
        self.stop_event.set()
        for server in self.servers:
            server.shutdown()
            server.server_close()
        for client in (self.mqtt, self.mqtt_out):
            if client:
                client.close()
        for invoker in self.async_invokers.values():
            invoker.stop()
        for host in self.hosts.values():
            host.stop()

    def idle(self) -> bool:
        return all(inv.idle.is_set() for inv in self.async_invokers.values())

    def _load_authorizers(self) -> None:
        """The implicit API's Cognito authorizers, as API Gateway would run them."""
        for name, spec in (self.template.api_auth().get("Authorizers") or {}).items():
            pool_arn = spec.get("UserPoolArn")
            if not pool_arn:
                raise RuntimeConfigError(f"Globals.Api.Auth.Authorizers.{name}: only Cognito authorizers are served")
            pool_id = str(pool_arn).rsplit("/", 1)[-1]
            client_ids = {
                self.template.bindings[lid]
                for lid, r in ((r.logical_id, r) for r in self.template.of_type("AWS::Cognito::UserPoolClient"))
                if r.properties.get("UserPoolId") == pool_id and lid in self.template.bindings
            }
            self.authorizers[name] = CognitoAuthorizer(self.aws.endpoint_url, self.template.region, pool_id, client_ids)

    def route_authorizer(self, function: str, path: str, method: str) -> CognitoAuthorizer | None:
        """The authorizer an Api event uses: its own Auth.Authorizer, else the API's default; NONE: none."""
        default = self.template.api_auth().get("DefaultAuthorizer")
        for event in self.functions[function].events.values():
            props = event.get("Properties", {})
            if (
                event.get("Type") == "Api"
                and props.get("Path") == path
                and props.get("Method", "").upper() in (method, "ANY")
            ):
                name = (props.get("Auth") or {}).get("Authorizer", default)
                return None if name in (None, "NONE") else self.authorizers[name]
        return None

    # ------------------------------------------------------------------ helpers

    def queue_url_for_arn(self, arn: str) -> str:
        name = arn.rsplit(":", 1)[-1]
        return str(self.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    def invoke(self, logical_id: str, event: Any) -> Any:
        return self.hosts[logical_id].invoke(event)

    def find_route(self, method: str, path: str) -> tuple[str, re.Match[str], str] | None:
        """(path template, match, function) of the Api event that serves this request."""
        for route_method, template_path, pattern, logical_id in self.routes:
            match = pattern.match(path)
            if match and route_method in (method, "ANY"):
                return template_path, match, logical_id
        return None

    def methods_for(self, path: str) -> list[str]:
        """The methods some Api event serves on this path (for 405 Method Not Allowed)."""
        return sorted({m for m, _, pattern, _ in self.routes if pattern.match(path)})

    def _thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, daemon=True, name=name)
        thread.start()
        self.threads.append(thread)

    def _start_http(self, port: int, handler: type[BaseHTTPRequestHandler]) -> None:
        server = _Server((self.ports.host, port), handler)
        server.daemon_threads = True
        server.runtime = self  # type: ignore[attr-defined]
        self.servers.append(server)
        self._thread(server.serve_forever, f"http-{port}")

    # ------------------------------------------------------------------ IoT rules on the broker

    def _start_mqtt(self) -> None:
        # Two connections, as IoT Core's rules engine and data plane are two services. It also keeps
        # a publish from waiting behind the PUBACK of a received message (Nagle + delayed ACK, ~40 ms).
        suffix = uuid.uuid4().hex[:8]
        self.mqtt = Mqtt5Transport(self.ports.host, self.ports.mqtt, f"smartgate-rules-{suffix}").connect(timeout=10)
        self.mqtt_out = Mqtt5Transport(self.ports.host, self.ports.mqtt, f"smartgate-data-{suffix}").connect(timeout=10)
        filters = {sql.topic_filter for _, sql, _ in self.rules}
        for topic_filter in sorted(filters):
            self.mqtt.subscribe(topic_filter, self._on_mqtt)

    def _on_mqtt(self, topic: str, payload: bytes) -> None:
        for rule_name, sql, rule in self.rules:
            if sql.matches(topic):
                self._run_rule(rule_name, sql, rule, topic, payload)

    def _run_rule(self, rule_name: str, sql: TopicRuleSql, rule: dict[str, Any], topic: str, payload: bytes) -> None:
        try:
            result = sql.evaluate(payload, topic)
        except RuleEvaluationError as err:
            self._rule_error(rule_name, rule, topic, payload, "RuleEvaluation", rule_name, str(err))
            return
        if result is None:
            return
        for action in rule.get("Actions", []):
            kind, body = next(iter(action.items()))
            try:
                self._rule_action(kind, body, result, topic)
            except Exception as err:  # noqa: BLE001 - an action failure goes to the error action, as in AWS
                resource = body.get("FunctionArn") or body.get("QueueUrl") or body.get("Topic", "")
                self._rule_error(rule_name, rule, topic, payload, f"{kind}Action", resource, str(err))

    def _rule_action(self, kind: str, body: dict[str, Any], result: dict[str, Any], topic: str) -> None:
        if kind == "Lambda":
            spec = self.by_arn[body["FunctionArn"]]
            self.async_invokers[spec.logical_id].submit(result, source=f"iot:{topic}")
        elif kind == "Sqs":
            data = json.dumps(result)
            if body.get("UseBase64"):
                data = base64.b64encode(data.encode()).decode()
            self.sqs.send_message(QueueUrl=body["QueueUrl"], MessageBody=data)
        elif kind == "Republish":
            assert self.mqtt_out is not None
            self.mqtt_out.publish(body["Topic"], json.dumps(result).encode(), qos=int(body.get("Qos", 0)))

    def _rule_error(
        self,
        rule_name: str,
        rule: dict[str, Any],
        topic: str,
        payload: bytes,
        failed_action: str,
        resource: str,
        message: str,
    ) -> None:
        """The IoT rule error-action message, in AWS's format, to the rule's error action."""
        log.warning("rule %s failed on %s: %s", rule_name, topic, message)
        error_action = rule.get("ErrorAction")
        if not error_action:
            return
        envelope = {
            "ruleName": rule_name,
            "topic": topic,
            "cloudwatchTraceId": str(uuid.uuid4()),
            "clientId": "",
            "base64OriginalPayload": base64.b64encode(payload).decode(),
            "failures": [{"failedAction": failed_action, "failedResource": resource, "errorMessage": message}],
        }
        kind, body = next(iter(error_action.items()))
        try:
            self._rule_action(kind, body, envelope, topic)
        except Exception:  # noqa: BLE001
            log.exception("error action of rule %s failed too", rule_name)

    # ------------------------------------------------------------------ function event sources

    def _wire_event(self, spec: FunctionSpec, name: str, event: dict[str, Any]) -> None:
        kind, props = event["Type"], event.get("Properties", {})
        if kind == "DynamoDB":
            self._thread(lambda: _StreamPoller(self, spec, props).run(), f"stream-{spec.logical_id}-{name}")
        elif kind == "EventBridgeRule":
            queue_url = self._route_rule_to_queue(spec, name, props)
            self._thread(lambda: self._poll_queue(queue_url, spec, "eventbridge"), f"eb-{spec.logical_id}-{name}")
        elif kind == "SNS":
            queue_url = self._subscribe_topic_queue(spec, name, props)
            self._thread(lambda: self._poll_queue(queue_url, spec, "sns", props), f"sns-{spec.logical_id}-{name}")
        elif kind == "SQS":
            queue_url = self.queue_url_for_arn(props["Queue"])
            self._thread(lambda: self._poll_queue(queue_url, spec, "sqs", props), f"sqs-{spec.logical_id}-{name}")
        elif kind in ("Schedule", "ScheduleV2"):
            interval = _rate_seconds(props.get("Schedule") or props.get("ScheduleExpression", ""), spec, name)
            interval /= self.schedule_speedup
            self._thread(lambda: self._schedule(spec, name, interval, props), f"schedule-{spec.logical_id}-{name}")
        elif kind == "IoTRule":
            sql = TopicRuleSql.parse(props["Sql"])  # checked in check()
            self.rules.append((f"{spec.name}-{name}", sql, {"Actions": [{"Lambda": {"FunctionArn": spec.arn}}]}))
        elif kind == "Api":
            path = props["Path"]
            pattern = _route_pattern(path)
            self.routes.append((props["Method"].upper(), path, pattern, spec.logical_id))

    def _local_queue(self, name: str, attributes: dict[str, str] | None = None) -> str:
        return str(
            self.sqs.create_queue(QueueName=f"{self.template.stack_name}-runtime-{name}", Attributes=attributes or {})[
                "QueueUrl"
            ]
        )

    def _queue_arn(self, queue_url: str) -> str:
        return str(
            self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        )

    def _route_rule_to_queue(self, spec: FunctionSpec, name: str, props: dict[str, Any]) -> str:
        """EventBridge matches the pattern (in the emulator); its target is a queue we deliver from."""
        events = self.session.client("events", endpoint_url=self.aws.endpoint_url)
        queue_url = self._local_queue(f"{spec.logical_id}-{name}")
        queue_arn = self._queue_arn(queue_url)
        rule_name = f"{spec.name}-{name}"[:64]
        bus = props.get("EventBusName", "default")
        events.put_rule(Name=rule_name, EventBusName=bus, EventPattern=json.dumps(props["Pattern"]), State="ENABLED")
        events.put_targets(Rule=rule_name, EventBusName=bus, Targets=[{"Id": "local-runtime", "Arn": queue_arn}])
        return queue_url

    def _subscribe_topic_queue(self, spec: FunctionSpec, name: str, props: dict[str, Any]) -> str:
        sns = self.session.client("sns", endpoint_url=self.aws.endpoint_url)
        queue_url = self._local_queue(f"{spec.logical_id}-{name}")
        queue_arn = self._queue_arn(queue_url)
        attributes = {"FilterPolicy": json.dumps(props["FilterPolicy"])} if "FilterPolicy" in props else {}
        sns.subscribe(TopicArn=props["Topic"], Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)
        return queue_url

    def _tap_bus_and_topics(self) -> None:
        """A queue that sees every bus event and SNS message, so the demo and tests can show them. Its
        messages expire after TAP_RETENTION_S, as SQS expires them (a reader wants what just happened; a
        session's thousands made every send to it slower in the emulator)."""
        queue_url = self._local_queue(TAP_QUEUE, {"MessageRetentionPeriod": str(TAP_RETENTION_S)})
        queue_arn = self._queue_arn(queue_url)
        events = self.session.client("events", endpoint_url=self.aws.endpoint_url)
        for bus in self.template.of_type("AWS::Events::EventBus"):
            rule = f"{self.template.stack_name}-local-tap"
            events.put_rule(
                Name=rule,
                EventBusName=bus.physical_name,
                State="ENABLED",
                EventPattern=json.dumps({"source": [{"prefix": "smartgate."}]}),
            )
            events.put_targets(Rule=rule, EventBusName=bus.physical_name, Targets=[{"Id": "tap", "Arn": queue_arn}])
        sns = self.session.client("sns", endpoint_url=self.aws.endpoint_url)
        for topic in self.template.of_type("AWS::SNS::Topic"):
            sns.subscribe(TopicArn=self.template.arn(topic.logical_id), Protocol="sqs", Endpoint=queue_arn)

    def _poll_queue(self, queue_url: str, spec: FunctionSpec, source: str, props: dict[str, Any] | None = None) -> None:
        while not self.stop_event.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=queue_url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=1,
                    MessageAttributeNames=["All"],
                    AttributeNames=["All"],
                ).get("Messages", [])
            except Exception:  # noqa: BLE001 - the emulator is going away at shutdown
                if self.stop_event.wait(0.5):
                    return
                continue
            for message in messages:
                if source == "eventbridge":
                    event = json.loads(message["Body"])
                    event.setdefault("account", self.template.account_id)  # the emulator leaves it out
                    self.async_invokers[spec.logical_id].submit(event, source="events")
                elif source == "sns":
                    self.async_invokers[spec.logical_id].submit(_sns_event(message, self.template), source="sns")
                else:
                    try:
                        result = self.hosts[spec.logical_id].invoke(_sqs_event(message, queue_url, self.template))
                    except InvocationError as err:
                        log.warning("SQS batch for %s failed; message stays in the queue: %s", spec.logical_id, err)
                        continue
                    failed = (
                        {f.get("itemIdentifier") for f in (result or {}).get("batchItemFailures", [])}
                        if isinstance(result, dict)
                        else set()
                    )
                    if message["MessageId"] in failed:
                        log.warning(
                            "SQS record %s for %s failed; it stays in the queue", message["MessageId"], spec.logical_id
                        )
                        continue
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def _schedule(self, spec: FunctionSpec, name: str, interval: float, props: dict[str, Any]) -> None:
        rule_arn = f"arn:aws:events:{self.template.region}:{self.template.account_id}:rule/{spec.name}-{name}"
        while not self.stop_event.wait(interval):
            if props.get("Enabled", True) is False or props.get("State") == "DISABLED":
                continue
            event = (
                json.loads(props["Input"])
                if "Input" in props
                else {
                    "version": "0",
                    "id": str(uuid.uuid4()),
                    "detail-type": "Scheduled Event",
                    "source": "aws.events",
                    "account": self.template.account_id,
                    "time": _now_iso(),
                    "region": self.template.region,
                    "resources": [rule_arn],
                    "detail": {},
                }
            )
            self.async_invokers[spec.logical_id].submit(event, source="schedule")


def _route_pattern(path: str) -> re.Pattern[str]:
    """``/passages/{passage_id}`` -> a regex with a named group per path parameter ({proxy+} is greedy)."""
    parts = []
    for segment in path.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
        else:
            parts.append(re.escape(segment))
    return re.compile("^/" + "/".join(parts) + "/?$")


def _rate_seconds(expression: str, spec: FunctionSpec, name: str) -> float:
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise RuntimeConfigError(
            f"{spec.logical_id}.Events.{name}: only rate(...) schedules run locally, got {expression!r}"
        )
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


def _sns_event(message: dict[str, Any], template: Template) -> dict[str, Any]:
    body = json.loads(message["Body"])
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{body.get('TopicArn', '')}:{uuid.uuid4()}",
                "Sns": {
                    "Type": body.get("Type", "Notification"),
                    "MessageId": body.get("MessageId"),
                    "TopicArn": body.get("TopicArn"),
                    "Subject": body.get("Subject"),
                    "Message": body.get("Message"),
                    "Timestamp": body.get("Timestamp"),
                    "SignatureVersion": "1",
                    "Signature": "",
                    "SigningCertUrl": "",
                    "UnsubscribeUrl": "",
                    "MessageAttributes": body.get("MessageAttributes", {}),
                },
            }
        ]
    }


def _sqs_event(message: dict[str, Any], queue_url: str, template: Template) -> dict[str, Any]:
    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message.get("MD5OfBody"),
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{template.region}:{template.account_id}:{name}",
                "awsRegion": template.region,
            }
        ]
    }


class _StreamPoller:
    """Lambda's DynamoDB stream event source mapping: poll shards, deliver batches, honour partial failures."""

    def __init__(self, runtime: LocalRuntime, spec: FunctionSpec, props: dict[str, Any]) -> None:
        self.runtime = runtime
        self.spec = spec
        self.props = props
        self.client = runtime.session.client("dynamodbstreams", endpoint_url=runtime.aws.endpoint_url)
        self.batch_size = int(props.get("BatchSize", 100))
        self.max_retries = int(props.get("MaximumRetryAttempts", -1))
        self.report_failures = "ReportBatchItemFailures" in props.get("FunctionResponseTypes", [])
        table = props["Stream"].split(":table/")[1].split("/stream/")[0]
        ddb = runtime.session.client("dynamodb", endpoint_url=runtime.aws.endpoint_url)
        self.stream_arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]

    def run(self) -> None:
        """Each shard polled four times a second while it is quiet (as Lambda does), at once again after a
        batch (more may be waiting); the shard list re-read every SHARDS_EVERY_S."""
        iterators: dict[str, str] = {}
        shards: list[str] = []
        listed = 0.0
        start = self.props.get("StartingPosition", "LATEST")
        while not self.runtime.stop_event.is_set():
            busy = False
            try:
                if time.monotonic() - listed > SHARDS_EVERY_S:
                    described = self.client.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
                    shards, listed = [s["ShardId"] for s in described["Shards"]], time.monotonic()
                for shard_id in shards:
                    if shard_id not in iterators:
                        iterators[shard_id] = self.client.get_shard_iterator(
                            StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=start
                        )["ShardIterator"]
                    iterators[shard_id], delivered = self._poll_shard(shard_id, iterators[shard_id])
                    busy = busy or delivered
            except Exception:  # noqa: BLE001 - keep polling; the emulator may be restarting or stopping
                if self.runtime.stop_event.is_set():
                    return
                log.exception("stream poll for %s failed; retrying in 2 s", self.spec.logical_id)
                listed = 0.0
                self.runtime.stop_event.wait(2)
            self.runtime.stop_event.wait(0.01 if busy else STREAM_IDLE_POLL_S)

    def _poll_shard(self, shard_id: str, iterator: str) -> tuple[str, bool]:
        response = self.client.get_records(ShardIterator=iterator, Limit=self.batch_size)
        records = response.get("Records", [])
        delivered = bool(records)
        for record in records:
            record["eventSourceARN"] = self.stream_arn  # the emulator leaves it out
            created = record.get("dynamodb", {}).get("ApproximateCreationDateTime")
            if isinstance(created, datetime):  # boto3 parsed it; Lambda receives epoch seconds
                record["dynamodb"]["ApproximateCreationDateTime"] = int(created.timestamp())
        attempts = 0
        while records:
            try:
                result = self.runtime.invoke(self.spec.logical_id, {"Records": records})
            except InvocationError as err:
                failed_from = 0
                log.warning("stream batch for %s failed: %s", self.spec.logical_id, err)
            else:
                failures = (result or {}).get("batchItemFailures", []) if self.report_failures else []
                if not failures:
                    break
                sequence = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(records)}
                failed_from = min(sequence.get(f["itemIdentifier"], 0) for f in failures)
            attempts += 1
            if self.max_retries >= 0 and attempts > self.max_retries:
                log.error("stream records for %s skipped after %d attempts", self.spec.logical_id, attempts)
                break
            records = records[failed_from:]
            time.sleep(min(0.2 * attempts, 2))
        return str(response.get("NextShardIterator") or iterator), delivered


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default (5) resets connections when many clients arrive at once


class _QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart (delayed ACK)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)

    @property
    def runtime(self) -> LocalRuntime:
        return self.server.runtime  # type: ignore[attr-defined,no-any-return]

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {"Content-Type": "application/json"}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _IotDataHandler(_QuietHandler):
    """``POST /topics/{topic}?qos=N``: the IoT data plane's Publish, forwarded to the broker."""

    def do_POST(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        body = self._body()
        if not url.path.startswith("/topics/"):
            self._send(404, b'{"message": "only Publish (POST /topics/{topic}) is served"}')
            return
        topic = unquote(url.path[len("/topics/") :])
        qos = int(parse_qs(url.query).get("qos", ["0"])[0])
        try:
            assert self.runtime.mqtt_out is not None
            self.runtime.mqtt_out.publish(topic, body, qos=qos)
        except Exception as err:  # noqa: BLE001
            self._send(503, json.dumps({"message": f"broker publish failed: {err}"}).encode())
            return
        self._send(200, b"{}")


class _ApiHandler(_QuietHandler):
    """API Gateway REST API (proxy integration, payload v1) in front of the functions' Api events."""

    def _handle(self) -> None:
        url = urlsplit(self.path)
        method = self.command.upper()
        if method in ("GET", "HEAD") and (page := serve_web(self.runtime.root / "web", url.path)) is not None:
            self._send(page.status, b"" if method == "HEAD" else page.body, page.headers)
            return
        cors = self.runtime.gateway.cors
        allowed = self.runtime.methods_for(url.path)
        if method == "OPTIONS" and cors is not None and allowed and "OPTIONS" not in allowed:
            self._body()  # API Gateway's CORS mock (SAM's OPTIONS per path): no function, no authorizer
            self._send(200, b"{}", cors.preflight_headers(allowed))
            return
        route = self.runtime.find_route(method, url.path)
        if route is None:
            self._body()  # read what was sent, so the kept-alive connection stays in step
            if allowed:
                if cors is not None:
                    allowed = sorted({*allowed, "OPTIONS"})
                self._gateway(
                    405,
                    json.dumps(
                        {"message": f"{method} is not allowed on {url.path}; allowed: {', '.join(allowed)}"}
                    ).encode(),
                    {"Content-Type": "application/json", "Allow": ", ".join(allowed)},
                )
            else:
                self._gateway(404, json.dumps({"message": f"no API route for {method} {url.path}"}).encode())
            return
        template_path, match, logical_id = route
        body = self._body()
        authorizer = self.runtime.route_authorizer(logical_id, template_path, method)
        claims: dict[str, str] | None = None
        if authorizer is not None:
            try:
                claims = authorizer.claims(self.headers.get("Authorization"))
            except Unauthorized:
                self._gateway(401, b'{"message": "Unauthorized"}')
                return
        query = parse_qs(url.query, keep_blank_values=True)
        headers = dict(self.headers.items())
        is_text = not body or headers.get("Content-Type", "").startswith(("application/json", "text/"))
        if is_text and body:
            try:
                body.decode()
            except UnicodeDecodeError:
                is_text = False  # not UTF-8 whatever its type says: passed on base64-encoded, as binary
        event = {
            "resource": template_path,
            "path": url.path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {k: [v] for k, v in headers.items()},
            "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
            "multiValueQueryStringParameters": query or None,
            "pathParameters": {k: unquote(v) for k, v in match.groupdict().items()} or None,
            "stageVariables": None,
            "requestContext": {
                "resourcePath": template_path,
                "httpMethod": method,
                "path": f"/Prod{url.path}",
                "stage": "Prod",
                "requestId": str(uuid.uuid4()),
                "accountId": self.runtime.template.account_id,
                "apiId": "local-api",
                "protocol": "HTTP/1.1",
                "requestTimeEpoch": int(time.time() * 1000),
                "identity": {"sourceIp": self.client_address[0], "userAgent": headers.get("User-Agent")},
                **({"authorizer": {"claims": claims}} if claims is not None else {}),
            },
            "body": (body.decode() if is_text else base64.b64encode(body).decode()) if body else None,
            "isBase64Encoded": bool(body) and not is_text,
        }
        try:
            result = self.runtime.invoke(logical_id, event)
        except InvocationError as err:
            log.warning("API function failed: %s", err)
            self._gateway(502, b'{"message": "Internal server error"}')
            return
        out_headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        for key, values in (result.get("multiValueHeaders") or {}).items():
            out_headers[key] = ", ".join(str(v) for v in values)
        raw = result.get("body") or ""
        payload = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
        out_headers.setdefault("Content-Type", "application/json")
        self._send(int(result.get("statusCode", 200)), payload, out_headers)

    def _gateway(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        """An answer of API Gateway's own (not a function's), with Globals.Api.GatewayResponses' headers."""
        self._send(
            status,
            body,
            {"Content-Type": "application/json", **(headers or {}), **self.runtime.gateway.headers_for(status)},
        )

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _handle  # noqa: N815

    def __getattr__(self, name: str) -> Any:
        if name.startswith("do_"):  # any other method (QUERY, PROPFIND ...): 405 or 404 as for the others
            return self._handle
        raise AttributeError(name)

    def do_HEAD(self) -> None:  # noqa: N802
        if serve_web(self.runtime.root / "web", urlsplit(self.path).path) is not None:
            self._handle()
            return
        self._send(405, b"", {"Allow": "GET, POST, PUT, DELETE, PATCH", "Content-Type": "application/json"})
