"""The experiment facade without pytest's fixtures: start, a verdict for any cell, close."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_appservice_fs.backends.fake import FakeBackend
from pytest_appservice_fs.config import Settings
from pytest_appservice_fs.engine.expectations import (
    EMULATOR_MATRIX,
    HOME,
    LARGE_FILES,
    LATENCY,
    MeasureCell,
)
from pytest_appservice_fs.engine.experiment import Experiment, ExperimentError
from pytest_appservice_fs.engine.model import Event


def _backend(root: Path) -> FakeBackend:
    paths = ",".join(EMULATOR_MATRIX.all_paths)
    return FakeBackend(root, app_settings={"PROBE_PATHS": paths})


def test_with_block_starts_judges_and_tears_down(tmp_path: Path) -> None:
    """A path cell, a container cell, latency and a skipped cell, then everything removed."""
    settings = Settings(backend="fake", run_id="exp-1", events=(Event.RESTART,))
    backend = _backend(tmp_path / "app")
    with Experiment(backend, settings) as experiment:
        (path_cell,) = [c for c in EMULATOR_MATRIX.path_cells("H1", [Event.RESTART])]
        (container,) = EMULATOR_MATRIX.container_cells([Event.RESTART])
        (sku,) = EMULATOR_MATRIX.container_cells([Event.SKU_CHANGE])
        verdicts = [
            experiment.verdict(path_cell),
            experiment.verdict(container),
            experiment.verdict(MeasureCell(HOME)),
            experiment.verdict(sku),
        ]
        assert [v.passed for v in verdicts[:3]] == [True, True, True]
        assert verdicts[3].skipped
        assert "cannot be fired on the fake backend" in verdicts[3].explanation
        assert experiment.controller.trigger_counts == {Event.RESTART: 1}
    assert not (tmp_path / "app").exists()


def test_a_cell_of_no_kind_is_a_type_error(tmp_path: Path) -> None:
    """A measured path of an unknown hypothesis, or not a cell at all, is refused by name."""
    experiment = Experiment(_backend(tmp_path / "app"), Settings(backend="fake", run_id="x"))
    with pytest.raises(TypeError, match=f"MeasureCell of {LATENCY} or {LARGE_FILES}"):
        experiment.verdict(MeasureCell(HOME, hypothesis="H7"))
    with pytest.raises(TypeError, match="'H1' is not a cell of the matrix"):
        experiment.verdict("H1")  # type: ignore[arg-type]


def test_a_probe_folder_without_app_py_is_one_sentence(tmp_path: Path) -> None:
    """start() says which folder lacks app.py; nothing is left in the backend's folder."""
    empty = tmp_path / "probe"
    empty.mkdir()
    backend = _backend(tmp_path / "app")
    experiment = Experiment(backend, Settings(backend="fake", run_id="x"), probe_dir=empty)
    with pytest.raises(ExperimentError) as raised:
        experiment.start()
    assert str(raised.value) == (
        f"could not set up the fake app: probe folder {empty} has no app.py."
    )
    experiment.close()
    assert not (tmp_path / "app").exists()
