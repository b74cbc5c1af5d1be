"""Write the JSON Schemas of the contracts into ``schemas/json/`` (``make schemas``).

``python -m smartgate.schemas.export`` writes one ``<SchemaName>.json`` per versioned model
(``PlateRead.v1.json`` ...) plus ``Detection.v1.json`` for the union a lane publishes on
``.../detections``, and removes any other ``*.json`` left in the folder. The files are committed:
they are the contract the partner gate and the mobile app validate against.

``python -m smartgate.schemas.export --check`` writes nothing; it exits 1 and lists the files that
are stale, missing or extra, so CI and the unit tests catch a model changed without regenerating.

The output is deterministic: keys sorted at every level, ``indent=2``, UTF-8 (``ensure_ascii=False``)
and a trailing newline, so a regeneration without a model change gives no diff.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from smartgate.schemas import DETECTION_ADAPTER, VERSIONED_MODELS, schema_name

JSON_DIR = Path(__file__).resolve().parent / "json"
BASE_URI = "https://smartgate.example/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
DETECTION_NAME = "Detection.v1"


def _document(name: str, schema: dict[str, Any]) -> str:
    doc = {"$schema": DIALECT, "$id": f"{BASE_URI}{name}.json", **schema}
    doc.setdefault("title", name.split(".")[0])
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render() -> dict[str, str]:
    """File name -> file text, for every schema the ``json/`` folder must hold."""
    files = {
        f"{schema_name(model)}.json": _document(
            schema_name(model), model.model_json_schema(by_alias=True, mode="validation")
        )
        for model in VERSIONED_MODELS
    }
    files[f"{DETECTION_NAME}.json"] = _document(
        DETECTION_NAME, DETECTION_ADAPTER.json_schema(by_alias=True, mode="validation")
    )
    return dict(sorted(files.items()))


def compare(expected: dict[str, str], folder: Path = JSON_DIR) -> tuple[list[str], list[str], list[str]]:
    """(stale, missing, extra) file names of ``folder`` against ``expected``."""
    present = {path.name for path in folder.glob("*.json")} if folder.is_dir() else set()
    stale = sorted(
        name for name in expected.keys() & present if (folder / name).read_text(encoding="utf-8") != expected[name]
    )
    missing = sorted(expected.keys() - present)
    extra = sorted(present - expected.keys())
    return stale, missing, extra


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m smartgate.schemas.export", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file is stale, missing or extra"
    )
    parser.add_argument("--dir", type=Path, default=JSON_DIR, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    folder: Path = args.dir
    expected = render()
    stale, missing, extra = compare(expected, folder)
    if args.check:
        for label, names in (("stale", stale), ("missing", missing), ("extra", extra)):
            for name in names:
                print(f"{label}: {folder / name}", file=sys.stderr)
        if stale or missing or extra:
            print("JSON Schemas are out of date: run `make schemas`", file=sys.stderr)
            return 1
        print(f"{len(expected)} JSON Schemas up to date in {folder}")
        return 0
    folder.mkdir(parents=True, exist_ok=True)
    for name in stale + missing:
        (folder / name).write_text(expected[name], encoding="utf-8", newline="\n")
        print(f"wrote {folder / name}")
    for name in extra:
        (folder / name).unlink()
        print(f"removed {folder / name}")
    if not (stale or missing or extra):
        print(f"{len(expected)} JSON Schemas already up to date in {folder}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
