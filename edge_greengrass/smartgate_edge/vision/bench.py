"""`make bench-vision DATA=<folder>`: accuracy and latency of the plate reader on labelled photos.

The folder holds images and a labels.csv with at least the columns ``file,plate,country,rows``
(one row per plate; a photo with several plates has several rows). For each labelled plate the
closest reading of its photo is scored: *exact* when the whole plate is right after normalisation
(upper case; spaces, ``.``, ``-``, ``·`` dropped), *char* = 1 - edit distance / length. Latency is
the reader's time per full image on this machine, warm (models loaded, one untimed pass first).
The last line is read by tools: ``exact=0.xx char=0.xx p50_ms=… p95_ms=… n=…``.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2

from smartgate.domain.merge import edit_distance
from smartgate.domain.plates import plate_key
from smartgate.stats import percentile
from smartgate_edge.vision.types import PlateReader


@dataclass(frozen=True)
class Scored:
    file: str
    truth: str
    country: str
    rows: str
    read: str
    exact: bool
    char: float


def char_score(read: str, truth: str) -> float:
    return max(0.0, 1.0 - edit_distance(read, truth) / max(len(truth), 1))


def load_labels(folder: Path) -> dict[str, list[dict[str, str]]]:
    path = folder / "labels.csv"
    if not path.is_file():
        raise SystemExit(f"no labels.csv in {folder}")
    by_file: dict[str, list[dict[str, str]]] = defaultdict(list)
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "plate", "country"} - set(reader.fieldnames or [])
        if missing:
            raise SystemExit(f"{path} lacks the column(s) {', '.join(sorted(missing))}")
        for row in reader:
            by_file[row["file"]].append(row)
    return by_file


def run(reader: PlateReader, folder: Path, verbose: bool = False) -> tuple[list[Scored], list[float]]:
    labels = load_labels(folder)
    files = sorted(labels)
    first = cv2.imread(str(folder / files[0]))
    if first is not None:
        reader.read(first)  # warm
    scored: list[Scored] = []
    latencies: list[float] = []
    for done, name in enumerate(files, 1):
        image = cv2.imread(str(folder / name))
        if image is None:
            print(f"warning: cannot read {name}; its plates count as misses", file=sys.stderr)
            reads: list[str] = []
        else:
            start = time.perf_counter()
            readings = reader.read(image)
            latencies.append((time.perf_counter() - start) * 1000)
            reads = [plate_key(r.text) for r in readings]
        for row in labels[name]:
            truth = plate_key(row["plate"])
            best = max(reads, key=lambda r: (r == truth, char_score(r, truth)), default="")
            scored.append(
                Scored(name, truth, row["country"], row.get("rows", ""), best, best == truth, char_score(best, truth))
            )
            if verbose:
                mark = "ok " if best == truth else "BAD"
                print(f"{mark} {name:28} truth={truth:12} read={best:12} all={reads}", file=sys.stderr)
        if done % 10 == 0:
            print(f"{done}/{len(files)} images", file=sys.stderr)
    return scored, latencies


def table(scored: list[Scored]) -> list[str]:
    groups: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        groups[s.country].append(s)
        groups[f"{s.country} {s.rows}-row"].append(s)
    lines = [f"{'group':12} {'n':>4} {'exact':>6} {'char':>6}"]
    for name in sorted(groups):
        g = groups[name]
        lines.append(
            f"{name:12} {len(g):4d} {sum(s.exact for s in g) / len(g):6.2f} {statistics.fmean(s.char for s in g):6.2f}"
        )
    return lines


ABLATIONS: dict[str, dict[str, Any]] = {
    "crop-first": {"crop_max_side": 0},
    "second-pass": {"second_pass": False},
    "weak-views": {"weak_views": False},
    "n-best": {"max_log_drop": 0.0},
    "text-regions": {"text_regions": False},
}
"""Steps of the reader that ``--without`` can switch off."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with images and labels.csv")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="one line per plate on stderr")
    parser.add_argument(
        "--without",
        action="append",
        default=[],
        choices=sorted(ABLATIONS),
        help="switch one step of the reader off, to measure what it buys (repeatable)",
    )
    args = parser.parse_args(argv)
    from smartgate_edge.vision.reader import LaneReader, ReaderSettings

    switched_off: dict[str, Any] = {k: v for step in args.without for k, v in ABLATIONS[step].items()}
    settings = ReaderSettings(**switched_off)
    reader = LaneReader(threads=args.threads, settings=settings)
    scored, latencies = run(reader, args.data, args.verbose)
    for line in table(scored):
        print(line)
    exact = sum(s.exact for s in scored) / len(scored)
    char = statistics.fmean(s.char for s in scored)
    print(
        f"exact={exact:.2f} char={char:.2f} p50_ms={percentile(latencies, 50):.1f} "
        f"p95_ms={percentile(latencies, 95):.1f} n={len(scored)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
