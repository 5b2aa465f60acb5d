"""The expected outcome per (event, path) as data: the lab's results, overridable.

Three matrices: the lab's published one (``LAB_MATRIX``, the report's baseline); Azure's
(``AZURE_MATRIX``: the lab's, plus the events, paths and H4 cells beyond it, ``observe``
where the platform's behaviour is not documented); and the local emulator's
(``EMULATOR_MATRIX``), which states what Docker does where it differs from Azure or where
Azure is only observed. Those two are for the lab's configuration (code, App Service storage
on, no mounts); ``matrix_for`` derives the matrix of any other configuration from them
(``engine/configuration.py`` cites the platform facts it uses).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from pytest_appservice_fs.contract import LOCK_MODES
from pytest_appservice_fs.engine.configuration import Configuration, Mount, Runtime
from pytest_appservice_fs.engine.model import AppendOutcome, ContainerOutcome, Event, Outcome

HOME = "/home/data"
TMP = "/tmp/data"  # noqa: S108 - the path under test, not a temp file of ours
VAR_LOCAL = "/var/local/data"
LAB_PATHS: tuple[str, ...] = (HOME, TMP, VAR_LOCAL)
#: User files under wwwroot: does a deploy wipe them?
UPLOADS = "/home/site/wwwroot/uploads"
#: App Service's log folder on the /home share.
LOGFILES = "/home/LogFiles"
#: The container's shared-memory tmpfs.
SHM = "/dev/shm"  # noqa: S108 - the path under test
#: The paths beyond the lab, tested as hypothesis ``paths``.
EXTRA_PATHS: tuple[str, ...] = (UPLOADS, LOGFILES, SHM)
DEFAULT_PATHS: tuple[str, ...] = LAB_PATHS + EXTRA_PATHS
#: The matrix's paths on App Service storage (the /home share, when it is on).
HOME_PATHS: tuple[str, ...] = (HOME, UPLOADS, LOGFILES)
#: The events the lab fired; the others came after it.
LAB_EVENTS: tuple[Event, ...] = (Event.RESTART, Event.STOP_START, Event.DEPLOY, Event.SCALE_OUT)

#: The column of the matrix that holds the container's fate rather than a path's.
CONTAINER = "container"
#: The hypothesis name under which the container cells are tested.
LIFECYCLE = "lifecycle"
#: Latency is measured per path: evidence, not a hypothesis with an expected outcome.
LATENCY = "latency"
#: H5, large files: throughput measured per path and size; evidence too.
LARGE_FILES = "H5"
#: H4, concurrent appends to one /home file from two instances, with and without a lock.
CONCURRENT = "H4"
#: Paths beyond the lab (wwwroot uploads, LogFiles, /dev/shm and --path), per event.
PATHS = "paths"
#: Azure Storage mounts (--mount), per event.
MOUNTS = "mounts"
#: Where H4's writers append: the shared /home path.
APPEND_PATH = HOME

HYPOTHESES: dict[str, str] = {
    "H1": "files in /home persist across restart, stop/start and deploy",
    "H2": "files outside /home are lost whenever the container is recreated",
    "H3": "across instances: after scale-out the new instance, and after scale-in the "
    "survivor, sees the other instance's /home files and none of its local files",
    CONCURRENT: "two instances appending to one /home file at once lose, duplicate or tear no "
    "record when they hold an advisory lock (flock); without it the counts are recorded",
    PATHS: "paths beyond the lab (wwwroot uploads, /home/LogFiles, /dev/shm, --path): what "
    "each event does to them",
    LIFECYCLE: "each event keeps or recreates the container as the lab observed",
    MOUNTS: "Azure Storage mounts (--mount): an Azure Files share (SMB or NFS) keeps its files "
    "on every event and shares them across instances; a Blob mount refuses writes",
    LATENCY: "write (with fsync) and read latency per path and instance, measured",
    LARGE_FILES: "large files: write (fsync at the end) and read throughput per path and size",
}


_O = TypeVar("_O", Outcome, ContainerOutcome, AppendOutcome)


class ExpectationError(ValueError):
    """An expectation override that cannot be understood."""


@dataclass(frozen=True)
class PathCell:
    """One cell of the matrix: what should happen to a marker at ``path`` on ``event``."""

    hypothesis: str
    event: Event
    path: str
    expected: Outcome

    @property
    def id(self) -> str:
        """A readable test id, such as ``stop_start-/tmp/data``."""
        return f"{self.event.value}-{self.path}"


@dataclass(frozen=True)
class ContainerCell:
    """What should happen to the container that answered before ``event``."""

    event: Event
    expected: ContainerOutcome
    hypothesis: str = LIFECYCLE

    @property
    def id(self) -> str:
        """A readable test id: the event's name."""
        return self.event.value


@dataclass(frozen=True)
class MeasureCell:
    """A path on which something is measured: latency, or large-file throughput (H5)."""

    path: str
    hypothesis: str = LATENCY

    @property
    def id(self) -> str:
        """A readable test id: the path."""
        return self.path


@dataclass(frozen=True)
class AppendCell:
    """H4: two instances append to one /home file at once, with ``lock`` or without."""

    lock: str
    expected: AppendOutcome
    path: str = APPEND_PATH
    hypothesis: str = CONCURRENT

    @property
    def id(self) -> str:
        """A readable test id, such as ``lock-flock``."""
        return f"lock-{self.lock}"


Cells = list[PathCell] | list[ContainerCell] | list[MeasureCell] | list[AppendCell]


@dataclass(frozen=True)
class Expectations:
    """The whole matrix: path cells grouped by hypothesis, one container cell per event, and
    H4's cells per lock mode."""

    paths: tuple[PathCell, ...]
    containers: tuple[ContainerCell, ...]
    appends: tuple[AppendCell, ...] = ()
    #: Paths that take no file (read-only mounts): nothing is measured there.
    read_only: frozenset[str] = frozenset()

    @property
    def all_paths(self) -> tuple[str, ...]:
        """Every path of the matrix, in matrix order: where markers are written."""
        return tuple(dict.fromkeys(c.path for c in self.paths))

    def cells(self, hypothesis: str, events: Iterable[Event]) -> Cells:
        """The cells a test of ``hypothesis`` is parametrized over (``lifecycle``: containers,
        ``latency`` and H5: every path of the matrix, H4: its lock modes)."""
        if hypothesis == LIFECYCLE:
            return self.container_cells(events)
        if hypothesis in (LATENCY, LARGE_FILES):
            return [
                MeasureCell(path, hypothesis)
                for path in self.all_paths
                if path not in self.read_only
            ]
        if hypothesis == CONCURRENT:
            return list(self.appends)
        return self.path_cells(hypothesis, events)

    def with_user_paths(self, paths: Sequence[str]) -> Expectations:
        """Add ``--path`` paths: observed on every event, since nothing is known of them."""
        known = set(self.all_paths)
        added = [
            PathCell(PATHS, event, path, Outcome.OBSERVE)
            for path in paths
            if path not in known
            for event in Event
        ]
        return replace(self, paths=(*self.paths, *added))

    def with_mounts(self, mounts: Sequence[Mount]) -> Expectations:
        """Add the cells of ``mounts`` (hypothesis ``mounts``), the same on every backend
        (configure-connect-to-azure-storage): an Azure Files share persists on every event
        and is visible across instances; a Blob mount is read-only, so its write is refused."""
        added = [
            PathCell(MOUNTS, event, mount.path, _mount_outcome(mount, event))
            for mount in mounts
            for event in Event
        ]
        read_only = {mount.path for mount in mounts if mount.kind.read_only}
        return replace(self, paths=(*self.paths, *added), read_only=self.read_only | read_only)

    def path_cells(self, hypothesis: str, events: Iterable[Event]) -> list[PathCell]:
        """The cells of ``hypothesis`` for the selected events, in matrix order."""
        wanted = set(events)
        return [c for c in self.paths if c.hypothesis == hypothesis and c.event in wanted]

    def container_cells(self, events: Iterable[Event]) -> list[ContainerCell]:
        """The container cells for the selected events."""
        wanted = set(events)
        return [c for c in self.containers if c.event in wanted]

    def append_expected(self, lock: str) -> AppendOutcome | None:
        """H4's expected outcome for ``lock``, or None when the matrix has no such cell."""
        return next((c.expected for c in self.appends if c.lock == lock), None)

    def expected(self, event: Event, path: str) -> Outcome | ContainerOutcome | None:
        """The expected value of one cell, or None when the matrix has no such cell."""
        if path == CONTAINER:
            return next((c.expected for c in self.containers if c.event is event), None)
        return next((c.expected for c in self.paths if (c.event, c.path) == (event, path)), None)

    def with_overrides(self, lines: Sequence[str]) -> Expectations:
        """Apply ``EVENT PATH = OUTCOME`` lines (ini key ``appservice_fs_expect``)."""
        paths = list(self.paths)
        containers = list(self.containers)
        appends = list(self.appends)
        for line in lines:
            if line.split() and line.split()[0].upper() == CONCURRENT:
                appends = _override_append(line, appends)
                continue
            event, path, value = _parse_override(line)
            if path == CONTAINER:
                container_valid = [
                    o for o in ContainerOutcome if o is not ContainerOutcome.INCONCLUSIVE
                ]
                outcome = _outcome(line, value, container_valid)
                containers = [
                    replace(c, expected=outcome) if c.event is event else c for c in containers
                ]
                continue
            path_outcome = _outcome(line, value, possible_outcomes(event))
            index = next(
                (i for i, c in enumerate(paths) if (c.event, c.path) == (event, path)), None
            )
            if index is None:
                raise ExpectationError(
                    f"appservice_fs_expect line {line!r} names no cell of the matrix; "
                    f"valid paths are {', '.join(self.all_paths)} and {CONTAINER}."
                )
            paths[index] = replace(paths[index], expected=path_outcome)
        return Expectations(tuple(paths), tuple(containers), tuple(appends), self.read_only)


def _mount_outcome(mount: Mount, event: Event) -> Outcome:
    if mount.kind.read_only:
        return Outcome.WRITE_REFUSED
    return Outcome.VISIBLE if event.across_instances else Outcome.PERSISTS


def _override_append(line: str, appends: list[AppendCell]) -> list[AppendCell]:
    """Apply ``H4 LOCK = OUTCOME`` (LOCK: flock or none)."""
    left, sep, value = line.partition("=")
    words = left.split()
    if not sep or len(words) != 2 or words[1] not in LOCK_MODES:
        raise ExpectationError(
            f"appservice_fs_expect line {line!r} is not of the form 'H4 LOCK = OUTCOME' with "
            f"LOCK one of {', '.join(LOCK_MODES)}, for example 'H4 none = intact'."
        )
    valid = [o for o in AppendOutcome if o is not AppendOutcome.INCONCLUSIVE]
    outcome = _outcome(line, value.strip(), valid)
    return [replace(c, expected=outcome) if c.lock == words[1] else c for c in appends]


def _parse_override(line: str) -> tuple[Event, str, str]:
    left, sep, value = line.partition("=")
    words = left.split()
    if not sep or len(words) != 2 or not value.strip():
        raise ExpectationError(
            f"appservice_fs_expect line {line!r} is not of the form 'EVENT PATH = OUTCOME', "
            "for example 'restart /tmp/data = lost'."
        )
    try:
        event = Event.parse(words[0])
    except ValueError:
        valid = ", ".join(e.value for e in Event)
        raise ExpectationError(
            f"appservice_fs_expect line {line!r} names an unknown event; valid events are {valid}."
        ) from None
    return event, words[1], value.strip()


def possible_outcomes(event: Event) -> list[Outcome]:
    """What a path cell of ``event`` can be expected to be: what it can be judged, or
    ``observe`` (``inconclusive`` is never expected)."""
    found = (
        [Outcome.VISIBLE, Outcome.NOT_VISIBLE]
        if event.across_instances
        else [
            Outcome.PERSISTS,
            Outcome.LOST,
        ]
    )
    return [*found, Outcome.CORRUPTED, Outcome.WRITE_REFUSED, Outcome.OBSERVE]


def _outcome(line: str, value: str, valid: Sequence[_O]) -> _O:
    # A cell expecting an outcome its event can never produce could never pass.
    for outcome in valid:
        if outcome.value == value:
            return outcome
    names = ", ".join(o.value for o in valid)
    raise ExpectationError(
        f"appservice_fs_expect line {line!r} expects {value!r}; valid outcomes are {names}."
    )


def _lab_matrix() -> Expectations:
    # Observed on B1 Linux, Python 3.11, koreacentral (2026-04-10); DESIGN.md section 2.
    recreating = (Event.STOP_START, Event.DEPLOY)
    paths = [
        PathCell("H1", event, HOME, Outcome.PERSISTS) for event in (Event.RESTART, *recreating)
    ]
    paths += [
        PathCell("H2", event, path, Outcome.PERSISTS if event is Event.RESTART else Outcome.LOST)
        for event in (Event.RESTART, *recreating)
        for path in (TMP, VAR_LOCAL)
    ]
    paths += [
        PathCell("H3", Event.SCALE_OUT, HOME, Outcome.VISIBLE),
        PathCell("H3", Event.SCALE_OUT, TMP, Outcome.NOT_VISIBLE),
        PathCell("H3", Event.SCALE_OUT, VAR_LOCAL, Outcome.NOT_VISIBLE),
    ]
    containers = (
        ContainerCell(Event.RESTART, ContainerOutcome.KEPT),
        ContainerCell(Event.STOP_START, ContainerOutcome.RECREATED),
        ContainerCell(Event.DEPLOY, ContainerOutcome.RECREATED),
        ContainerCell(Event.SCALE_OUT, ContainerOutcome.NEW_INSTANCE),
    )
    return Expectations(tuple(paths), containers)


#: The lab's published matrix: four events, three paths. The report's ``lab`` baseline.
LAB_MATRIX = _lab_matrix()

#: Events after the lab that keep the app on its instance(s).
_NEW_SAME_INSTANCE = (
    Event.APP_SETTING_CHANGE,
    Event.RESTART_SOFT,
    Event.SKU_CHANGE,
    Event.PLAN_RESTART,
)


def _extended(
    home_new: Outcome,
    local_new: dict[Event, Outcome],
    containers_new: dict[Event, ContainerOutcome],
    extra: dict[tuple[Event, str], Outcome],
    appends: dict[str, AppendOutcome],
) -> Expectations:
    """The lab's matrix plus the cells beyond it; a missing entry is ``observe``."""
    observe, keep = Outcome.OBSERVE, ContainerOutcome.OBSERVE
    paths = list(LAB_MATRIX.paths)
    paths += [PathCell("H1", event, HOME, home_new) for event in _NEW_SAME_INSTANCE]
    paths += [
        PathCell("H2", event, path, local_new.get(event, observe))
        for event in _NEW_SAME_INSTANCE
        for path in (TMP, VAR_LOCAL)
    ]
    paths += [
        PathCell("H3", Event.SCALE_IN, HOME, Outcome.VISIBLE),
        PathCell("H3", Event.SCALE_IN, TMP, Outcome.NOT_VISIBLE),
        PathCell("H3", Event.SCALE_IN, VAR_LOCAL, Outcome.NOT_VISIBLE),
    ]
    paths += [
        PathCell(PATHS, event, path, extra.get((event, path), observe))
        for event in Event
        for path in EXTRA_PATHS
    ]
    containers = (
        *LAB_MATRIX.containers,
        *(
            ContainerCell(event, containers_new.get(event, keep))
            for event in Event
            if event not in LAB_EVENTS
        ),
    )
    lock_cells = tuple(
        AppendCell(lock, appends.get(lock, AppendOutcome.OBSERVE)) for lock in LOCK_MODES
    )
    return Expectations(tuple(paths), containers, lock_cells)


def _azure_matrix() -> Expectations:
    # /home is the app's persistent share whatever happens to containers (documented), and
    # scale-in leaves the survivor on that same share. Whether the new events recreate the
    # container, what they do to the paths beyond the lab, and whether flock orders writers
    # on two instances (the share is mounted with nobrl) are not documented: observed.
    return _extended(Outcome.PERSISTS, {}, {}, {}, {})


def _emulator_matrix() -> Expectations:
    # What the local Docker emulator does (and the fake with it): a soft restart is a
    # `docker restart`; Docker cannot change a running container's environment, so a settings
    # change recreates the containers; /dev/shm is a tmpfs mounted at each container start;
    # a deploy replaces wwwroot as a whole (OneDeploy's clean zip deploy). Scale-in removes
    # the newest instance and keeps the survivor's container. No plan: the SKU change and the
    # plan restart are skipped, their cells stay ``observe``.
    persists, lost = Outcome.PERSISTS, Outcome.LOST
    extra: dict[tuple[Event, str], Outcome] = {}
    for event in (*LAB_EVENTS, Event.SCALE_IN, Event.APP_SETTING_CHANGE, Event.RESTART_SOFT):
        across = event.across_instances
        on_home = Outcome.VISIBLE if across else persists
        extra[(event, LOGFILES)] = on_home
        extra[(event, UPLOADS)] = lost if event is Event.DEPLOY else on_home
        extra[(event, SHM)] = Outcome.NOT_VISIBLE if across else lost
    return _extended(
        persists,
        {Event.APP_SETTING_CHANGE: lost, Event.RESTART_SOFT: persists},
        {
            Event.SCALE_IN: ContainerOutcome.KEPT,
            Event.APP_SETTING_CHANGE: ContainerOutcome.RECREATED,
            Event.RESTART_SOFT: ContainerOutcome.KEPT,
        },
        extra,
        {"flock": AppendOutcome.INTACT},
    )


#: Azure's expectations: the lab's matrix and, beyond it, what is documented or ``observe``.
AZURE_MATRIX = _azure_matrix()
#: The local emulator's (and the fake's) expectations, where they differ from Azure's.
EMULATOR_MATRIX = _emulator_matrix()


def matrix_for(backend: str, configuration: Configuration | None = None) -> Expectations:
    """The default expectations of a backend (Azure's, or the emulator's for local and fake)
    under ``configuration`` (default: code, App Service storage on, no mounts)."""
    configuration = configuration or Configuration()
    matrix = _azure_for(configuration) if backend == "azure" else _emulator_for(configuration)
    return matrix.with_mounts(configuration.mounts)


def _emulator_for(configuration: Configuration) -> Expectations:
    # What the emulator does under each configuration (backends/local.py): with storage off,
    # /home is the container's own folder, so its paths fare as /tmp does on every event and
    # are not visible to another instance, and H4's writers each append to their own file.
    # A container app's deploy is a new image and new containers: wwwroot is not replaced,
    # so its uploads fare as /home/data does.
    matrix = EMULATOR_MATRIX
    paths = list(matrix.paths)
    if configuration.runtime is Runtime.CONTAINER:
        paths = [_as_home_data(cell, matrix) if _is_deploy_upload(cell) else cell for cell in paths]
    if not configuration.home_shared:
        paths = [_container_local(cell, matrix) for cell in paths]
        matrix = replace(matrix, appends=_appends(matrix, AppendOutcome.NOT_SHARED))
    return replace(matrix, paths=tuple(paths))


def _azure_for(configuration: Configuration) -> Expectations:
    # The lab observed code on the built-in stack only: for a container app, every cell but
    # /home's documented persistence and sharing is observed. With storage off, the custom
    # container documentation settles /home for container apps (not kept across restarts,
    # not shared across instances; configure-custom-container); for code apps no source
    # does, so /home is observed.
    matrix = AZURE_MATRIX
    documented_home = {(c.event, c.path): c.expected for c in matrix.paths if c.path == HOME}
    if configuration.runtime is Runtime.CONTAINER:
        matrix = replace(
            matrix,
            paths=tuple(
                c
                if (c.event, c.path) in documented_home and c.hypothesis in ("H1", "H3")
                else replace(c, expected=Outcome.OBSERVE)
                for c in matrix.paths
            ),
            containers=tuple(
                replace(c, expected=ContainerOutcome.OBSERVE) for c in matrix.containers
            ),
        )
    if configuration.home_shared:
        return matrix
    documented = configuration.runtime is Runtime.CONTAINER
    paths = tuple(
        replace(c, expected=_home_without_storage(c.event) if documented else Outcome.OBSERVE)
        if c.path in HOME_PATHS
        else c
        for c in matrix.paths
    )
    appends = AppendOutcome.NOT_SHARED if documented else AppendOutcome.OBSERVE
    return replace(matrix, paths=paths, appends=_appends(matrix, appends))


#: Events after which a container app's /home, without App Service storage, is documented
#: as lost: the restarts (an ARM restart, a stop and start, a new image).
_RESTARTS = (Event.RESTART, Event.STOP_START, Event.DEPLOY)


def _home_without_storage(event: Event) -> Outcome:
    if event.across_instances:
        return Outcome.NOT_VISIBLE
    return Outcome.LOST if event in _RESTARTS else Outcome.OBSERVE


def _is_deploy_upload(cell: PathCell) -> bool:
    return cell.event is Event.DEPLOY and cell.path == UPLOADS


def _as_home_data(cell: PathCell, matrix: Expectations) -> PathCell:
    return replace(cell, expected=_expected_path(matrix, cell.event, HOME))


def _container_local(cell: PathCell, matrix: Expectations) -> PathCell:
    """A /home cell as the container's own folder: as /tmp fares on the event."""
    if cell.path not in HOME_PATHS:
        return cell
    return replace(cell, expected=_expected_path(matrix, cell.event, TMP))


def _expected_path(matrix: Expectations, event: Event, path: str) -> Outcome:
    found = matrix.expected(event, path)
    return found if isinstance(found, Outcome) else Outcome.OBSERVE


def _appends(matrix: Expectations, outcome: AppendOutcome) -> tuple[AppendCell, ...]:
    return tuple(replace(cell, expected=outcome) for cell in matrix.appends)
