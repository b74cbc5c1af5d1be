"""Officers, pure: who may do what, what an action does to a passage (and what it refuses), alerts built from
bus events in three languages, rate-limited, acknowledged and escalated; devices' addresses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from domain_fixtures import GATE, LANE, T0

from smartgate.domain import alerts as A
from smartgate.domain.devices import DeviceRefused, _address
from smartgate.domain.officers import ActionRefused, ActionRequest, Officer, apply_action, barrier_action
from smartgate.schemas import (
    BarrierAction,
    Channel,
    ClearanceDecided,
    Direction,
    LabResult,
    LabResultPosted,
    LabTest,
    Passage,
    PassageStatus,
    RuleFired,
)
from smartgate.schemas.officers import AlertKind, AlertStatus, DeviceIn, DeviceKind, OfficerAction, OfficerRole

ACK = timedelta(minutes=5)


def officer(*roles: str, gates: str = GATE, name: str = "o1") -> Officer:
    return Officer.from_groups(name, frozenset({"officers", *roles}), gates, "en")


def held(status: PassageStatus = PassageStatus.HELD, version: int = 3, **changes: Any) -> Passage:
    return Passage(
        passage_id="psg-1",
        gate_id=GATE,
        lane_id=LANE,
        direction=Direction.VN_TO_CN,
        version=version,
        status=status,
        status_at=T0,
        first_seen=T0,
        last_seen=T0,
        opened_at=T0,
        plate_text="29C-12l.45",
        **changes,
    )


def req(action: str, reason: str = "checked the papers", version: int = 3, **kw: Any) -> ActionRequest:
    return ActionRequest(OfficerAction(action), reason, version, **kw)


# --------------------------------------------------------------------------- actions


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        ("customs", "release", True),
        ("customs", "sample", False),
        ("border_guard", "hold", True),
        ("border_guard", "release", False),
        ("quarantine", "sample", True),
        ("quarantine", "inspect", False),
        ("supervisor", "release", True),
        ("supervisor", "sample", True),
    ],
)
def test_each_role_may_do_its_own_actions_only(role: str, action: str, allowed: bool) -> None:
    request = req(action, sample_id="S-1", tests=(LabTest.FOOD_SAFETY,))
    if allowed:
        assert apply_action(held(PassageStatus.IN_INSPECTION), request, officer(role), T0).version == 4
    else:
        with pytest.raises(ActionRefused) as err:
            apply_action(held(PassageStatus.IN_INSPECTION), request, officer(role), T0)
        assert (err.value.field, err.value.status) == ("body.action", 403)


def test_release_moves_the_passage_names_the_officer_and_opens_the_barrier() -> None:
    after = apply_action(held(), req("release"), officer("customs"), T0 + timedelta(minutes=3))
    assert after.status == PassageStatus.RELEASED and after.status_by == "officer:o1"
    assert after.status_reason == "release by o1: checked the papers" and after.status_at == T0 + timedelta(minutes=3)
    assert barrier_action(req("release")) == BarrierAction.OPEN and barrier_action(req("inspect")) == BarrierAction.HOLD
    assert barrier_action(req("correct_plate", plate="29C-121.45")) is None


@pytest.mark.parametrize(
    ("passage", "request_", "field", "status"),
    [
        (held(), req("release", reason="  "), "body.reason", 422),
        (held(), req("release", reason="ok"), "body.reason", 422),
        (held(), req("release", version=2), "body.version", 409),
        (held(PassageStatus.DEPARTED), req("release"), "path.passage_id", 409),
        (held(PassageStatus.REFUSED), req("hold"), "path.passage_id", 409),
        (held(PassageStatus.HELD), req("hold"), "body.action", 409),
        (held(PassageStatus.OPEN), req("sample", sample_id="S-1", tests=(LabTest.FOOD_SAFETY,)), "body.action", 409),
        (held(), req("correct_plate"), "body.plate", 422),
        (held(), req("correct_plate", plate="12"), "body.plate", 422),
        (held(), req("sample"), "body.sample_id", 422),
    ],
)
def test_a_refused_action_says_which_field_and_why(
    passage: Passage, request_: ActionRequest, field: str, status: int
) -> None:
    with pytest.raises(ActionRefused) as err:
        apply_action(passage, request_, officer("supervisor"), T0)
    assert (err.value.field, err.value.status) == (field, status)


def test_an_officer_acts_only_at_the_gates_they_serve() -> None:
    with pytest.raises(ActionRefused) as err:
        apply_action(held(), req("release"), officer("customs", gates="kimthanh2"), T0)
    assert err.value.status == 403 and err.value.field == "gate_id"
    assert apply_action(held(), req("release"), officer("customs", gates="*"), T0).status == PassageStatus.RELEASED
    with pytest.raises(ActionRefused) as no_role:
        apply_action(held(), req("release"), Officer.from_groups("t", frozenset({"traders"}), None, None), T0)
    assert no_role.value.field == "roles"


def test_a_corrected_plate_is_printed_canonically_and_changes_no_status() -> None:
    after = apply_action(held(), req("correct_plate", plate=" 29c-121.45 "), officer("border_guard"), T0)
    assert after.plate_text == "29C-121.45" and after.plate_key == "29C12145" and after.status == PassageStatus.HELD
    cn = apply_action(held(), req("correct_plate", plate="桂A·12345"), officer("customs"), T0)
    assert cn.country is not None and cn.country.value == "CN"


# --------------------------------------------------------------------------- alerts


def decided(
    channel: Channel, rules: tuple[str, ...] = ("R-NO-BOOKING",), previous: Channel | None = None, no: int = 1
) -> ClearanceDecided:
    return ClearanceDecided(
        event_id=f"e-{no}",
        passage_id="psg-1",
        gate_id="kimthanh2",
        lane_id="in-1",
        direction=Direction.CN_TO_VN,
        plate_text="云A·88K21",
        channel=channel,
        previous_channel=previous,
        risk_score=80,
        rules_fired=[RuleFired(rule_id=r, channel=channel, explanation=f"{r} fired") for r in rules],
        ruleset_id="vn-cn-road",
        ruleset_version="1",
        decision_no=no,
        status=PassageStatus.IN_INSPECTION,
        decided_at=T0,
    )


def test_green_and_same_channel_again_page_nobody() -> None:
    assert A.alert_for(decided(Channel.GREEN), T0, ACK) is None
    assert A.alert_for(decided(Channel.RED, previous=Channel.RED, no=2), T0, ACK) is None


def test_an_alert_id_is_stable_per_cause_and_its_role_follows_the_rules() -> None:
    first = A.alert_for(decided(Channel.RED), T0, ACK)
    again = A.alert_for(decided(Channel.RED), T0 + timedelta(seconds=9), ACK)
    later = A.alert_for(decided(Channel.RED, previous=Channel.YELLOW, no=2), T0, ACK)
    assert first and again and later
    assert first.alert_id == again.alert_id != later.alert_id and later.kind == AlertKind.TIGHTENED
    assert first.severity.value == "critical" and first.role == OfficerRole.CUSTOMS
    watch = A.alert_for(decided(Channel.YELLOW, ("R-WATCH-PLATE",)), T0, ACK)
    lab = A.alert_for(decided(Channel.RED, ("R-LAB-REQUIRED",)), T0, ACK)
    assert watch and watch.role == OfficerRole.BORDER_GUARD and watch.severity.value == "warning"
    assert lab and lab.role == OfficerRole.QUARANTINE


def test_every_kind_renders_in_every_language_with_the_facts() -> None:
    alert = A.alert_for(decided(Channel.RED), T0, ACK)
    assert alert is not None
    texts = {loc: A.render(alert, loc, "Kim Thanh II", 5) for loc in ("vi", "zh", "en")}
    assert (
        texts["vi"][0].startswith("Luồng ĐỎ")
        and texts["zh"][0].startswith("红色通道")
        and texts["en"][0].startswith("RED")
    )
    assert all("云A·88K21" in subject and "R-NO-BOOKING fired" in text for subject, text in texts.values())
    lab = A.alert_for(
        LabResultPosted(
            event_id="e-l",
            passage_id="psg-1",
            gate_id="kimthanh2",
            lane_id="in-1",
            sample_id="S-9",
            result=LabResult(outcome="fail", tested_by="lab-1", posted_at=T0),
            status=PassageStatus.REFUSED,
            at=T0,
        ),
        T0,
        ACK,
    )
    assert lab and lab.severity.value == "critical" and lab.plate_text is None
    assert (
        A.render(lab, "vi", "Kim Thanh II")[0] == "Kết quả xét nghiệm KHÔNG ĐẠT: mẫu S-9, xe (không đọc được biển số)"
    )
    assert "bị từ chối" in A.render(lab, "vi", "Kim Thanh II")[1]


def test_escalation_goes_to_the_supervisor_once_and_stops_when_acknowledged() -> None:
    alert = A.alert_for(decided(Channel.RED), T0, ACK)
    assert alert is not None
    up = A.escalate(alert, T0 + ACK, ACK)
    assert up and up.level == 1 and up.role == OfficerRole.SUPERVISOR and up.ack_due_at == T0 + 2 * ACK
    assert A.escalate(up, T0 + 2 * ACK, ACK) is None  # nobody above the supervisor
    subject, text = A.render(up, "en", "Kim Thanh II", 5)
    assert subject.startswith("ESCALATED (not acknowledged within 5 min)") and text.startswith("ESCALATED")
    acked = A.acknowledge(alert, "o1", T0)
    assert acked.status == AlertStatus.ACKNOWLEDGED and A.escalate(acked, T0 + ACK, ACK) is None
    assert A.acknowledge(acked, "o2", T0) is acked and A.resolve(acked, "o2", T0) is acked


def test_the_catalogue_refuses_a_kind_without_every_language() -> None:
    raw = A.catalogue().model_dump(mode="json")
    del raw["templates"]["lab_result"]["zh"]
    with pytest.raises(ValueError, match="lab_result: no text for zh"):
        A.AlertCatalogue.model_validate(raw)


# --------------------------------------------------------------------------- devices


@pytest.mark.parametrize(
    ("kind", "address", "expected"),
    [
        ("sms", "+84 912-345.678", "+84912345678"),
        ("email", "Duty.Officer@Customs.GOV.vn", "duty.officer@customs.gov.vn"),
        ("fcm", "abc:DEF_123", "abc:DEF_123"),
    ],
)
def test_device_addresses_are_normalised(kind: str, address: str, expected: str) -> None:
    assert _address(DeviceIn(kind=DeviceKind(kind), address=address)) == expected


@pytest.mark.parametrize(("kind", "address"), [("sms", "0912345678"), ("email", "not-an-address"), ("apns", "a b c")])
def test_bad_device_addresses_are_refused_naming_the_field(kind: str, address: str) -> None:
    with pytest.raises(DeviceRefused) as err:
        _address(DeviceIn(kind=DeviceKind(kind), address=address))
    assert err.value.field == "body.address"


# --------------------------------------------------------------------------- lane heartbeats


def beat(at_s: float, lane: str = "in-1") -> Any:
    from smartgate.schemas import LaneHealth

    return LaneHealth(
        event_id=f"h-{lane}-{at_s}",
        gate_id="kimthanh2",
        lane_id=lane,
        camera_ok=True,
        fps=12,
        inference_ms=40,
        at=T0 + timedelta(seconds=at_s),
    )


def test_a_silent_lane_goes_offline_and_its_outage_has_one_alert_that_coming_back_names() -> None:
    from smartgate.domain.heartbeats import back_online, silent, went_offline

    now = T0 + timedelta(seconds=100)
    lanes = [beat(0, "in-1"), beat(50, "in-2")]
    assert [h.lane_id for h in silent(lanes, now, timedelta(seconds=90))] == ["in-1"]
    down = went_offline(lanes[0], now)
    assert not down.online and down.silent_seconds == 100 and down.last_heartbeat_at == T0
    assert went_offline(lanes[0], now + timedelta(seconds=60)).event_id == down.event_id  # the same outage
    up = back_online(lanes[0], beat(400))
    assert up.online and up.silent_seconds == 400 and up.event_id != down.event_id
    alert = A.alert_for(down, now, ACK)
    assert alert is not None and alert.kind == AlertKind.LANE_OFFLINE and alert.passage_id is None
    assert alert.alert_id == A.lane_alert_id(up)  # back online finds the outage's alert
    assert A.alert_for(up, now, ACK) is None
    subject, text = A.render(alert, "vi", "Kim Thanh II")
    assert subject == "Làn in-1 tại Kim Thanh II mất kết nối" and "2 phút" in text
