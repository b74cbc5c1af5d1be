"""The Greengrass component artifacts carry the shared package, so main.py runs from the unpacked zip."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

from smartgate_infra.components import CLOUD_ONLY, build, components


def test_every_component_zip_runs_from_where_greengrass_unpacks_it(tmp_path: Path) -> None:
    found = components()
    assert {c.name for c in found} >= {"LaneVision", "LaneSimulator"}
    for component in found:
        target = build(component, tmp_path / "build")
        recipe = yaml.safe_load((tmp_path / "build" / "recipes" / f"com.smartgate.{component.name}.yaml").read_text())
        assert recipe["Manifests"][0]["Artifacts"][0]["URI"].endswith(f"/{component.name}.zip")
        unpacked = tmp_path / "unpacked" / component.name
        with zipfile.ZipFile(target) as archive:
            names = archive.namelist()
            archive.extractall(unpacked)
        assert f"{component.name}/main.py" in names
        assert f"{component.name}/smartgate/schemas/__init__.py" in names
        assert f"{component.name}/smartgate_edge/transport.py" in names
        cloud_only = [
            n for n in names if n.startswith(f"{component.name}/smartgate/") and n.split("/")[2] in CLOUD_ONLY
        ]
        assert not cloud_only, cloud_only  # a lane runs no DynamoDB adapter, no API, no Lambda wiring
        assert not [n for n in names if "__pycache__" in n or n.endswith("recipe.yaml")]
        # Python finds `smartgate` beside main.py, not in this checkout: run with the project off the path
        main = unpacked / component.name / "main.py"
        probe = (
            "import runpy, sys; sys.argv = ['main.py', '--help']; "
            f"sys.path[:] = [p for p in sys.path if 'layers/core' not in p and 'infra' not in p]; "
            f"sys.path.insert(0, {str(main.parent)!r}); runpy.run_path({str(main)!r}, run_name='__main__')"
        )
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env)
        assert result.returncode == 0, result.stderr
        assert "usage" in result.stdout.lower()
        located = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path.insert(0, {str(main.parent)!r}); "
                "sys.path[:] = [p for p in sys.path if 'layers/core' not in p]; "
                "import smartgate, smartgate_edge; print(smartgate.__file__, smartgate_edge.__file__)",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert located.stdout.count(str(unpacked)) == 2, located.stdout + located.stderr
