"""Traders for API tests: a company registered by a gate operator, its user signed in, a declaration."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smartgate.domain.slots import WINDOW, window_start
from smartgate.schemas import utc_now
from smartgate_infra.api_client import ApiClient
from smartgate_infra.declarations import RUBBER_LINE

GOODS = [RUBBER_LINE]
RUBBER_LINE_FOR_LAB = {**RUBBER_LINE, "needs_testing": ["quality"]}  # RED: a sample for the lab


@dataclass
class Trader:
    company_id: str
    api: ApiClient

    def declare(self, plate: str = "24C-123.45", **changes: Any) -> dict[str, Any]:
        body = {
            "gate_id": "sandbox",
            "direction": "VN_TO_CN",
            "country": "VN",
            "plate_text": plate,
            "container_nos": ["MSCU1234566"],
            "goods": GOODS,
            **changes,
        }
        reply = self.api.post("/consignments", body)
        assert reply.status == 201, reply.raw
        return reply.body  # type: ignore[no-any-return]

    def driver(self, name: str = "Nguyễn Văn An", document: str = "B12345678") -> str:
        reply = self.api.post("/drivers", {"full_name": name, "document_number": document, "country": "VN"})
        assert reply.status == 201, reply.raw
        return str(reply.body["driver_id"])

    def book(self, consignment_id: str, start: datetime, **extra: Any) -> Any:
        return self.api.post(
            "/bookings", {"consignment_id": consignment_id, "window_start": start.isoformat(), **extra}
        )


def operator(stack, stack_client) -> ApiClient:  # type: ignore[no-untyped-def]
    return ApiClient(stack.api_url, stack_client.token_for("gate-operator", ["operators"]))


def new_trader(stack, stack_client, limit: int = 20, prefix: str = "TR") -> Trader:  # type: ignore[no-untyped-def]
    company_id = f"{prefix}-{uuid.uuid4().hex[:8].upper()}"
    reply = operator(stack, stack_client).post(
        "/companies",
        {
            "company_id": company_id,
            "name": f"Cong ty {company_id}",
            "country": "VN",
            "tax_id": "0101234567",
            "booking_limit": limit,
        },
    )
    assert reply.status == 201, reply.raw
    token = stack_client.token_for(f"user-{company_id.lower()}", ["traders"], company_id)
    return Trader(company_id, ApiClient(stack.api_url, token))


def future_window(hours: float = 24, minutes: int = 0) -> datetime:
    """A window start well inside the horizon; tests pick distinct ones to keep out of each other's way."""
    return window_start(utc_now() + timedelta(hours=hours, minutes=minutes)) + WINDOW
