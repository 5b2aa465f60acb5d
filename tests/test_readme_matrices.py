"""The README's matrices are the code's: each is what `appservice-fs matrix` prints."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "readme_matrices.py"


def _script():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("readme_matrices", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_configuration_has_its_matrix_in_the_readme() -> None:
    script = _script()
    blocks = list(script.BLOCK.finditer(script.README.read_text(encoding="utf-8")))
    commands = {block["args"].strip() for block in blocks}
    for backend in ("local", "azure"):
        for runtime in ("code", "container"):
            for storage in ("on", "off"):
                wanted = f"--backend {backend} --runtime {runtime} --app-service-storage {storage}"
                assert wanted in commands, wanted
    assert any("--mount" in command for command in commands)


def test_the_readme_matrices_are_up_to_date() -> None:
    script = _script()
    assert script.main(["--check"]) == 0


def test_a_stale_matrix_is_caught() -> None:
    script = _script()
    text = script.README.read_text(encoding="utf-8")
    block = next(script.BLOCK.finditer(text))
    stale = text[: block.start()] + block.group(0).replace("| persists |", "| lost |", 1)
    stale += text[block.end() :]
    assert stale != text
    assert script.rewritten(stale) == text
