"""`make partner-check` in short: three booked trucks cross to the simulated partner gate, which answers
through the contract; faults reach the partner dead-letter queue; a replay rebuilds the same state."""

from __future__ import annotations

import base64
import re

import pytest

from smartgate_infra.partner_check import EXPECTED_DLQ, run_partner_check
from smartgate_infra.partner_sim import PartnerSimulator

pytestmark = pytest.mark.e2e


def test_a_short_day_of_exchange_with_the_simulated_partner_replays_to_the_same_state(stack) -> None:  # type: ignore[no-untyped-def]
    said: list[str] = []
    check = run_partner_check(stack, 3, refusal_rate=0.25, seed=3, delay_s=0.3, say=said.append)

    assert check.ok, "\n".join(check.problems + said)
    assert re.fullmatch(r"sent=\d+ received=\d+ dlq=\d+ replay_identical=(true|false)", check.line())
    # seed 3: the partner refuses one truck of three and clears (then lets leave) the other two
    assert (check.cleared, check.refused) == (2, 1)
    # ExpectedArrival, VehicleCleared and VehicleDeparted of each (a truck an officer released adds ConsignmentHeld)
    assert check.sent >= 9
    # the partner's VehicleCleared and VehicleDeparted of each cleared truck, its refusal, one CapacityPublished
    assert check.received == 2 * 2 + 1 + 1
    assert check.dlq == 3 and set(check.dlq_codes) == EXPECTED_DLQ
    assert check.replay_identical and check.replayed == check.snapshot
    assert check.line().endswith("replay_identical=true")


def test_the_simulator_signs_only_with_a_key_the_stack_publishes(stack_client) -> None:  # type: ignore[no-untyped-def]
    other = base64.b64encode(b"not-the-partner-simulator-key-00").decode()
    with pytest.raises(ValueError, match="PartnerPublicKeys"):
        PartnerSimulator(stack_client, signing_seed=other)
    with pytest.raises(ValueError, match="no partner agreement"):
        PartnerSimulator(stack_client, "nowhere")
    assert PartnerSimulator(stack_client, "hekou").peer == "kimthanh2"
