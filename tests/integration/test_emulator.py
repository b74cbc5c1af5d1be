"""The local AWS emulator's DynamoDB transactions behave as DynamoDB's do (smartgate_infra.emulator): a
failed condition writes nothing, concurrent writes are never lost, and the table's stream keeps flowing."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def ddb(stack):  # type: ignore[no-untyped-def]
    return boto3.client(
        "dynamodb",
        endpoint_url=stack.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


@pytest.fixture(scope="module")
def table(ddb) -> str:  # type: ignore[no-untyped-def]
    name = f"emulator-test-{uuid.uuid4().hex[:6]}"
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )
    return name


def put(table: str, key: str, condition: str | None = None) -> dict:  # type: ignore[type-arg]
    op = {"TableName": table, "Item": {"k": {"S": key}}}
    if condition:
        op["ConditionExpression"] = condition
    return {"Put": op}


def test_a_failed_condition_writes_nothing_and_names_the_item(ddb, table) -> None:  # type: ignore[no-untyped-def]
    ddb.put_item(TableName=table, Item={"k": {"S": "exists"}})
    with pytest.raises(ClientError) as err:
        ddb.transact_write_items(TransactItems=[put(table, "new-1"), put(table, "exists", "attribute_not_exists(k)")])
    reasons = [r["Code"] for r in err.value.response["CancellationReasons"]]
    assert reasons == ["None", "ConditionalCheckFailed"]
    assert "Item" not in ddb.get_item(TableName=table, Key={"k": {"S": "new-1"}})


def test_concurrent_writes_survive_failing_transactions(ddb, table) -> None:  # type: ignore[no-untyped-def]
    stop = threading.Event()

    def fail_forever() -> None:
        while not stop.is_set():
            with contextlib.suppress(ClientError):
                ddb.transact_write_items(
                    TransactItems=[put(table, f"x-{uuid.uuid4().hex}"), put(table, "exists", "attribute_not_exists(k)")]
                )

    failing = [threading.Thread(target=fail_forever) for _ in range(2)]
    for thread in failing:
        thread.start()
    written = [f"kept-{i}" for i in range(200)]
    try:
        for key in written:
            ddb.put_item(TableName=table, Item={"k": {"S": key}})
    finally:
        stop.set()
        for thread in failing:
            thread.join()
    missing = [k for k in written if "Item" not in ddb.get_item(TableName=table, Key={"k": {"S": k}})]
    assert missing == []


def test_the_stream_keeps_delivering_after_a_failed_transaction(stack, ddb, table) -> None:  # type: ignore[no-untyped-def]
    streams = boto3.client(
        "dynamodbstreams",
        endpoint_url=stack.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[put(table, "exists", "attribute_not_exists(k)")])
    ddb.put_item(TableName=table, Item={"k": {"S": "after-the-failure"}})
    seen: list[str] = []
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "after-the-failure" not in seen:
        page = streams.get_records(ShardIterator=iterator)
        seen += [r["dynamodb"]["Keys"]["k"]["S"] for r in page["Records"]]
        iterator = page["NextShardIterator"]
    assert "after-the-failure" in seen
