"""Every resource template.yaml declares exists in the emulator, as declared."""

from __future__ import annotations

import json

import pytest

from smartgate_infra.provision import NOT_LOCAL, SERVED_BY_RUNTIME, Provisioner

pytestmark = pytest.mark.integration


def test_every_declared_resource_is_created_or_served(stack_client) -> None:  # type: ignore[no-untyped-def]
    # When the stack provisions again from the template, everything is already there
    provisioner = Provisioner(stack_client.template, stack_client.session, stack_client.state.endpoint_url)
    report = provisioner.provision()
    assert report.created == []
    declared = set(stack_client.template.resources)
    assert set(report.existing) | set(report.served) | set(report.not_local) == declared
    assert {stack_client.template.resources[r].type for r in report.served} <= SERVED_BY_RUNTIME
    # CloudFront (the runtime serves web/ itself) and what only a deployed partner link needs
    not_local = {stack_client.template.resources[r].type for r in report.not_local}
    assert not_local <= set(NOT_LOCAL) and "AWS::CloudFront::Distribution" in not_local


def test_tables_match_template(stack_client) -> None:  # type: ignore[no-untyped-def]
    ddb = stack_client.client("dynamodb")
    tables = stack_client.template.of_type("AWS::DynamoDB::Table")
    assert {t.physical_name for t in tables} <= set(ddb.list_tables()["TableNames"])
    for table in tables:
        live = ddb.describe_table(TableName=table.physical_name)["Table"]
        p = table.properties
        assert live["KeySchema"] == p["KeySchema"]
        assert sorted(live["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
            p["AttributeDefinitions"], key=lambda a: a["AttributeName"]
        )
        assert {i["IndexName"] for i in live.get("GlobalSecondaryIndexes", [])} == {
            i["IndexName"] for i in p.get("GlobalSecondaryIndexes", [])
        }
        if "StreamSpecification" in p:
            assert live["StreamSpecification"]["StreamViewType"] == p["StreamSpecification"]["StreamViewType"]
        else:
            assert not live.get("StreamSpecification", {}).get("StreamEnabled")
        ttl = ddb.describe_time_to_live(TableName=table.physical_name)["TimeToLiveDescription"]
        if p.get("TimeToLiveSpecification", {}).get("Enabled"):
            assert ttl["AttributeName"] == p["TimeToLiveSpecification"]["AttributeName"]
            assert ttl["TimeToLiveStatus"] == "ENABLED"


def test_evidence_bucket_is_encrypted_private_versioned_and_expires(stack_client) -> None:  # type: ignore[no-untyped-def]
    s3 = stack_client.client("s3")
    name = stack_client.template.resources["EvidenceBucket"].physical_name
    rule = s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert all(s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    [lifecycle] = s3.get_bucket_lifecycle_configuration(Bucket=name)["Rules"]
    assert lifecycle["Expiration"]["Days"] == int(stack_client.template.parameters["EvidenceRetentionDays"])


def test_web_bucket_is_encrypted_private_versioned_and_read_by_the_distribution_only(stack_client) -> None:  # type: ignore[no-untyped-def]
    s3 = stack_client.client("s3")
    t = stack_client.template
    name = t.resources["WebBucket"].physical_name
    assert s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"]
    assert all(s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"].values())
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
    assert policy == t.resources["WebBucketPolicy"].properties["PolicyDocument"]
    assert [s["Principal"] for s in policy["Statement"]] == [{"Service": "cloudfront.amazonaws.com"}]


def test_messaging_resources_exist(stack_client) -> None:  # type: ignore[no-untyped-def]
    t = stack_client.template
    topics = {x["TopicArn"] for x in stack_client.client("sns").list_topics()["Topics"]}
    assert {t.arn(r.logical_id) for r in t.of_type("AWS::SNS::Topic")} <= topics
    buses = {b["Name"] for b in stack_client.client("events").list_event_buses()["EventBuses"]}
    assert {r.physical_name for r in t.of_type("AWS::Events::EventBus")} <= buses
    sqs = stack_client.client("sqs")
    for queue in t.of_type("AWS::SQS::Queue"):
        url = sqs.get_queue_url(QueueName=queue.physical_name)["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        for name in ("MessageRetentionPeriod", "VisibilityTimeout"):
            if name in queue.properties:
                assert attrs[name] == str(queue.properties[name]), (queue.logical_id, name)
        if "RedrivePolicy" in queue.properties:
            policy = json.loads(attrs["RedrivePolicy"])
            assert policy["deadLetterTargetArn"] == queue.properties["RedrivePolicy"]["deadLetterTargetArn"]


def test_iot_rule_and_lane_policy_match_template(stack_client) -> None:  # type: ignore[no-untyped-def]
    iot = stack_client.client("iot")
    for rule in stack_client.template.of_type("AWS::IoT::TopicRule"):
        live = iot.get_topic_rule(ruleName=rule.physical_name)["rule"]
        assert live["sql"] == rule.properties["TopicRulePayload"]["Sql"]
        assert live["errorAction"]["sqs"]["queueUrl"].endswith("rejected-detections")
    for policy in stack_client.template.of_type("AWS::IoT::Policy"):
        document = json.loads(iot.get_policy(policyName=policy.physical_name)["policyDocument"])
        assert document == policy.properties["PolicyDocument"]


def test_log_groups_have_retention(stack_client) -> None:  # type: ignore[no-untyped-def]
    logs = stack_client.client("logs")
    live = {g["logGroupName"]: g.get("retentionInDays") for g in logs.describe_log_groups()["logGroups"]}
    for group in stack_client.template.of_type("AWS::Logs::LogGroup"):
        assert live[group.physical_name] == int(group.properties["RetentionInDays"])
