"""A thin client of a running local stack, for the demo, the benchmark and the tests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import yaml

from smartgate.adapters.dynamodb import (
    DynamoAudit,
    DynamoBookings,
    DynamoConsignments,
    DynamoPassageStore,
    DynamoRuleSetArchive,
)
from smartgate.adapters.officers import DynamoAlerts, DynamoBarrierLog, S3Evidence
from smartgate.adapters.passes import PassSigner
from smartgate.adapters.trade import DynamoTrade, TradeTables
from smartgate.schemas import utc_now
from smartgate_infra.declarations import Declared, declared, pass_for, pass_signer
from smartgate_infra.stack import ROOT, StackState, load_template
from smartgate_infra.template import Template

SEED_FILE = ROOT / "infra" / "seed" / "gate-day.yaml"


class StackClient:
    def __init__(self, state: StackState, template: Template | None = None) -> None:
        self.state = state
        self.template = template or load_template(state_dir=state.state_dir)
        self._tokens: dict[tuple[str, tuple[str, ...], str | None], str] = {}
        self.session = boto3.session.Session(
            aws_access_key_id="local", aws_secret_access_key="local", region_name=self.template.region
        )
        # pynamodb builds its own botocore clients from the environment: point this process at the stack.
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": state.endpoint_url,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_REGION": self.template.region,
                "AWS_DEFAULT_REGION": self.template.region,
            }
        )

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.state.endpoint_url)

    def name(self, logical_id: str) -> str:
        return self.template.resources[logical_id].physical_name

    @cached_property
    def alerts(self) -> DynamoAlerts:
        return DynamoAlerts(self.name("AlertsTable"), self.template.region, timedelta(days=30))

    @cached_property
    def evidence(self) -> S3Evidence:
        return S3Evidence(self.name("EvidenceBucket"), self.template.region, client=self.client("s3"))

    @cached_property
    def bookings(self) -> DynamoBookings:
        return DynamoBookings(self.name("BookingsTable"), self.template.region)

    @cached_property
    def consignments(self) -> DynamoConsignments:
        return DynamoConsignments(self.name("ConsignmentsTable"), self.template.region)

    @cached_property
    def passages(self) -> DynamoPassageStore:
        return DynamoPassageStore(
            self.name("PassagesTable"), self.name("LanesTable"), self.name("DetectionsTable"), self.template.region
        )

    @cached_property
    def audit(self) -> DynamoAudit:
        return DynamoAudit(self.name("AuditTable"), self.template.region)

    @cached_property
    def rule_sets(self) -> DynamoRuleSetArchive:
        return DynamoRuleSetArchive(self.name("RuleSetsTable"), self.template.region)

    @cached_property
    def trade(self) -> DynamoTrade:
        n = self.name
        return DynamoTrade(
            TradeTables(
                companies=n("CompaniesTable"),
                fleet=n("FleetTable"),
                slots=n("SlotsTable"),
                bookings=n("BookingsTable"),
                consignments=n("ConsignmentsTable"),
                timeline=n("TimelineTable"),
                outbox=n("OutboxTable"),
                limits=n("LimitsTable"),
                access_log=n("AccessLogTable"),
            ),
            self.template.region,
        )

    @cached_property
    def barrier_log(self) -> DynamoBarrierLog:
        return DynamoBarrierLog(self.name("LanesTable"), self.template.region)

    def trade_store(self) -> DynamoTrade:
        return self.trade

    @cached_property
    def signer(self) -> PassSigner:
        return pass_signer(self.template)

    # ---- people (the stack's Cognito user pool)

    @property
    def user_pool_id(self) -> str:
        return str(self.template.resolve({"Ref": "UserPool"}))

    @property
    def app_client_id(self) -> str:
        return str(self.template.resolve({"Ref": "UserPoolClient"}))

    def create_user(
        self,
        username: str,
        password: str,
        groups: list[str],
        company_id: str | None = None,
        locale: str = "vi",
        gates: str | None = None,
    ) -> None:
        """A user of the pool with a permanent password (local stack only); again: updates the groups.
        ``gates``: an officer's gates (custom:gates, comma-separated, * all)."""
        idp = self.client("cognito-idp")
        attributes = [{"Name": "custom:locale", "Value": locale}]
        if company_id:
            attributes.append({"Name": "custom:company_id", "Value": company_id})
        if gates:
            attributes.append({"Name": "custom:gates", "Value": gates})
        try:
            idp.admin_create_user(
                UserPoolId=self.user_pool_id, Username=username, UserAttributes=attributes, MessageAction="SUPPRESS"
            )
        except idp.exceptions.UsernameExistsException:
            idp.admin_update_user_attributes(UserPoolId=self.user_pool_id, Username=username, UserAttributes=attributes)
        idp.admin_set_user_password(UserPoolId=self.user_pool_id, Username=username, Password=password, Permanent=True)
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=self.user_pool_id, Username=username, GroupName=group)

    LOCAL_PASSWORD = "Smartgate-local-2026"
    """Password of the local stack's demo and test users (never a deployed stage's)."""

    def officer_token(self, username: str, role: str, gates: str = "*", locale: str = "vi") -> str:
        """An ID token of a local officer (groups ``officers`` and ``role``) serving ``gates``."""
        key = (username, ("officers", role), f"gates={gates};locale={locale}")
        if key not in self._tokens:
            self.create_user(username, self.LOCAL_PASSWORD, ["officers", role], locale=locale, gates=gates)
            self._tokens[key] = self.sign_in(username, self.LOCAL_PASSWORD)
        return self._tokens[key]

    def token_for(self, username: str, groups: list[str], company_id: str | None = None) -> str:
        """An ID token of a local user (created on first use) in these groups."""
        key = (username, tuple(groups), company_id)
        if key not in self._tokens:
            self.create_user(username, self.LOCAL_PASSWORD, groups, company_id)
            self._tokens[key] = self.sign_in(username, self.LOCAL_PASSWORD)
        return self._tokens[key]

    def sign_in(self, username: str, password: str) -> str:
        """An ID token for the user (what the web app gets by signing in)."""
        tokens = self.client("cognito-idp").initiate_auth(
            ClientId=self.app_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )["AuthenticationResult"]
        return str(tokens["IdToken"])

    def declare(self, entry: Declared) -> None:
        """Store a consignment and its booking (with the declaration's copy), as the trader API will."""
        self.consignments.put(entry.consignment)
        if entry.booking is not None:
            self.bookings.put(entry.booking, entry.consignment)

    def pass_token(self, entry: Declared) -> str:
        assert entry.booking is not None
        return pass_for(entry.booking, self.signer)

    def seed(self, path: Path = SEED_FILE) -> list[Declared]:
        """Put the seed consignments and bookings (times relative to now); seeding again changes nothing else."""
        now = utc_now()
        entries = [declared(raw, now) for raw in yaml.safe_load(path.read_text(encoding="utf-8"))["consignments"]]
        for entry in entries:
            self.declare(entry)
        return entries

    def _drain(self, queue_name: str, delete: bool) -> Iterator[dict[str, Any]]:
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        seen: set[str] = set()
        while True:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=0 if not delete else 30
            ).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                return
            for message in fresh:
                seen.add(message["MessageId"])
                yield json.loads(message["Body"])
            if delete:  # one call for the batch (one a message made draining thousands take a minute)
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(fresh)],
                )

    def rejected(self) -> list[dict[str, Any]]:
        """What the rejected-detections queue holds (left in place for an operator)."""
        return list(self._drain(self.name("RejectedDetectionsQueue"), delete=False))

    def tapped(self) -> list[dict[str, Any]]:
        """Bus events and SNS messages seen since the last call (the runtime's tap queue)."""
        return list(self._drain(f"{self.template.stack_name}-runtime-tap", delete=True))

    def forget_tapped(self) -> None:
        """Empty the runtime's tap queue at once (after a run of thousands of events nobody reads there: the
        next ``tapped`` would drain them ten at a time)."""
        sqs = self.client("sqs")
        sqs.purge_queue(QueueUrl=sqs.get_queue_url(QueueName=f"{self.template.stack_name}-runtime-tap")["QueueUrl"])
