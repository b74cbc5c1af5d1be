"""Build the Greengrass component artifacts: each component's code with the shared package beside it.

A component zip holds ``<Name>/main.py``, ``<Name>/smartgate_edge/`` (the edge package beside the
components) and ``<Name>/smartgate/`` — only the part of layers/core/smartgate that lanes and cloud share
(domain, schemas, topics, data, config): the cloud's adapters, API plumbing and wiring stay out. So
``python3 {artifacts:decompressedPath}/<Name>/main.py`` imports the same code the tests run — the script's
folder is on Python's path. The layout is what `gdk component build` (zip build system)
produces; `make components` writes it to greengrass-build/ without needing gdk.

    python -m smartgate_infra.components [--out greengrass-build]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import zipfile
from pathlib import Path

from smartgate_infra.stack import ROOT

COMPONENTS = ROOT / "edge_greengrass"
CORE = ROOT / "layers" / "core" / "smartgate"
EDGE = COMPONENTS / "smartgate_edge"
SKIP = {"__pycache__", "recipe.yaml", "gdk-config.json", "greengrass-build", "tests"}
CLOUD_ONLY = {"adapters", "api", "wiring.py", "observability.py"}
"""Parts of the shared package only the cloud runs (boto3, pynamodb, powertools): not in a lane's zip."""


def components() -> list[Path]:
    return sorted(p for p in COMPONENTS.iterdir() if (p / "recipe.yaml").is_file())  # not smartgate_edge/


def _add_tree(archive: zipfile.ZipFile, source: Path, prefix: str, skip: set[str] = SKIP) -> None:
    for path in sorted(source.rglob("*")):
        if path.is_file() and not (set(path.relative_to(source).parts) & skip) and path.suffix != ".pyc":
            archive.write(path, f"{prefix}/{path.relative_to(source).as_posix()}")


def build(component: Path, out: Path) -> Path:
    """greengrass-build/artifacts/<ComponentName>/NEXT_PATCH/<Folder>.zip and the recipe beside it."""
    config = json.loads((component / "gdk-config.json").read_text())
    [(name, settings)] = config["component"].items()
    version = settings.get("version", "NEXT_PATCH")
    artifacts = out / "artifacts" / name / version
    artifacts.mkdir(parents=True, exist_ok=True)
    target = artifacts / f"{component.name}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        _add_tree(archive, component, component.name)
        _add_tree(archive, EDGE, f"{component.name}/smartgate_edge")
        _add_tree(archive, CORE, f"{component.name}/smartgate", SKIP | CLOUD_ONLY)
    (out / "recipes").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(component / "recipe.yaml", out / "recipes" / f"{name}.yaml")
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "greengrass-build")
    args = parser.parse_args(argv)
    for component in components():
        print(build(component, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
