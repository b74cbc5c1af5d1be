"""Merging one vehicle's frames into one plate, and cutting a stream of frames into vehicles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartgate.domain.merge import (
    AGREEMENT_BONUS,
    MergedPlate,
    PlateObservation,
    VehicleSegmenter,
    edit_distance,
    merge_plate_observations,
)
from smartgate.domain.plates import plate_key
from smartgate.schemas import Country


def obs(
    text: str, confidence: float = 0.9, frame: int = 0, sharpness: float = 0.0, chars: tuple[float, ...] | None = None
) -> PlateObservation:
    n = len(plate_key(text)) if text.strip(" -.·") else 0
    return PlateObservation(text, confidence, chars if chars is not None else (confidence,) * n, frame, sharpness)


def merged(observations: list[PlateObservation], country: Country | None = None) -> MergedPlate:
    result = merge_plate_observations(observations, country)
    assert result is not None
    return result


# --------------------------------------------------------------------------- voting


def test_the_majority_wins() -> None:
    # Given three frames agreeing and one more confident frame disagreeing
    frames = [
        obs("29C 123.45", 0.8, 1),
        obs("29C-123.45", 0.85, 2),
        obs("29C-123.45", 0.8, 3),
        obs("29C-128.45", 0.95, 4),
    ]
    # When merged
    result = merged(frames)
    # Then the majority's plate is taken, in the display form of its best frame, with its support
    assert (result.text, result.key, result.format_valid, result.format_name) == (
        "29C-123.45",
        "29C12345",
        True,
        "VN_CAR",
    )
    assert result.support == 0.75 and result.frames == 4 and result.best_frame_index == 2
    assert not result.per_character_vote


def test_a_valid_read_beats_an_invalid_one_with_similar_support() -> None:
    # Given two valid reads and three invalid ones, all equally confident
    frames = [
        obs("29C-123.45", 0.8, 1),
        obs("29C-123.45", 0.8, 2),
        obs("29C-123.4S", 0.8, 3),
        obs("29C-123.4S", 0.8, 4),
        obs("29C-123.4S", 0.8, 5),
    ]
    # Then the valid plate wins
    result = merged(frames)
    assert result.key == "29C12345" and result.format_valid and result.support == 0.4


def test_an_invalid_read_with_overwhelming_support_is_reported_as_read() -> None:
    # Given five confident frames of a plate no format knows and one weak valid read
    frames = [obs("LAO 1234", 0.9, i) for i in range(5)] + [obs("29C-123.45", 0.3, 6)]
    # Then the invalid read wins, as read, flagged invalid
    result = merged(frames)
    assert (result.text, result.format_valid, result.format_name) == ("LAO 1234", False, None)


def test_per_character_voting_recovers_a_plate_no_frame_read_fully() -> None:
    # Given three frames of 51F-882.70, each wrong in a different character (with low confidence there)
    frames = [
        obs("51F-882.7O", 0.8, 1, chars=(0.9,) * 7 + (0.4,)),
        obs("5IF-882.70", 0.8, 2, chars=(0.9, 0.4) + (0.9,) * 6),
        obs("51F-B82.70", 0.8, 3, chars=(0.9,) * 3 + (0.4,) + (0.9,) * 4),
    ]
    # When merged
    result = merged(frames)
    # Then the character vote gives the valid plate, flagged as voted, with no frame agreeing fully
    assert (result.text, result.key, result.format_valid) == ("51F-882.70", "51F88270", True)
    assert result.per_character_vote and result.support == 0.0 and result.frames == 3
    assert result.char_confidences == (0.9, 0.6, 0.9, 0.6, 0.9, 0.9, 0.9, 0.6)
    assert 0.0 < result.confidence < 0.8


def test_a_character_vote_that_is_not_a_valid_plate_is_not_used() -> None:
    # Given frames whose character vote gives 29C-12O.45 (O in the number: invalid)
    frames = [obs("29C-12O.45", 0.9, 1), obs("29C-12O.46", 0.9, 2), obs("29C-123.47", 0.5, 3)]
    result = merged(frames)
    # Then a frame's own read is returned instead, never the invalid vote
    assert not result.per_character_vote and result.key != "29C12O45"


def test_the_character_vote_keeps_the_layout_of_the_best_frame() -> None:
    # Given three two-row reads of the motorbike plate 67-M2 3789, each wrong in one character
    frames = [
        obs("67-M2 3780", 0.8, 1, chars=(0.9,) * 7 + (0.4,)),
        obs("67-N2 3789", 0.8, 2, chars=(0.9, 0.9, 0.4) + (0.9,) * 5),
        obs("67-M2 3389", 0.8, 3, chars=(0.9,) * 5 + (0.4, 0.9, 0.9)),
    ]
    # When merged, Then the voted key 67M23789 keeps the reads' two-row layout (the bare key would be a car)
    result = merged(frames)
    assert (result.text, result.format_name, result.per_character_vote) == ("67-M2 3789", "VN_MOTORBIKE", True)


def test_empty_input_gives_nothing() -> None:
    assert merge_plate_observations([]) is None
    assert merge_plate_observations([obs(" - ", 0.9, 1)]) is None


def test_a_single_frame_is_its_own_plate() -> None:
    result = merged([obs("云A·88K21", 0.7, 9)])
    assert (result.text, result.confidence, result.support, result.best_frame_index) == ("云A·88K21", 0.7, 1.0, 9)
    assert result.country is Country.CN


def test_best_frame_is_the_most_confident_then_the_sharpest() -> None:
    frames = [
        obs("29C-123.45", 0.9, 1, sharpness=1.0),
        obs("29C-123.45", 0.9, 2, sharpness=5.0),
        obs("29C-123.45", 0.8, 3, sharpness=9.0),
    ]
    assert merged(frames).best_frame_index == 2


def test_confidence_is_the_mean_plus_an_agreement_bonus_capped_at_one() -> None:
    assert merged([obs("29C-123.45", 0.8, i) for i in range(4)]).confidence == pytest.approx(0.8 + AGREEMENT_BONUS)
    assert merged([obs("29C-123.45", 0.99, i) for i in range(4)]).confidence == 1.0


def test_char_confidences_given_per_character_of_the_text_are_aligned_to_the_key() -> None:
    # Given confidences for every character of "29C-123.45", separators included
    text = "29C-123.45"
    chars = tuple(0.5 if ch in "-." else 0.9 for ch in text)
    result = merged([PlateObservation(text, 0.9, chars, 1)])
    assert result.char_confidences == (0.9,) * 8


def test_the_country_restricts_the_formats() -> None:
    result = merged([obs("皖A·YL375", 0.9, 1)], Country.VN)
    assert not result.format_valid and result.text == "皖A·YL375"


@given(
    st.permutations(
        [
            obs("29C-123.45", 0.8, 1),
            obs("29C-123.45", 0.7, 2),
            obs("29C-128.45", 0.9, 3),
            obs("29C-12B.45", 0.6, 4),
            obs("29C-I23.45", 0.85, 5),
        ]
    )
)
def test_the_order_of_the_frames_does_not_matter(frames: list[PlateObservation]) -> None:
    assert merged(frames) == merged(sorted(frames, key=lambda o: o.frame_index))


@given(st.lists(st.floats(0.05, 1.0), min_size=1, max_size=8))
def test_frames_that_all_agree_give_full_support(confidences: list[float]) -> None:
    result = merged([obs("51F-882.70", c, i) for i, c in enumerate(confidences)])
    assert result.key == "51F88270" and result.support == 1.0 and result.format_valid
    assert min(confidences) - 1e-4 <= result.confidence <= 1.0


# --------------------------------------------------------------------------- segmentation

A, B = "29C-123.45", "51F-882.70"


def test_a_gap_of_empty_frames_finishes_the_vehicle() -> None:
    # Given a vehicle seen in frames 0-4
    seg = VehicleSegmenter(gap_frames=5)
    assert all(seg.feed(i, [obs(A, 0.9, i)]) is None for i in range(5))
    # When no plate is seen in frames 5-8, Then nothing is finished yet
    assert all(seg.feed(i, []) is None for i in range(5, 9))
    # When frame 9 is empty too (five empty frames), Then the vehicle is finished with its five reads
    vehicle = seg.feed(9, [])
    assert vehicle is not None and [o.frame_index for o in vehicle] == [0, 1, 2, 3, 4]
    assert seg.flush() is None


def test_frames_not_fed_count_as_empty() -> None:
    seg = VehicleSegmenter(gap_frames=5)
    seg.feed(0, [obs(A, 0.9, 0)])
    seg.feed(1, [obs(A, 0.9, 1)])
    # When the next frame fed is 7 (frames 2-6 unseen) with another plate
    vehicle = seg.feed(7, [obs(B, 0.9, 7)])
    # Then the first vehicle is finished, and the new read starts the next one
    assert vehicle is not None and {o.text for o in vehicle} == {A}
    assert [o.text for o in seg.flush() or []] == [B]


def test_a_short_gap_does_not_split_a_vehicle() -> None:
    seg = VehicleSegmenter(gap_frames=5)
    seg.feed(0, [obs(A, 0.9, 0)])
    assert all(seg.feed(i, []) is None for i in range(1, 5))
    assert seg.feed(5, [obs(A, 0.9, 5)]) is None
    assert len(seg.flush() or []) == 2


def test_a_clearly_different_plate_for_switch_frames_frames_starts_a_new_vehicle() -> None:
    # Given vehicle A in frames 0-4, then B confidently in frames 5-7 with no gap
    seg = VehicleSegmenter(gap_frames=5, switch_frames=3, switch_confidence=0.8)
    for i in range(5):
        assert seg.feed(i, [obs(A, 0.9, i)]) is None
    assert seg.feed(5, [obs(B, 0.9, 5)]) is None
    assert seg.feed(6, [obs(B, 0.9, 6)]) is None
    # When the third frame of B arrives, Then A is finished, without B's reads
    vehicle = seg.feed(7, [obs(B, 0.9, 7)])
    assert vehicle is not None and [o.frame_index for o in vehicle] == [0, 1, 2, 3, 4]
    # And B's three frames are the next vehicle
    assert [o.frame_index for o in seg.flush() or []] == [5, 6, 7]


def test_a_broken_streak_returns_the_held_reads_to_the_current_vehicle() -> None:
    seg = VehicleSegmenter(switch_frames=3)
    for i in range(3):
        seg.feed(i, [obs(A, 0.9, i)])
    seg.feed(3, [obs(B, 0.95, 3)])
    seg.feed(4, [obs(B, 0.95, 4)])
    assert seg.feed(5, [obs(A, 0.9, 5)]) is None  # back to A: B was two misreads
    assert seg.feed(6, [obs(B, 0.95, 6)]) is None
    vehicle = seg.flush()
    assert vehicle is not None and [o.frame_index for o in vehicle] == [0, 1, 2, 3, 4, 5, 6]


def test_reads_of_both_plates_in_one_frame_are_split_between_the_vehicles() -> None:
    seg = VehicleSegmenter(switch_frames=2)
    seg.feed(0, [obs(A, 0.9, 0)])
    seg.feed(1, [obs(A, 0.9, 1), obs(B, 0.9, 1)])
    vehicle = seg.feed(2, [obs(A, 0.6, 2), obs(B, 0.9, 2)])
    assert vehicle is not None and {o.text for o in vehicle} == {A} and len(vehicle) == 3
    assert {o.text for o in seg.flush() or []} == {B}


def test_weak_or_near_identical_reads_do_not_switch() -> None:
    seg = VehicleSegmenter(switch_frames=2)
    seg.feed(0, [obs(A, 0.9, 0)])
    seg.feed(1, [obs(A, 0.9, 1)])
    # Low confidence reads of another plate
    assert seg.feed(2, [obs(B, 0.5, 2)]) is None
    assert seg.feed(3, [obs(B, 0.5, 3)]) is None
    # Confident reads one character away (a misread, by default)
    assert seg.feed(4, [obs("29C-123.46", 0.95, 4)]) is None
    assert seg.feed(5, [obs("29C-123.46", 0.95, 5)]) is None
    assert len(seg.flush() or []) == 6


def test_a_distance_of_one_can_be_made_to_switch() -> None:
    seg = VehicleSegmenter(switch_frames=2, switch_distance=1)
    seg.feed(0, [obs(A, 0.9, 0)])
    seg.feed(1, [obs("29C-123.46", 0.95, 1)])
    assert seg.feed(2, [obs("29C-123.46", 0.95, 2)]) is not None


def test_flush_gives_the_vehicle_in_progress_and_resets() -> None:
    seg = VehicleSegmenter()
    assert seg.flush() is None
    seg.feed(0, [obs(A, 0.9, 0)])
    assert [o.text for o in seg.flush() or []] == [A]
    assert seg.flush() is None
    seg.feed(1, [obs(B, 0.9, 1)])  # the stream may go on after a flush
    assert [o.text for o in seg.flush() or []] == [B]


def test_frames_must_come_in_order_and_settings_be_sane() -> None:
    seg = VehicleSegmenter()
    seg.feed(3, [])
    with pytest.raises(ValueError):
        seg.feed(3, [])
    with pytest.raises(ValueError):
        VehicleSegmenter(gap_frames=0)


def test_a_stream_of_two_trucks_gives_two_plates() -> None:
    # Given two trucks, each read in a few frames with one misread, separated by a gap
    stream: list[tuple[int, list[PlateObservation]]] = []
    for i in range(6):
        stream.append((i, [obs("29C-123.45" if i != 2 else "29C-I23.45", 0.9 if i != 2 else 0.6, i)]))
    stream += [(i, []) for i in range(6, 12)]
    for i in range(12, 16):
        stream.append((i, [obs("14C-246.80" if i != 13 else "14C-246.8O", 0.9, i)]))
    # When the stream is segmented and each vehicle merged
    seg, plates = VehicleSegmenter(gap_frames=5), []
    for frame, reads in stream:
        vehicle = seg.feed(frame, reads)
        if vehicle:
            plates.append(merged(vehicle).text)
    last = seg.flush()
    if last:
        plates.append(merged(last).text)
    # Then there is one valid plate per truck
    assert plates == ["29C-123.45", "14C-246.80"]


def test_edit_distance() -> None:
    assert edit_distance("29C12345", "29C12345") == 0
    assert edit_distance("29C12345", "29C12346") == 1
    assert edit_distance("29C12345", "29C1234") == 1
    assert edit_distance("29C12345", "51F88270") == 8
