"""`smartgate corrections export`: the plate reads officers corrected, as a folder `make bench-vision DATA=`
reads (images + labels.csv), so the readers can be measured and retrained on the gate's own trucks.

Each example is the read's crop (kept under ``labelled/plates/`` in the evidence bucket when the officer
corrected it) and its label. Corrections whose crop is gone (expired, never uploaded) are counted and left
out of the folder: bench-vision scores images. Plates are personal data: the folder is for the people
who measure the readers, and it is theirs to delete when done.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from smartgate.adapters.officers import S3Evidence

COLUMNS = ["file", "plate", "country", "rows", "read", "passage_id", "gate_id", "lane_id", "officer", "reason", "at"]


def export(evidence: S3Evidence, out: Path, gate_id: str | None = None, say: Callable[[str], None] = print) -> int:
    """Write the examples to ``out`` (created; an existing labels.csv is replaced); returns how many."""
    out.mkdir(parents=True, exist_ok=True)
    corrections = evidence.corrections(gate_id)
    rows = []
    missing = 0
    for done, c in enumerate(corrections, 1):
        if not c.crop_key:
            missing += 1
            continue
        name = f"{c.gate_id}_{c.passage_id}.jpg"
        (out / name).write_bytes(evidence.read(c.crop_key))
        rows.append(
            {
                "file": name,
                "plate": c.plate,
                "country": c.country,
                "rows": "2" if " " in c.plate.strip() and c.country == "VN" and "." not in c.plate else "1",
                "read": c.read_text or "",
                "passage_id": c.passage_id,
                "gate_id": c.gate_id,
                "lane_id": c.lane_id,
                "officer": c.officer,
                "reason": c.reason,
                "at": c.at.isoformat(),
            }
        )
        if done % 50 == 0:
            say(f"  {done}/{len(corrections)} examples")
    with open(out / "labels.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    if missing:
        say(f"{missing} correction(s) without a crop (expired or never uploaded) left out")
    say(f"{len(rows)} labelled example(s) in {out} (make bench-vision DATA={out})")
    return len(rows)
