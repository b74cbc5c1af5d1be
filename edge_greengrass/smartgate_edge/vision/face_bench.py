"""`make bench-face DATA=<folder>`: the lane's 1:1 face verification on labelled pairs of photos.

The folder holds the photos and a ``labels.csv`` of pairs, ``img_a,img_b,same`` (paths relative to the
folder; ``same`` 1 for the same person, 0 for two people). Each photo goes once through the lane's whole
path (:class:`~smartgate_edge.vision.faces.FaceVerifier`: detection, the quality gate, the embedding),
timed warm on this machine; a pair is accepted when both photos passed the gate and their descriptors'
distance is at most the threshold (a photo the gate refused accepts nothing: at the lane that truck goes
to an officer). Over the pairs:

- ``far``: impostor pairs accepted / impostor pairs; ``frr``: genuine pairs refused / genuine pairs;
- ``acc``: pairs decided right / pairs; ``auc``: the chance a genuine pair is closer than an impostor pair
  (a refused photo counts as infinitely far);
- ``p50_ms``: one photo through detection, gate and embedding (what one lane frame costs when it is the
  one embedded; the frames before it pay the detection and the gate only, printed apart).

Also printed (not on the last line): a cab stream, measured — each of the first photos shown as a vehicle
of ``STREAM_FRAMES`` frames (shifted a little each frame) through the lane's own :class:`FaceTrack`, one
embedding per vehicle: the per-frame cost a lane computer pays.

Before the last line: the photos the gate refused and why, the stage timings, and FAR / FRR over a sweep
of thresholds (to show where the chosen one sits, not to pick it on this set). The last line is read by
tools: ``acc=… far=… frr=… auc=… p50_ms=… n=…``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from smartgate.stats import percentile
from smartgate_edge.vision.faces import THRESHOLD, FaceVerifier, distance

SWEEP = (0.40, 0.45, 0.50, 0.55, 0.60, 0.65)
STREAM_FRAMES = 8
STREAM_VEHICLES = 20


@dataclass(frozen=True)
class Pair:
    a: str
    b: str
    same: bool
    distance: float  # inf when a photo was refused


@dataclass
class FaceBench:
    pairs: list[Pair]
    threshold: float
    photo_ms: list[float]
    detect_ms: list[float]
    embed_ms: list[float]
    refused: dict[str, str]  # photo -> reason

    def rates(self, threshold: float | None = None) -> tuple[float, float, float]:
        """(acc, far, frr) at ``threshold`` (the bench's by default)."""
        t = self.threshold if threshold is None else threshold
        genuine = [p for p in self.pairs if p.same]
        impostor = [p for p in self.pairs if not p.same]
        false_accept = sum(p.distance <= t for p in impostor)
        false_reject = sum(p.distance > t for p in genuine)
        acc = 1 - (false_accept + false_reject) / max(1, len(self.pairs))
        return acc, false_accept / max(1, len(impostor)), false_reject / max(1, len(genuine))

    @property
    def auc(self) -> float:
        genuine = [p.distance for p in self.pairs if p.same]
        impostor = [p.distance for p in self.pairs if not p.same]
        if not genuine or not impostor:
            return float("nan")
        wins = sum((g < i) + 0.5 * (g == i) for g in genuine for i in impostor)
        return wins / (len(genuine) * len(impostor))

    def line(self) -> str:
        acc, far, frr = self.rates()
        return (
            f"acc={acc:.3f} far={far:.3f} frr={frr:.3f} auc={self.auc:.3f} "
            f"p50_ms={percentile(self.photo_ms, 50):.0f} n={len(self.pairs)}"
        )


def read_pairs(folder: Path) -> list[tuple[str, str, bool]]:
    labels = folder / "labels.csv"
    if not labels.is_file():
        raise FileNotFoundError(f"{labels}: no labels.csv (columns img_a,img_b,same)")
    with labels.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"img_a", "img_b", "same"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{labels}: columns {', '.join(sorted(missing))} missing (need img_a,img_b,same)")
        out = []
        for n, row in enumerate(reader, start=2):
            same = row["same"].strip()
            if same not in ("0", "1"):
                raise ValueError(f"{labels}:{n}: same must be 0 or 1 (got {same!r})")
            out.append((row["img_a"].strip(), row["img_b"].strip(), same == "1"))
    if not out:
        raise ValueError(f"{labels}: no pairs")
    return out


def run(folder: Path, verifier: FaceVerifier | None = None, say=print) -> FaceBench:  # type: ignore[no-untyped-def]
    pairs = read_pairs(folder)
    v = verifier or FaceVerifier()
    photos = sorted({p for a, b, _ in pairs for p in (a, b)})
    embeddings: dict[str, np.ndarray | None] = {}
    photo_ms: list[float] = []
    detect_ms: list[float] = []
    embed_ms: list[float] = []
    refused: dict[str, str] = {}
    warm = _read(folder, photos[0])
    v.embedding(warm)  # untimed: the first run pays the models' lazy set-up
    for name in photos:
        image = _read(folder, name)
        started = time.perf_counter()
        quality, face = v.assess(image)
        detected = time.perf_counter()
        embedding = v.embedder.embed(image, face) if face is not None else None
        done = time.perf_counter()
        photo_ms.append((done - started) * 1000)
        detect_ms.append((detected - started) * 1000)
        if face is not None:
            embed_ms.append((done - detected) * 1000)
        else:
            refused[name] = quality.reason.value if quality.reason else "?"
        embeddings[name] = embedding
    scored = []
    for a, b, same in pairs:
        ea, eb = embeddings[a], embeddings[b]
        gap = distance(ea, eb) if ea is not None and eb is not None else float("inf")
        scored.append(Pair(a, b, same, gap))
    return FaceBench(scored, v.threshold, photo_ms, detect_ms, embed_ms, refused)


def stream_ms(folder: Path, verifier: FaceVerifier, vehicles: int = STREAM_VEHICLES) -> list[float]:
    """Per-frame milliseconds of a cab stream: each vehicle's frames offered, then its one comparison (the
    embedding) timed with the frame it follows."""
    photos = sorted({p for a, b, _ in read_pairs(folder) for p in (a, b)})[:vehicles]
    frames_ms: list[float] = []
    for name in photos:
        image = _read(folder, name)
        track = verifier.track()
        for n in range(STREAM_FRAMES):
            frame = np.roll(image, (n % 3) - 1, axis=1)  # the driver moves a little
            started = time.perf_counter()
            track.offer(frame)
            if n == STREAM_FRAMES - 1:
                track.verify(np.zeros(128, np.float32))  # the comparison's cost, whatever the reference
            frames_ms.append((time.perf_counter() - started) * 1000)
        track.forget()
    return frames_ms


def _read(folder: Path, name: str) -> np.ndarray:
    path = folder / name
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"{path}: not an image OpenCV can read")
    return image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", required=True, type=Path, help="folder with labels.csv (img_a,img_b,same)")
    parser.add_argument("--threshold", type=float, default=THRESHOLD, help=f"distance threshold ({THRESHOLD})")
    args = parser.parse_args(argv)
    try:
        bench = run(args.data, FaceVerifier(threshold=args.threshold))
    except (FileNotFoundError, ValueError) as err:
        print(f"bench-face: {err}", file=sys.stderr)
        return 2
    reasons = Counter(bench.refused.values())
    photos = len(bench.photo_ms)
    print(f"{photos} photos, {len(bench.pairs)} pairs; threshold {bench.threshold} (descriptor distance)")
    print(
        f"refused by the quality gate: {len(bench.refused)} "
        + (f"({', '.join(f'{k} {n}' for k, n in reasons.most_common())})" if reasons else "")
    )
    for name, reason in sorted(bench.refused.items())[:10]:
        print(f"  {name}: {reason}")
    print(
        f"per photo p50 / p95 ms: detection and gate {percentile(bench.detect_ms, 50):.1f} / "
        f"{percentile(bench.detect_ms, 95):.1f}, embedding {percentile(bench.embed_ms, 50):.1f} / "
        f"{percentile(bench.embed_ms, 95):.1f}, all {percentile(bench.photo_ms, 50):.1f} / "
        f"{percentile(bench.photo_ms, 95):.1f}"
    )
    lane = stream_ms(args.data, FaceVerifier(threshold=args.threshold))
    print(
        f"cab stream ({STREAM_FRAMES} frames a vehicle, one embedding each, {len(lane)} frames): per lane frame "
        f"p50 {percentile(lane, 50):.1f} ms, p95 {percentile(lane, 95):.1f} ms, mean {sum(lane) / len(lane):.1f} ms"
    )
    genuine = [p.distance for p in bench.pairs if p.same and p.distance != float("inf")]
    impostor = [p.distance for p in bench.pairs if not p.same and p.distance != float("inf")]
    if genuine and impostor:
        print(f"distances: genuine pairs up to {max(genuine):.3f}, impostor pairs from {min(impostor):.3f}")
    for t in SWEEP:
        acc, far, frr = bench.rates(t)
        mark = "  <- configured" if abs(t - bench.threshold) < 1e-9 else ""
        print(f"  threshold {t:.2f}: acc {acc:.3f} far {far:.3f} frr {frr:.3f}{mark}")
    print(bench.line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
