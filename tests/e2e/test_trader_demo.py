"""`make demo`'s trader section on the session stack: it must say what happened and succeed; the CLI then
shows the company's outbox (what the trader was told)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from smartgate_infra.trader_demo import run_trader

pytestmark = pytest.mark.e2e


def test_the_demo_trader_books_through_the_api_and_crosses(stack, stack_client, state_dir) -> None:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    assert run_trader(stack, stack_client, say=lines.append), "\n".join(lines)
    text = "\n".join(lines)
    assert "422 ['body.container_nos.0']" in text
    assert "barrier open" in text and "booked -> arrived -> cleared -> crossed" in text

    match = re.search(r"smartgate outbox (\S+)", text)
    assert match, text
    shown = subprocess.run(
        [sys.executable, "-m", "smartgate_infra.cli", "--state-dir", str(state_dir), "outbox", match[1]],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert shown.returncode == 0, shown.stderr
    kinds = [line.split()[2] for line in shown.stdout.splitlines()]
    assert kinds[-1] == "booked" and {"arrived", "cleared", "crossed"} <= set(kinds), shown.stdout
