"""Clearance decision for a passage: which channel, and which rules fired with what explanation.

Pure: no AWS, no I/O. The rules are deliberately few in this first version; each one explains
itself so that an officer can see why a truck was stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from smartgate.schemas import Booking, BookingStatus, Channel, RuleFired

RULESET_VERSION = "2026.11-2"
SLOT_GRACE = timedelta(hours=2)
MIN_READ_CONFIDENCE = 0.6
_SEVERITY = {Channel.GREEN: 0, Channel.YELLOW: 1, Channel.RED: 2}


@dataclass(frozen=True)
class Decision:
    channel: Channel
    rules_fired: tuple[RuleFired, ...]
    ruleset_version: str = RULESET_VERSION


def decide(plate_text: str, gate_id: str, booking: Booking | None, now: datetime, *,
           read_valid: bool = True, read_confidence: float = 1.0) -> Decision:
    """GREEN when the plate has a live booking at this gate within its slot; otherwise say why not.

    A plate the lane could not read with certainty (not a valid plate format, or low confidence) is
    not treated as an unbooked truck: the officer checks the plate by eye (YELLOW) instead of the
    truck being sent to physical inspection because of a misread.
    """
    fired: list[RuleFired] = []
    uncertain = not read_valid or read_confidence < MIN_READ_CONFIDENCE
    if uncertain:
        why = "not a valid plate format" if not read_valid else f"confidence {read_confidence:.2f}"
        fired.append(RuleFired(rule_id="R-UNCERTAIN-READ", channel=Channel.YELLOW,
                               explanation=f"plate read {plate_text!r} is uncertain ({why}): check the plate by eye"))
    if booking is None:
        if not uncertain:  # no booking for an uncertain read says nothing about the truck
            fired.append(RuleFired(rule_id="R-NO-BOOKING", channel=Channel.RED,
                                   explanation=f"no booking for plate {plate_text} at gate {gate_id}"))
    elif booking.status == BookingStatus.CANCELLED:
        fired.append(RuleFired(rule_id="R-BOOKING-CANCELLED", channel=Channel.RED,
                               explanation=f"booking {booking.booking_id} was cancelled"))
    else:
        if not (booking.slot_start - SLOT_GRACE <= now <= booking.slot_end + SLOT_GRACE):
            fired.append(RuleFired(
                rule_id="R-OUTSIDE-SLOT", channel=Channel.YELLOW,
                explanation=(f"arrived {now:%Y-%m-%d %H:%M}Z outside slot "
                             f"{booking.slot_start:%Y-%m-%d %H:%M}–{booking.slot_end:%H:%M}Z "
                             f"(grace {SLOT_GRACE.seconds // 3600} h)"),
            ))
        if not any(r.rule_id == "R-OUTSIDE-SLOT" for r in fired):
            fired.append(RuleFired(rule_id="R-BOOKED", channel=Channel.GREEN,
                                   explanation=f"plate matches booking {booking.booking_id}"))
    channel = max((rule.channel for rule in fired), key=_SEVERITY.__getitem__)
    return Decision(channel=channel, rules_fired=tuple(fired))
