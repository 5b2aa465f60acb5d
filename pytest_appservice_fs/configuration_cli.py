"""``appservice-fs matrix`` and ``appservice-fs image-context``: the configuration's commands.

    appservice-fs matrix [--backend B] [--runtime R] [--app-service-storage S] [--mount M]...
    appservice-fs image-context FOLDER

``matrix`` prints, as Markdown, the expectation matrix a run of that configuration is judged
against (the same settings code as a run: the same checks, the same one-sentence refusals).
``image-context`` writes the probe image's build context (Dockerfile, probe code and its
build id), for attach mode's ``--image``: build it and push it where your app pulls from.
"""

from __future__ import annotations

import argparse
import io
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path

from pytest_appservice_fs.config import configuration_of
from pytest_appservice_fs.engine.expectations import CONTAINER, Expectations, matrix_for
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.engine.probe_package import (
    build_package,
    default_probe_dir,
    image_context,
)
from pytest_appservice_fs.options import (
    BACKENDS,
    MOUNT_KINDS,
    RUNTIMES,
    SettingsError,
    split_list,
)

#: Short column names, so that a matrix fits a page.
_EVENT_COLUMNS = {
    Event.RESTART: "restart",
    Event.STOP_START: "stop/start",
    Event.DEPLOY: "deploy",
    Event.SCALE_OUT: "scale-out",
    Event.SCALE_IN: "scale-in",
    Event.APP_SETTING_CHANGE: "setting",
    Event.RESTART_SOFT: "soft restart",
    Event.SKU_CHANGE: "SKU",
    Event.PLAN_RESTART: "plan restart",
}


def matrix_markdown(expectations: Expectations, events: Sequence[Event] = tuple(Event)) -> str:
    """The matrix as a Markdown table: a row per path (then ``container``), a column per
    event, each cell its expected outcome (``·`` where the matrix has no cell); then H4's
    expectation per lock mode."""
    header = "| path | " + " | ".join(_EVENT_COLUMNS[event] for event in events) + " |"
    lines = [header, "|---" * (len(events) + 1) + "|"]
    for path in (*expectations.all_paths, CONTAINER):
        cells = []
        for event in events:
            expected = expectations.expected(event, path)
            cells.append("·" if expected is None else expected.value)
        lines.append(f"| `{path}` | " + " | ".join(cells) + " |")
    if expectations.appends:
        appends = ", ".join(f"{cell.lock}: {cell.expected.value}" for cell in expectations.appends)
        lines += ["", f"H4 (two instances appending to one /home file): {appends}."]
    return "\n".join(lines) + "\n"


def _matrix_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Print the expectation matrix of a configuration, as Markdown."
    )
    parser.add_argument("--backend", choices=BACKENDS, default="local")
    # Checked by the run's own code (config.configuration_of), so that both read one value
    # alike: the same words, the same refusals.
    parser.add_argument("--runtime", help=f"{' or '.join(RUNTIMES)} (default code)")
    parser.add_argument("--app-service-storage", help="on or off (default on)")
    parser.add_argument(
        "--mount",
        action="append",
        default=[],
        metavar="PATH=KIND",
        help=f"an Azure Storage mount, KIND among {', '.join(MOUNT_KINDS)} (repeatable)",
    )
    return parser


def matrix(argv: Sequence[str], prog: str = "appservice-fs matrix") -> int:
    """Print the matrix of the configuration ``argv`` names; exit 2 with one sentence when it
    cannot be run."""
    parser = _matrix_parser(prog)
    args = parser.parse_args(list(argv))
    if args.mount and not split_list(args.mount):
        parser.error(
            f"--mount got {','.join(args.mount)[:64]!r}, an empty list; valid is at least one "
            f"PATH=KIND with KIND among {', '.join(MOUNT_KINDS)}."
        )
    try:
        configuration = configuration_of(args.runtime, args.app_service_storage, args.mount)
    except SettingsError as exc:
        parser.error(str(exc))
    sys.stdout.write(f"{args.backend} backend; {configuration.label}\n\n")
    sys.stdout.write(matrix_markdown(matrix_for(args.backend, configuration)))
    return 0


def image_context_command(argv: Sequence[str], prog: str = "appservice-fs image-context") -> int:
    """Write the probe image's build context into a new or empty folder; exit 2 with one
    sentence when the folder cannot take it."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Write the probe image's build context (Dockerfile, code, build id) to "
        "FOLDER; then: docker build -t REF FOLDER, push REF, and run with --runtime container "
        "--image REF.",
    )
    parser.add_argument("folder", type=Path)
    args = parser.parse_args(list(argv))
    folder: Path = args.folder
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        parser.error(
            f"FOLDER {str(folder)[:120]!r} exists and is not an empty folder; name a new one."
        )
    package = build_package(default_probe_dir())
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=io.BytesIO(image_context(package)), mode="r:gz") as context:
            context.extractall(folder, filter="data")
    except OSError as exc:
        parser.error(f"FOLDER {str(folder)[:120]!r} cannot be written: {exc.strerror}.")
    build_id = package.deployment_id
    sys.stdout.write(
        f"wrote the probe image context (build id {build_id}) to {folder}\n"
        "build and push it tagged with its build id, then attach to your container app:\n"
        f"  docker build -t REGISTRY/REPOSITORY:{build_id} {folder}\n"
        f"  docker push REGISTRY/REPOSITORY:{build_id}\n"
        "  appservice-fs run --app-name APP --resource-group GROUP --subscription-id SUB "
        f"--runtime container --image REGISTRY/REPOSITORY:{build_id}\n"
        "(the build installs the probe's requirements from PyPI; without a network, add "
        "--build-arg BASE_IMAGE=IMAGE --build-arg INSTALL_REQUIREMENTS=false with an IMAGE "
        "that has them, such as the local backend's pytest-appservice-fs/probe-runtime)\n"
    )
    return 0
