"""Merge the plate reads of one vehicle over frames into one detection, and cut a stream into vehicles.

A lane camera sees each vehicle in several frames; each frame's read may be wrong in a different
place. :func:`merge_plate_observations` votes over the frames of one vehicle; :class:`VehicleSegmenter`
decides which frames belong to one vehicle. Both are pure: frames and reads in, decisions out.

Voting, in order:

1. Reads are grouped by :func:`~smartgate.domain.plates.plate_key`. A group scores the sum of its
   confidences, times :data:`VALID_WEIGHT` when the key is a valid plate format — so a valid read is
   never outvoted by an invalid one unless the invalid one has more than twice the support.
2. Reads of the same length are also voted character by character, weighted by each character's
   confidence. The result is taken only if it is itself a valid format and it scores higher than the
   best group (its score counts each read by the share of characters it agrees on). This recovers a
   plate that no single frame read fully; it never produces an invalid "fix".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from smartgate.domain.plates import PlateValidation, plate_key, validate_plate
from smartgate.schemas import Country

VALID_WEIGHT = 2.0
"""Score multiplier of a group whose key is a valid plate format."""

AGREEMENT_BONUS = 0.05
"""Added to the merged confidence when every frame agrees (scaled by the share that does)."""


@dataclass(frozen=True)
class PlateObservation:
    """One frame's read of a plate. ``char_confidences`` go with the characters of the key (or of the
    text, separators included); ``sharpness`` is the crop's quality, higher is better."""

    text: str
    confidence: float
    char_confidences: tuple[float, ...]
    frame_index: int
    sharpness: float = 0.0


@dataclass(frozen=True)
class MergedPlate:
    """The plate of one vehicle after voting over its frames.

    ``text`` is the canonical display form when ``format_valid``, else the best frame's text as read.
    ``support`` is the share of frames whose key equals ``key`` (0 when the key comes from
    per-character voting, ``per_character_vote``). ``best_frame_index`` points at the frame whose
    crop to keep.
    """

    text: str
    key: str
    country: Country | None
    format_name: str | None
    format_valid: bool
    confidence: float
    char_confidences: tuple[float, ...]
    support: float
    frames: int
    best_frame_index: int
    per_character_vote: bool = False


@dataclass(frozen=True)
class _Read:
    obs: PlateObservation
    key: str
    chars: tuple[float, ...]


def _aligned(obs: PlateObservation, key: str) -> tuple[float, ...]:
    """Character confidences per key character (dropping separators of the text when needed)."""
    cc = obs.char_confidences
    if len(cc) == len(key):
        return tuple(cc)
    if len(cc) == len(obs.text):
        kept = tuple(c for ch, c in zip(obs.text, cc, strict=True) if ch.strip() and ch not in ".-·_")
        if len(kept) == len(key):
            return kept
    return (obs.confidence,) * len(key)


def _best(reads: Sequence[_Read]) -> _Read:
    """Highest confidence, then sharpest crop, then earliest frame."""
    return min(reads, key=lambda r: (-r.obs.confidence, -r.obs.sharpness, r.obs.frame_index, r.obs.text))


def _rewrite(text: str, key: str) -> str:
    """The text with its key characters replaced by ``key`` (same length), keeping its separators."""
    out, i = [], 0
    for ch in text:
        if ch.strip() and ch not in ".-·_":
            out.append(key[i])
            i += 1
        else:
            out.append(ch)
    return "".join(out)


def merge_plate_observations(obs: Sequence[PlateObservation], country: Country | None = None) -> MergedPlate | None:
    """One plate for one vehicle from its frames' reads (see the module doc for the voting); None if
    there is no read with any character."""
    reads: list[_Read] = []
    for o in obs:
        try:
            key = plate_key(o.text)
        except ValueError:
            continue
        reads.append(_Read(o, key, _aligned(o, key)))
    if not reads:
        return None
    total = len(reads)
    groups: dict[str, list[_Read]] = defaultdict(list)
    for r in reads:
        groups[r.key].append(r)
    checks = {key: validate_plate(_best(members).obs.text, country) for key, members in groups.items()}

    def group_rank(key: str) -> tuple[float, bool, int, float, str]:
        members = groups[key]
        score = math.fsum(r.obs.confidence for r in members) * (VALID_WEIGHT if checks[key].valid else 1.0)
        return (score, checks[key].valid, len(members), max(r.obs.confidence for r in members), key)

    winner = max(groups, key=group_rank)
    voted = _character_vote(reads, country)
    if voted is not None and voted[1].key not in groups and voted[0] > group_rank(winner)[0]:
        return voted[1]
    return _from_group(groups[winner], checks[winner], total)


def _from_group(members: list[_Read], check: PlateValidation, total: int) -> MergedPlate:
    best = _best(members)
    n = len(members)
    mean = math.fsum(r.obs.confidence for r in members) / n
    agreement = AGREEMENT_BONUS * (n - 1) / (total - 1) if total > 1 else 0.0
    chars = tuple(math.fsum(col) / n for col in zip(*(r.chars for r in members), strict=True))
    return MergedPlate(
        text=check.display if check.valid else best.obs.text.strip(),
        key=best.key,
        country=check.country,
        format_name=check.format_name,
        format_valid=check.valid,
        confidence=round(min(1.0, mean + agreement), 4),
        char_confidences=tuple(round(c, 4) for c in chars),
        support=round(n / total, 4),
        frames=total,
        best_frame_index=best.obs.frame_index,
    )


def _character_vote(reads: list[_Read], country: Country | None) -> tuple[float, MergedPlate] | None:
    """The per-character vote over the reads of the best-supported key length, if it gives a valid
    plate: its score (comparable with a group's) and the merged plate."""
    by_length: dict[int, list[_Read]] = defaultdict(list)
    for r in reads:
        by_length[len(r.key)].append(r)
    same = max(by_length.values(), key=lambda rs: (math.fsum(r.obs.confidence for r in rs), len(rs[0].key)))
    if len(same) < 2 or len({r.key for r in same}) < 2:
        return None
    length = len(same[0].key)
    key_chars, char_conf = [], []
    for i in range(length):
        votes: dict[str, list[float]] = defaultdict(list)
        for r in same:
            votes[r.key[i]].append(r.chars[i])
        weights = {c: math.fsum(v) for c, v in votes.items()}
        ch = max(weights, key=lambda c: (weights[c], c))
        key_chars.append(ch)
        char_conf.append(weights[ch] / len(same))
    key = "".join(key_chars)
    agree = {id(r): sum(a == b for a, b in zip(r.key, key, strict=True)) for r in same}
    best = min(same, key=lambda r: (-agree[id(r)], -r.obs.confidence, -r.obs.sharpness, r.obs.frame_index, r.obs.text))
    check = validate_plate(_rewrite(best.obs.text, key), country)
    if not check.valid:
        return None
    score = math.fsum(r.obs.confidence * agree[id(r)] / length for r in same) * VALID_WEIGHT
    merged = MergedPlate(
        text=check.display,
        key=key,
        country=check.country,
        format_name=check.format_name,
        format_valid=True,
        confidence=round(min(1.0, math.fsum(char_conf) / length), 4),
        char_confidences=tuple(round(c, 4) for c in char_conf),
        support=0.0,
        frames=len(reads),
        best_frame_index=best.obs.frame_index,
        per_character_vote=True,
    )
    return score, merged


# --------------------------------------------------------------------------- segmentation


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance between two keys."""
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def _key_or_none(text: str) -> str | None:
    try:
        return plate_key(text)
    except ValueError:
        return None


class VehicleSegmenter:
    """Cuts a stream of per-frame plate reads into vehicles, one frame at a time.

    Feed every frame, in order, with the reads in it (none when no plate was seen). :meth:`feed`
    returns the observations of a vehicle when one is finished, else None; :meth:`flush` returns the
    last one at the end of the stream. A vehicle is finished when:

    - **gap**: no plate was seen for ``gap_frames`` frames (frames never fed count as empty), or
    - **switch**: for ``switch_frames`` consecutive frames a read with confidence at least
      ``switch_confidence`` has a key at least ``switch_distance`` edits away from the current
      vehicle's plate (what :func:`merge_plate_observations` makes of its reads so far). Such
      reads (strong or weak) are held apart while the streak lasts; they start the next vehicle
      when it completes, and go back to the current one when it breaks (they were misreads). A
      frame without such a strong read, empty ones included, breaks the streak.
      ``switch_distance`` of 2 keeps a one-character misread from splitting a vehicle, at the
      price of merging back-to-back vehicles whose plates differ in one character when no gap
      separates them.
    """

    def __init__(
        self, gap_frames: int = 5, switch_frames: int = 3, switch_confidence: float = 0.8, switch_distance: int = 2
    ) -> None:
        if gap_frames < 1 or switch_frames < 1 or switch_distance < 1:
            raise ValueError("gap_frames, switch_frames and switch_distance must be at least 1")
        self.gap_frames = gap_frames
        self.switch_frames = switch_frames
        self.switch_confidence = switch_confidence
        self.switch_distance = switch_distance
        self._current: list[PlateObservation] = []
        self._pending: list[PlateObservation] = []
        self._streak = 0
        self._last_seen: int | None = None
        self._last_frame: int | None = None

    def _current_key(self) -> str | None:
        plate = merge_plate_observations(self._current)
        return plate.key if plate is not None else None

    def _is_other(self, o: PlateObservation, current: str | None) -> bool:
        key = _key_or_none(o.text)
        return current is not None and key is not None and edit_distance(key, current) >= self.switch_distance

    def _finish(self) -> list[PlateObservation] | None:
        vehicle = sorted(self._current + self._pending, key=lambda o: o.frame_index)
        self._current, self._pending, self._streak = [], [], 0
        return vehicle or None

    def feed(self, frame_index: int, observations: Sequence[PlateObservation] = ()) -> list[PlateObservation] | None:
        """Add one frame; the observations of the vehicle this frame finished, if any."""
        if self._last_frame is not None and frame_index <= self._last_frame:
            raise ValueError(f"frame {frame_index} after frame {self._last_frame}: frames must be fed in order")
        self._last_frame = frame_index
        finished: list[PlateObservation] | None = None
        if self._current and self._last_seen is not None:
            empty = frame_index - self._last_seen - 1 + (0 if observations else 1)
            if empty >= self.gap_frames:
                finished = self._finish()
        if not observations:
            self._streak = 0
            self._current.extend(self._pending)
            self._pending = []
            return finished
        self._last_seen = frame_index
        if not self._current:
            self._current = list(observations)
            return finished
        current = self._current_key()
        other = [self._is_other(o, current) for o in observations]
        if any(
            o.confidence >= self.switch_confidence for o, is_other in zip(observations, other, strict=True) if is_other
        ):
            self._streak += 1
            self._pending.extend(o for o, is_other in zip(observations, other, strict=True) if is_other)
            self._current.extend(o for o, is_other in zip(observations, other, strict=True) if not is_other)
            if self._streak >= self.switch_frames:
                pending = self._pending
                self._pending = []
                finished = sorted(self._current, key=lambda o: o.frame_index)
                self._current, self._streak = pending, 0
            return finished
        self._streak = 0
        self._current.extend(self._pending)
        self._current.extend(observations)
        self._pending = []
        return finished

    def flush(self) -> list[PlateObservation] | None:
        """The vehicle in progress at the end of the stream (None if there is none); resets the segmenter."""
        vehicle = self._finish()
        self._last_seen = None
        return vehicle
