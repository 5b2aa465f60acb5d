"""The live workflow names each (region, SKU, configuration) cell's run: a run id that
--run-id accepts (at most 40 characters), distinct per cell, and passed to the suite."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from pytest_appservice_fs.config import RUN_ID_PATTERN

WORKFLOW = Path(__file__).resolve().parent.parent / ".github" / "workflows" / "live-azure.yml"
CONFIGURATIONS = ("code-on", "code-off", "container-on", "container-off")


def _script(step: str) -> str:
    text = WORKFLOW.read_text(encoding="utf-8")
    found = re.search(
        rf"- name: {re.escape(step)}\n(?:.*\n)*?\s+run: \|\n((?:\s{{10}}.*\n|\n)+)", text
    )
    assert found, step
    return "\n".join(line[10:] for line in found.group(1).splitlines())


def _run_id(
    tmp_path: Path, region: str, sku: str, configuration: str
) -> subprocess.CompletedProcess[str]:
    output = tmp_path / "output"
    output.write_text("")
    env = {
        "GITHUB_RUN_ID": "12345678901",
        "GITHUB_RUN_ATTEMPT": "2",
        "REGION": region,
        "SKU": sku,
        "CONFIGURATION": configuration,
        "GITHUB_OUTPUT": str(output),
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["/bin/bash", "-e", "-c", _script("Name the run")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("region", ["koreacentral", "australiasoutheast", "southafricanorth2x"])
def test_each_configuration_gets_a_distinct_valid_run_id(tmp_path: Path, region: str) -> None:
    ids = set()
    for configuration in CONFIGURATIONS:
        result = _run_id(tmp_path, region, "P1mv3", configuration)
        assert result.returncode == 0, result.stdout + result.stderr
        run_id = (tmp_path / "output").read_text().strip().removeprefix("run_id=")
        assert RUN_ID_PATTERN.match(run_id), run_id
        ids.add(run_id)
    assert len(ids) == len(CONFIGURATIONS)


def test_an_unknown_configuration_stops_the_cell(tmp_path: Path) -> None:
    result = _run_id(tmp_path, "westeurope", "B1", "vm-on")
    assert result.returncode != 0
    assert "unknown configuration vm-on" in result.stdout


def test_the_suite_runs_the_cells_configuration() -> None:
    script = _script("Live suite on a provisioned app")
    assert '--runtime "${CONFIGURATION%-*}"' in script
    assert '--app-service-storage "${CONFIGURATION##*-}"' in script
