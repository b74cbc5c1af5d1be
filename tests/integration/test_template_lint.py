"""template.yaml passes `sam validate --lint` (offline; SAM CLI in its own tool environment)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAM = ROOT / ".tools" / "sam" / "bin" / "sam"


def test_sam_validate_lint() -> None:
    if not SAM.exists():
        pytest.fail(f"SAM CLI missing at {SAM}; `make test` installs it (infra/bootstrap.sh sam)")
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [str(SAM), "validate", "--lint", "--region", "us-east-1", "-t", "template.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "is a valid SAM Template" in result.stdout + result.stderr


def test_sam_lint_catches_a_broken_template(tmp_path: Path) -> None:
    """The check above can fail: a template with a wrong property does not pass."""
    if not SAM.exists():
        pytest.fail(f"SAM CLI missing at {SAM}")
    broken = (ROOT / "template.yaml").read_text().replace("BillingMode: PAY_PER_REQUEST", "BillingMode: FREE", 1)
    (tmp_path / "template.yaml").write_text(broken)
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    result = subprocess.run(
        [str(SAM), "validate", "--lint", "--region", "us-east-1", "-t", "template.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode != 0
