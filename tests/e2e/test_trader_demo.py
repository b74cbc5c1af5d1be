"""`make demo`'s trader section on the session stack: it must say what happened and succeed."""

from __future__ import annotations

import pytest

from smartgate_infra.trader_demo import run_trader

pytestmark = pytest.mark.e2e


def test_the_demo_trader_books_through_the_api_and_crosses(stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    assert run_trader(stack, stack_client, say=lines.append), "\n".join(lines)
    text = "\n".join(lines)
    assert "422 ['body.container_nos.0']" in text
    assert "barrier open" in text and "booked -> arrived -> cleared -> crossed" in text
