"""Bad input for the local backend stops the run before anything is made: exit status 4 and
one sentence that names what is wrong."""

from __future__ import annotations

from typing import Any

import pytest

from tests.docker.conftest import RUN_TIMEOUT, labelled

pytestmark = pytest.mark.docker


@pytest.mark.parametrize(
    ("case", "names"),
    [
        ("docker-unreachable", ["Docker", "unix:///nonexistent/docker.sock", "start the Docker"]),
        ("unknown-base-image", ["--local-base-image", "'no-such-image:zz'"]),
        ("probe-dir-without-app", ["--probe-dir", "has no app.py"]),
    ],
)
def test_bad_input_exits_4_with_one_error_and_makes_nothing(
    live_suite: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    run_id: str,
    docker_client: Any,
    case: str,
    names: list[str],
) -> None:
    """Exit status 4, one ERROR line naming the problem, no traceback, no labelled resource."""
    args = ["-m", "live", "--backend", "local", "--run-id", run_id]
    if case == "docker-unreachable":
        monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    elif case == "unknown-base-image":
        args += ["--local-base-image", "no-such-image:zz"]
    else:
        empty = live_suite.mkdir("empty-probe")
        (empty / "requirements.txt").write_text("flask\n", encoding="utf-8")
        args += ["--probe-dir", str(empty)]
    result = live_suite.runpytest_subprocess(*args, timeout=RUN_TIMEOUT)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str()
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert len(errors) == 1, result.stderr.str()
    for name in names:
        assert name in errors[0], errors[0]
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert labelled(docker_client, run_id) == {"containers": [], "volumes": []}
