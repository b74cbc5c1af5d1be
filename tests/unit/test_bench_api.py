"""The API benchmark's pure parts: which window a client picks, where a run's windows go, what counts as
overbooked, and how moto's recording is read."""

from __future__ import annotations

import base64
import json
import random
from datetime import UTC, datetime

from smartgate.domain.slots import WINDOW
from smartgate_infra.bench_api import (
    Call,
    Proc,
    cpu_groups,
    describe_calls,
    free_block,
    overbooked_windows,
    pick_window,
    recorded_calls,
)

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
CHALICE = "Botocore/1.44.8 lang/python#3.11.7 exec-env/AWS_Lambda-aws-chalice-1.34.0 m/g,P"
OTHER = "Boto3/1.44.8 md/Botocore#1.44.8 lang/python#3.11.7 m/N,Z"


def test_clients_race_for_the_earliest_windows_not_known_full() -> None:
    rng = random.Random(1)
    picks = {pick_window(rng, 10, full={0, 2}, front=3) for _ in range(200)}
    assert picks == {1, 3, 4}


def test_once_every_window_is_full_any_window_is_tried() -> None:
    rng = random.Random(2)
    picks = {pick_window(rng, 4, full=range(4)) for _ in range(200)}
    assert picks == {0, 1, 2, 3}


def test_a_run_takes_the_first_untouched_stretch_from_its_random_start() -> None:
    # Given windows an earlier run used, starting at the fourth one
    last = T0 + WINDOW * 20
    taken = {T0 + WINDOW * n for n in range(3, 8)}
    # When a run of 4 windows starts looking at the fifth
    begin = free_block(taken, T0, last, 4, T0 + WINDOW * 4)
    # Then it takes the first 4 after the used ones
    assert begin == T0 + WINDOW * 8


def test_the_search_wraps_round_and_gives_up_when_nothing_is_free() -> None:
    last = T0 + WINDOW * 9
    assert free_block({T0 + WINDOW * n for n in range(4, 10)}, T0, last, 4, T0 + WINDOW * 6) == T0
    assert free_block({T0 + WINDOW * n for n in range(2, 10, 3)}, T0, last, 4, T0) is None


def test_overbooked_counts_windows_above_capacity() -> None:
    caps = {T0: 10, T0 + WINDOW: 10, T0 + 2 * WINDOW: 0}
    held = {T0: 10, T0 + WINDOW: 11, T0 + 2 * WINDOW: 0}
    assert overbooked_windows(caps, held) == [T0 + WINDOW]


def _line(target: str, agent: str, body: dict[str, object] | str, encoded: bool = False) -> str:
    text = body if isinstance(body, str) else json.dumps(body)
    return json.dumps(
        {
            "headers": {"X-Amz-Target": target, "User-Agent": agent},
            "method": "POST",
            "url": "http://127.0.0.1:5566/",
            "body": base64.b64encode(text.encode()).decode() if encoded else text,
            "body_encoded": encoded,
        }
    )


def test_recording_gives_dynamodb_calls_with_their_tables_and_who_made_them() -> None:
    recording = "\n".join(
        [
            _line("DynamoDB_20120810.GetItem", CHALICE, {"TableName": "sg-companies"}),
            _line("DynamoDBStreams_20120810.GetRecords", OTHER, {"ShardIterator": "x"}),
            _line("AmazonSQS.ReceiveMessage", OTHER, {"QueueUrl": "q"}),
            _line(
                "DynamoDB_20120810.TransactWriteItems",
                CHALICE,
                {"TransactItems": [{"Put": {"TableName": "sg-bookings"}}, {"Update": {"TableName": "sg-slots"}}]},
                encoded=True,
            ),
            _line("DynamoDB_20120810.PutItem", OTHER, {"TableName": "sg-audit"}),
            "not json",
        ]
    )
    assert recorded_calls(recording) == [
        Call("GetItem", "sg-companies", api=True),
        Call("TransactWriteItems", "sg-bookings+sg-slots", api=True),
        Call("PutItem", "sg-audit", api=False),
    ]


def test_calls_are_described_by_operation() -> None:
    calls = [Call("GetItem", "a", True), Call("UpdateItem", "b", True), Call("GetItem", "c", True)]
    assert describe_calls(calls) == "3 (GetItem 2, UpdateItem 1)"


def test_cpu_is_grouped_by_part_of_the_stack() -> None:
    procs = [
        Proc(10, 1, "python -m smartgate_infra.emulator -p 5566", 5.0),
        Proc(11, 1, "python -m smartgate_infra.stack --serve", 2.0),
        Proc(20, 11, "python -m smartgate_infra.worker /r/functions/api app.app", 1.5),
        Proc(21, 11, "python -m smartgate_infra.worker /r/functions/api app.app", 1.5),
        Proc(22, 11, "python -m smartgate_infra.worker /r/functions/ingest_detections app.lambda_handler", 0.5),
        Proc(30, 1, "python -m smartgate_infra.cli bench-api", 1.0),
        Proc(40, 1, "something else", 9.0),
    ]
    assert cpu_groups(procs, aws=10, runtime=11, me=30) == {
        "moto": 5.0,
        "runtime": 2.0,
        "API workers": 3.0,
        "other workers": 0.5,
        "clients": 1.0,
    }
