"""How the probe's app.py loads its fsprobe package: under its own name, whoever loads it."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from .conftest import PROBE_APP

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from types import ModuleType


def _copy_probe(target: Path, probe_api: int) -> Path:
    shutil.copytree(PROBE_APP.parent, target, ignore=shutil.ignore_patterns("__pycache__"))
    web = target / "fsprobe" / "web.py"
    source = web.read_text()
    assert "\nPROBE_API = 2\n" in source
    web.write_text(source.replace("\nPROBE_API = 2\n", f"\nPROBE_API = {probe_api}\n"))
    return target


def _load(name: str, app_py: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, app_py)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def loaded_names() -> Iterator[list[str]]:
    """Module names the test loads; they and their submodules are unloaded afterwards."""
    names: list[str] = []
    yield names
    for key in [k for k in sys.modules if any(k == n or k.startswith(n + ".") for n in names)]:
        del sys.modules[key]


def test_two_probes_in_one_interpreter_run_their_own_code(
    tmp_path: Path, loaded_names: list[str]
) -> None:
    """As in the fake backend: two deploys' probes loaded at once each serve their own code."""
    loaded_names.extend(["probe_first", "probe_second"])
    first = _load("probe_first", _copy_probe(tmp_path / "first", 101) / "app.py")
    second = _load("probe_second", _copy_probe(tmp_path / "second", 102) / "app.py")
    assert first.fsprobe.__name__ == "probe_first.fsprobe"
    assert sys.modules["probe_second.fsprobe.web"] is second.fsprobe.web
    assert first.fsprobe.web is not second.fsprobe.web
    assert first.ProbeConfig is not second.ProbeConfig
    for module, api in ((first, 101), (second, 102)):
        config = module.ProbeConfig(mounts={"/": str(tmp_path / "layer")})
        answer = module.create_app(config).test_client().get("/identity")
        assert answer.json["probe_api"] == api
    assert "fsprobe" not in sys.modules  # never imported under the bare name


def test_gunicorn_style_import_from_the_code_folder(tmp_path: Path) -> None:
    """As gunicorn --chdir imports it: 'app' from the code folder on sys.path, create_app()."""
    code = _copy_probe(tmp_path / "wwwroot", 103)
    (code / "DEPLOYMENT_ID").write_text("deployed-here\n")
    script = (
        "import app; client = app.create_app().test_client(); "
        "answer = client.get('/identity').json; "
        "print(answer['probe_api'], answer['deployment_id'], app.fsprobe.__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=code,
        env={"PROBE_PATHS": "/tmp/data", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["103", "deployed-here", "app.fsprobe"]
