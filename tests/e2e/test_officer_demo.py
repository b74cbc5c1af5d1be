"""`make demo`'s officer section on the session stack: it must say what happened and succeed."""

from __future__ import annotations

import pytest

from smartgate_infra.officer_demo import run_officer

pytestmark = pytest.mark.e2e


def test_the_demo_officer_is_alerted_in_three_languages_and_releases_with_a_reason(stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    assert run_officer(stack, stack_client, say=lines.append), "\n".join(lines)
    text = "\n".join(lines)
    assert "[vi] Luồng ĐỎ" in text and "[zh] 红色通道" in text and "[en] RED channel" in text
    assert "release without a reason: 422 ['body.reason']" in text
    assert "the lane got OPEN command" in text and "signature ok" in text
    assert "officer_action" in text and "the alert is now resolved" in text
