"""Create in the AWS emulator every resource that template.yaml declares, read from the template itself.

There is no second, hand-kept list of resources: each CloudFormation/SAM type maps to the boto3
calls that create it. Lambda functions, layers and permissions are not created in the emulator —
the local runtime is the Lambda service here. CloudFront is not run locally at all (``NOT_LOCAL``,
each with its reason). A type that is neither created, served nor listed there gives a clear error
naming the resource, so a template change cannot silently go missing locally.
Creating is idempotent: running it on a provisioned emulator changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from smartgate_infra.template import Resource, Template

SERVED_BY_RUNTIME = {
    "AWS::Serverless::Function",
    "AWS::Serverless::LayerVersion",
    "AWS::Lambda::Permission",
}

_WEB_LOCALLY = "the local runtime serves web/<app>/ itself on the API's port (web_static.py)"
NOT_LOCAL = {
    "AWS::CloudFront::Distribution": f"not emulated: {_WEB_LOCALLY}",
    "AWS::CloudFront::OriginAccessControl": f"only the distribution uses it; {_WEB_LOCALLY}",
    "AWS::CloudFront::Function": f"runs in the distribution; {_WEB_LOCALLY}, with the same folder URLs",
    "AWS::SQS::QueuePolicy": "the emulator delivers to its queues without one",
    "AWS::Events::EventBusPolicy": "only a partner's account needs it (PartnerAccountId)",
    "AWS::Events::Connection": "the partner's API is not reached locally (PartnerApiEndpoint)",
    "AWS::Events::ApiDestination": "the partner's API is not reached locally (PartnerApiEndpoint)",
}
"""Types neither created in the emulator nor served by the runtime, and why; anything else unknown is refused."""


class ProvisionError(RuntimeError):
    """A resource of the template could not be created locally; the message names it."""


@dataclass
class ProvisionReport:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    served: list[str] = field(default_factory=list)
    not_local: list[str] = field(default_factory=list)  # NOT_LOCAL types


ASSIGNED_IDS = ("AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient", "AWS::KMS::Key")
"""Types whose id the service assigns: created first, and the template is resolved again with their ids."""


KEY_TAG = "smartgate:logical-id"
"""The tag a local KMS key carries to be found again (KMS assigns key ids)."""


class Provisioner:
    def __init__(
        self,
        template: Template,
        session: boto3.session.Session,
        endpoint_url: str,
        reload: Callable[[dict[str, str]], Template] | None = None,
    ) -> None:
        """``reload(bindings)`` resolves the template again once assigned ids are known."""
        self.template = template
        self.session = session
        self.endpoint = endpoint_url
        self.reload = reload
        self.bindings: dict[str, str] = dict(template.bindings)
        self._clients: dict[str, Any] = {}
        self.handlers: dict[str, Callable[[Resource], bool]] = {
            "AWS::Cognito::UserPool": self.user_pool,
            "AWS::Cognito::UserPoolClient": self.user_pool_client,
            "AWS::Cognito::UserPoolGroup": self.user_pool_group,
            "AWS::DynamoDB::Table": self.table,
            "AWS::S3::Bucket": self.bucket,
            "AWS::S3::BucketPolicy": self.bucket_policy,
            "AWS::SNS::Topic": self.topic,
            "AWS::SNS::Subscription": self.subscription,
            "AWS::SQS::Queue": self.queue,
            "AWS::Events::EventBus": self.event_bus,
            "AWS::Events::Rule": self.events_rule,
            "AWS::Events::Archive": self.archive,
            "AWS::IoT::Policy": self.iot_policy,
            "AWS::IoT::TopicRule": self.topic_rule,
            "AWS::Logs::LogGroup": self.log_group,
            "AWS::SecretsManager::Secret": self.secret,
            "AWS::IAM::Role": self.role,
            "AWS::KMS::Key": self.kms_key,
        }

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(service, endpoint_url=self.endpoint)
        return self._clients[service]

    def check_supported(self) -> None:
        unsupported = [
            f"{r.logical_id} ({r.type})"
            for r in self.template.resources.values()
            if r.type not in self.handlers and r.type not in SERVED_BY_RUNTIME and r.type not in NOT_LOCAL
        ]
        if unsupported:
            raise ProvisionError(
                "the local stack cannot create or serve: "
                + ", ".join(unsupported)
                + "; add support in infra/smartgate_infra/provision.py"
            )

    def provision(self) -> ProvisionReport:
        self.check_supported()
        report = ProvisionReport()
        for kind in ASSIGNED_IDS:  # in dependency order; each may refer to the one before
            for resource in self.template.of_type(kind):
                try:
                    created = self.handlers[kind](resource)
                except (ClientError, BotoCoreError) as err:
                    raise ProvisionError(f"creating {resource.logical_id} ({kind}) failed: {err}") from err
                (report.created if created else report.existing).append(resource.logical_id)
            if self.reload is not None and self.bindings != self.template.bindings:
                self.template = self.reload(dict(self.bindings))
        # Order matters only where one resource needs another to exist (subscriptions, rules).
        order = ["AWS::IAM::Role", "AWS::SQS::Queue", "AWS::SNS::Topic", "AWS::Events::EventBus", "AWS::S3::Bucket"]
        resources = sorted(
            self.template.resources.values(), key=lambda r: order.index(r.type) if r.type in order else len(order)
        )
        for resource in resources:
            if resource.type in ASSIGNED_IDS:
                continue
            if resource.type in SERVED_BY_RUNTIME:
                report.served.append(resource.logical_id)
                continue
            if resource.type in NOT_LOCAL:
                report.not_local.append(resource.logical_id)
                continue
            try:
                created = self.handlers[resource.type](resource)
            except (ClientError, BotoCoreError) as err:
                raise ProvisionError(f"creating {resource.logical_id} ({resource.type}) failed: {err}") from err
            (report.created if created else report.existing).append(resource.logical_id)
        self.platform_applications()
        return report

    def platform_applications(self) -> None:
        """SNS platform applications named by ``*PlatformApplicationArn`` parameters (on AWS they are made
        with the FCM / APNs credentials outside the template; locally the emulator gets a stand-in)."""
        sns = self.client("sns")
        for name, value in self.template.parameters.items():
            match = re.fullmatch(r"arn:aws:sns:[^:]+:\d+:app/([A-Z_]+)/([A-Za-z0-9_.-]+)", value or "")
            if name.endswith("PlatformApplicationArn") and match:
                sns.create_platform_application(
                    Name=match.group(2), Platform=match.group(1), Attributes={"PlatformCredential": "local"}
                )

    # ------------------------------------------------------------------ one method per type

    def user_pool(self, r: Resource) -> bool:
        idp = self.client("cognito-idp")
        name = r.physical_name
        for pool in idp.list_user_pools(MaxResults=60)["UserPools"]:
            if pool["Name"] == name:
                self.bindings[r.logical_id] = pool["Id"]
                return False
        p = r.properties
        args: dict[str, Any] = {"PoolName": name}
        if "Schema" in p:
            args["Schema"] = [{**a, "Mutable": bool(a.get("Mutable", True))} for a in p["Schema"]]
        for key in (
            "Policies",
            "AdminCreateUserConfig",
            "UsernameAttributes",
            "AutoVerifiedAttributes",
            "MfaConfiguration",
        ):
            if key in p:
                args[key] = p[key]
        self.bindings[r.logical_id] = idp.create_user_pool(**args)["UserPool"]["Id"]
        return True

    def user_pool_client(self, r: Resource) -> bool:
        idp = self.client("cognito-idp")
        p = r.properties
        pool_id = p["UserPoolId"]
        for client in idp.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)["UserPoolClients"]:
            if client["ClientName"] == r.physical_name:
                self.bindings[r.logical_id] = client["ClientId"]
                return False
        created = idp.create_user_pool_client(
            UserPoolId=pool_id,
            ClientName=r.physical_name,
            GenerateSecret=bool(p.get("GenerateSecret", False)),
            ExplicitAuthFlows=list(p.get("ExplicitAuthFlows", [])),
        )
        self.bindings[r.logical_id] = created["UserPoolClient"]["ClientId"]
        return True

    def user_pool_group(self, r: Resource) -> bool:
        idp = self.client("cognito-idp")
        p = r.properties
        try:
            idp.create_group(
                UserPoolId=p["UserPoolId"], GroupName=r.physical_name, Description=str(p.get("Description", ""))
            )
        except ClientError as err:
            if err.response["Error"]["Code"] != "GroupExistsException":
                raise
            return False
        return True

    def table(self, r: Resource) -> bool:
        ddb = self.client("dynamodb")
        p = r.properties
        args: dict[str, Any] = {
            "TableName": r.physical_name,
            "KeySchema": p["KeySchema"],
            "AttributeDefinitions": p["AttributeDefinitions"],
            "BillingMode": p.get("BillingMode", "PROVISIONED"),
        }
        if args["BillingMode"] == "PROVISIONED":
            args["ProvisionedThroughput"] = p.get(
                "ProvisionedThroughput", {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
            )
        for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            if key in p:
                args[key] = p[key]
        if "StreamSpecification" in p:
            args["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": p["StreamSpecification"]["StreamViewType"],
            }
        if p.get("SSESpecification", {}).get("SSEEnabled"):
            args["SSESpecification"] = {"Enabled": True}
        try:
            ddb.create_table(**args)
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceInUseException":
                raise
            return False
        ttl = p.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            ddb.update_time_to_live(
                TableName=r.physical_name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        return True

    def bucket(self, r: Resource) -> bool:
        s3 = self.client("s3")
        p = r.properties
        try:
            s3.head_bucket(Bucket=r.physical_name)
            return False
        except ClientError:
            pass
        region = self.session.region_name
        kwargs: dict[str, Any] = {"Bucket": r.physical_name}
        if region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
        s3.create_bucket(**kwargs)
        if "BucketEncryption" in p:
            rules = [
                {
                    "ApplyServerSideEncryptionByDefault": rule["ServerSideEncryptionByDefault"],
                    **({"BucketKeyEnabled": rule["BucketKeyEnabled"]} if "BucketKeyEnabled" in rule else {}),
                }
                for rule in p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            ]
            s3.put_bucket_encryption(Bucket=r.physical_name, ServerSideEncryptionConfiguration={"Rules": rules})
        if "PublicAccessBlockConfiguration" in p:
            s3.put_public_access_block(
                Bucket=r.physical_name, PublicAccessBlockConfiguration=p["PublicAccessBlockConfiguration"]
            )
        if "VersioningConfiguration" in p:
            s3.put_bucket_versioning(
                Bucket=r.physical_name, VersioningConfiguration={"Status": p["VersioningConfiguration"]["Status"]}
            )
        if "LifecycleConfiguration" in p:
            s3.put_bucket_lifecycle_configuration(
                Bucket=r.physical_name,
                LifecycleConfiguration={
                    "Rules": [_lifecycle_rule(rule) for rule in p["LifecycleConfiguration"]["Rules"]]
                },
            )
        return True

    def bucket_policy(self, r: Resource) -> bool:
        s3 = self.client("s3")
        bucket, document = r.properties["Bucket"], r.properties["PolicyDocument"]
        try:
            if json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"]) == document:
                return False
        except ClientError as err:
            if err.response["Error"]["Code"] != "NoSuchBucketPolicy":
                raise
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(document))
        return True

    def topic(self, r: Resource) -> bool:
        sns = self.client("sns")
        arn = self.template.arn(r.logical_id)
        exists = any(t["TopicArn"] == arn for t in sns.list_topics().get("Topics", []))
        attributes = {k: str(v) for k, v in r.properties.items() if k in ("KmsMasterKeyId", "DisplayName")}
        sns.create_topic(Name=r.physical_name, Attributes=attributes)
        return not exists

    def subscription(self, r: Resource) -> bool:
        p = r.properties
        self.client("sns").subscribe(TopicArn=p["TopicArn"], Protocol=p["Protocol"], Endpoint=p["Endpoint"])
        return True

    def queue(self, r: Resource) -> bool:
        sqs = self.client("sqs")
        attribute_names = (
            "DelaySeconds",
            "MaximumMessageSize",
            "MessageRetentionPeriod",
            "ReceiveMessageWaitTimeSeconds",
            "VisibilityTimeout",
            "FifoQueue",
            "ContentBasedDeduplication",
            "SqsManagedSseEnabled",
        )
        attributes = {
            k: str(v).lower() if isinstance(v, bool) else str(v)
            for k, v in r.properties.items()
            if k in attribute_names
        }
        if "RedrivePolicy" in r.properties:
            attributes["RedrivePolicy"] = json.dumps(r.properties["RedrivePolicy"])
        try:
            sqs.get_queue_url(QueueName=r.physical_name)
            return False
        except ClientError:
            sqs.create_queue(QueueName=r.physical_name, Attributes=attributes)
            return True

    def event_bus(self, r: Resource) -> bool:
        events = self.client("events")
        try:
            events.describe_event_bus(Name=r.physical_name)
            return False
        except ClientError:
            events.create_event_bus(Name=r.physical_name)
            return True

    def events_rule(self, r: Resource) -> bool:
        p = r.properties
        args: dict[str, Any] = {"Name": r.physical_name, "State": p.get("State", "ENABLED")}
        if "EventPattern" in p:
            args["EventPattern"] = json.dumps(p["EventPattern"])
        if "ScheduleExpression" in p:
            args["ScheduleExpression"] = p["ScheduleExpression"]
        if "EventBusName" in p:
            args["EventBusName"] = p["EventBusName"]
        events = self.client("events")
        bus_args = {"EventBusName": p["EventBusName"]} if "EventBusName" in p else {}
        try:
            events.describe_rule(Name=r.physical_name, **bus_args)
            existed = True
        except ClientError:
            existed = False
        events.put_rule(**args)
        targets = [{k: t[k] for k in ("Id", "Arn", "RoleArn", "InputPath") if k in t} for t in p.get("Targets") or []]
        if targets:  # moto delivers to SQS queues and other buses, as EventBridge does
            events.put_targets(Rule=r.physical_name, Targets=targets, **bus_args)
        return not existed

    def archive(self, r: Resource) -> bool:
        events = self.client("events")
        try:
            events.describe_archive(ArchiveName=r.physical_name)
            return False
        except ClientError:
            p = r.properties
            args: dict[str, Any] = {"ArchiveName": r.physical_name, "EventSourceArn": p["SourceArn"]}
            if "RetentionDays" in p:
                args["RetentionDays"] = int(p["RetentionDays"])
            if "EventPattern" in p:
                args["EventPattern"] = json.dumps(p["EventPattern"])
            events.create_archive(**args)
            return True

    def iot_policy(self, r: Resource) -> bool:
        iot = self.client("iot")
        try:
            iot.get_policy(policyName=r.physical_name)
            return False
        except ClientError:
            iot.create_policy(policyName=r.physical_name, policyDocument=json.dumps(r.properties["PolicyDocument"]))
            return True

    def topic_rule(self, r: Resource) -> bool:
        iot = self.client("iot")
        payload = r.properties["TopicRulePayload"]
        api_payload = {
            "sql": payload["Sql"],
            "description": payload.get("Description", ""),
            "ruleDisabled": bool(payload.get("RuleDisabled", False)),
            "awsIotSqlVersion": payload.get("AwsIotSqlVersion", "2016-03-23"),
            "actions": [_lower_keys(a) for a in payload.get("Actions", [])],
        }
        if "ErrorAction" in payload:
            api_payload["errorAction"] = _lower_keys(payload["ErrorAction"])
        try:
            iot.get_topic_rule(ruleName=r.physical_name)
            return False
        except ClientError:
            iot.create_topic_rule(ruleName=r.physical_name, topicRulePayload=api_payload)
            return True

    def log_group(self, r: Resource) -> bool:
        logs = self.client("logs")
        try:
            logs.create_log_group(logGroupName=r.physical_name)
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceAlreadyExistsException":
                raise
            return False
        if "RetentionInDays" in r.properties:
            logs.put_retention_policy(
                logGroupName=r.physical_name, retentionInDays=int(r.properties["RetentionInDays"])
            )
        return True

    def secret(self, r: Resource) -> bool:
        """A secret with its SecretString; an existing one gets the template's value (a changed parameter)."""
        sm = self.client("secretsmanager")
        value = str(r.properties.get("SecretString", ""))
        try:
            current = sm.get_secret_value(SecretId=r.physical_name)["SecretString"]
        except ClientError as err:
            if err.response["Error"]["Code"] != "ResourceNotFoundException":
                raise
            sm.create_secret(Name=r.physical_name, SecretString=value, Description=r.properties.get("Description", ""))
            return True
        if current != value:
            sm.put_secret_value(SecretId=r.physical_name, SecretString=value)
        return False

    def kms_key(self, r: Resource) -> bool:
        """A key KMS names itself: found again by a tag naming the stack and the logical id."""
        kms = self.client("kms")
        marker = f"{self.template.stack_name}/{r.logical_id}"
        for page in kms.get_paginator("list_keys").paginate():
            for key in page["Keys"]:
                tags = kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
                if {"TagKey": KEY_TAG, "TagValue": marker} in tags:
                    state = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]
                    if state == "Enabled":
                        self.bindings[r.logical_id] = key["KeyId"]
                        return False
        p = r.properties
        created = kms.create_key(
            Description=str(p.get("Description", "")),
            KeyUsage=str(p.get("KeyUsage", "ENCRYPT_DECRYPT")),
            KeySpec=str(p.get("KeySpec", "SYMMETRIC_DEFAULT")),
            Tags=[{"TagKey": KEY_TAG, "TagValue": marker}],
        )["KeyMetadata"]["KeyId"]
        if p.get("EnableKeyRotation"):
            kms.enable_key_rotation(KeyId=created)
        self.bindings[r.logical_id] = created
        return True

    def role(self, r: Resource) -> bool:
        iam = self.client("iam")
        try:
            iam.get_role(RoleName=r.physical_name)
            return False
        except ClientError:
            iam.create_role(
                RoleName=r.physical_name, AssumeRolePolicyDocument=json.dumps(r.properties["AssumeRolePolicyDocument"])
            )
        for policy in r.properties.get("Policies", []):
            iam.put_role_policy(
                RoleName=r.physical_name,
                PolicyName=policy["PolicyName"],
                PolicyDocument=json.dumps(policy["PolicyDocument"]),
            )
        return True


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape -> the S3 API's."""
    out: dict[str, Any] = {
        "ID": rule.get("Id", "rule"),
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        out["NoncurrentVersionExpiration"] = {
            "NoncurrentDays": int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        }
    return out


def _lower_keys(value: Any) -> Any:
    """CloudFormation's PascalCase IoT action keys -> the IoT API's camelCase."""
    if isinstance(value, dict):
        return {k[:1].lower() + k[1:]: _lower_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower_keys(v) for v in value]
    return value
