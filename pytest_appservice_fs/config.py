"""One frozen settings object, resolved once from the command line, the environment and the
ini file (in that order of precedence)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_appservice_fs.contract import (
    APPEND_RECORDS_MAX,
    DEFAULT_MAX_THROUGHPUT_MIB,
    LATENCY_ITERATIONS_MAX,
    LATENCY_SIZE_MAX,
    SETTINGS_MARK,
    THROUGHPUT_ITERATIONS_MAX,
    THROUGHPUT_MIB_MAX,
    THROUGHPUT_SIZES_MAX,
    path_problem,
)
from pytest_appservice_fs.engine.configuration import (
    STORAGE_SETTING,
    Configuration,
    Mount,
    MountKind,
    Runtime,
)
from pytest_appservice_fs.engine.expectations import (
    DEFAULT_PATHS,
    EMULATOR_MATRIX,
    SHM,
    ExpectationError,
    Expectations,
    matrix_for,
)
from pytest_appservice_fs.engine.model import AppendOutcome, Event, Outcome
from pytest_appservice_fs.engine.probe_package import image_build_id
from pytest_appservice_fs.options import (
    APP_SETTING_KEY,
    ASCII_NUMBER,
    BACKENDS,
    DEFAULT_SKU,
    FAKE_FAULTS,
    IMPLEMENTED_BACKENDS,
    MAX_READY_TIMEOUT,
    MOUNT_KINDS,
    MOUNTS_MAX,
    OPTIONS,
    RESTART_MODES,
    RUNTIMES,
    USER_PATHS_MAX,
    IniGetter,
    SettingsError,
    choice,
    flag_value,
    optional_text,
    pick,
    report_path,
    split_list,
    whole_number,
)

#: Where no mount may go: the operating system's folders, and /opt, where the probe image
#: keeps its code (a mount there would hide the app).
_SYSTEM_ROOTS = ("/bin", "/boot", "/etc", "/lib", "/lib32", "/lib64", "/opt", "/run", "/sbin",
                 "/usr")  # fmt: skip
#: Where no marker may be written: kernel interfaces and device nodes (/dev/shm aside).
_FORBIDDEN_ROOTS = ("/proc", "/sys", "/dev")
#: App settings the harness sets itself, from other options.
RESERVED_APP_SETTINGS = {
    "PROBE_PATHS": "it is set from the matrix's paths; give extra paths with --path",
    SETTINGS_MARK: "the app_setting_change event changes it",
    # The probe prefers its package's DEPLOYMENT_ID file; a fixed setting would hide a deploy
    # that did not take (a probe from --probe-dir without the file would report the setting).
    "PROBE_DEPLOYMENT_ID": "a deploy is proven by the deployment id of the package it ships",
    STORAGE_SETTING: "it is an axis of the configuration under test, which picks the "
    "expectation matrix; set it with --app-service-storage on|off",
}
#: The app setting that raises the probe's largest H5 size (``probe/fsprobe/config.py``).
MAX_THROUGHPUT_SETTING = "PROBE_MAX_THROUGHPUT_MIB"
#: Options only the azure backend reads: with another backend they would be silently ignored.
#: (--region and --sku label a run on any backend; AZURE_SUBSCRIPTION_ID is Azure's own
#: variable, set in CI for every job, so only the plugin's sources of --subscription-id count.)
_AZURE_ONLY = (
    "app_name",
    "resource_group",
    "subscription_id",
    "provision",
    "allow_existing_app",
    "image",
)
#: What a list option takes, for the sentence that refuses an empty one.
_LIST_ITEMS = {
    "events": "event among " + ", ".join(e.value for e in Event),
    "app_settings": "app setting KEY=VALUE",
    "ready_timeout": "SECONDS or EVENT=SECONDS item",
    "throughput_sizes": "size in MiB",
    "paths": "absolute path",
    "fake_faults": "fault among " + ", ".join(FAKE_FAULTS),
    "mounts": "mount PATH=KIND with KIND among " + ", ".join(MOUNT_KINDS),
}

_REGION = re.compile(r"[a-z0-9]{2,40}\Z")
_SKU = re.compile(r"[A-Za-z0-9]{1,16}\Z")
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,40}\Z")
# App Service app names: 2 to 60 letters, digits and hyphens, no hyphen at either end.
_APP_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,58}[A-Za-z0-9]\Z")
_RESOURCE_GROUP = re.compile(r"[-\w._()]{1,89}(?<!\.)\Z")
SUBSCRIPTION_PATTERN = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}\Z")
_PATH_CHARS = re.compile(r"[A-Za-z0-9_./-]+\Z")
_ASCII_DECIMAL = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,6})?\Z")
#: PROBE_TOKEN travels in a request header: visible ASCII only, no spaces.
_TOKEN = re.compile(r"[\x21-\x7e]{1,256}\Z")
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}\Z")


@dataclass(frozen=True)
class Settings:
    """Everything a run needs to know, resolved once per session."""

    backend: str
    run_id: str
    events: tuple[Event, ...] = tuple(Event)
    app_name: str | None = None
    resource_group: str | None = None
    subscription_id: str | None = None
    region: str | None = None
    sku: str | None = None
    provision: bool = False
    keep_resources: bool = False
    # Values may be secrets: never shown in repr, logs or evidence.
    app_settings: Mapping[str, str] = field(default_factory=dict, repr=False)
    evidence_report: Path | None = None
    ready_timeouts: Mapping[Event, float] = field(default_factory=dict)
    fake_faults: frozenset[str] = frozenset()
    expectations: Expectations = EMULATOR_MATRIX
    probe_dir: Path | None = None
    local_base_image: str | None = None
    allow_existing_app: bool = False
    restart_mode: str = "platform"
    #: Seconds after which a soft restart that kept the probe process is a proven no-op.
    soft_restart_timeout: int = 120
    latency_size: int = 4096
    latency_iterations: int = 10
    #: H5 sizes in MiB; empty means the backend's default.
    throughput_sizes: tuple[int, ...] = ()
    throughput_iterations: int = 1
    #: H4: records each writer appends.
    append_records: int = 200
    #: --path: paths tested beyond the matrix's (already in ``expectations``).
    user_paths: tuple[str, ...] = ()
    #: The xdist worker this session is (gw0, gw1, ...), or None when not distributed.
    worker: str | None = None
    #: The configuration under test: runtime, App Service storage, mounts.
    configuration: Configuration = field(default_factory=Configuration)
    #: --image: azure attach mode's probe image, pushed by the user (container runtime).
    image: str | None = None


def resolve(
    cli: Mapping[str, Any],
    ini: IniGetter,
    environ: Mapping[str, str],
    *,
    expectation_lines: Sequence[str] = (),
) -> Settings:
    """Resolve the settings; raise SettingsError with one sentence on the first bad value.

    Precedence, per setting: the command line wins over the environment, which wins over the
    ini file; list settings are taken whole from the first source that has them.
    """
    picked = {spec.dest: pick(spec, cli, ini, environ) for spec in OPTIONS}
    raw = {dest: value for dest, (value, _) in picked.items()}
    sources = {dest: source for dest, (_, source) in picked.items()}
    try:
        return _settings(raw, sources, expectation_lines)
    except SettingsError as exc:
        raise SettingsError(_naming_source(str(exc), sources)) from None


def _naming_source(message: str, sources: Mapping[str, str | None]) -> str:
    """The message, its flag followed by the variable or ini key the value came from."""
    for spec in OPTIONS:
        source = sources[spec.dest]
        if source and source != "command line" and message.startswith(spec.flag + " "):
            return f"{spec.flag} (from {source}){message[len(spec.flag) :]}"
    return message


def _settings(
    raw: Mapping[str, Any], sources: Mapping[str, str | None], expectation_lines: Sequence[str]
) -> Settings:
    _refuse_empty_lists(raw, sources)
    provision = flag_value(raw["provision"], "--provision")
    app_name = optional_text(
        raw["app_name"],
        "--app-name",
        _APP_NAME,
        "2 to 60 letters, digits and hyphens, not starting or ending with a hyphen",
    )
    region = optional_text(raw["region"], "--region", _REGION, "an Azure region such as westeurope")
    backend = _backend(raw["backend"], app_name=app_name, provision=provision)
    resource_group = optional_text(
        raw["resource_group"], "--resource-group", _RESOURCE_GROUP, "an Azure resource group name"
    )
    subscription_id = optional_text(
        raw["subscription_id"], "--subscription-id", SUBSCRIPTION_PATTERN, "a subscription GUID"
    )
    restart_mode = choice(raw["restart_mode"], "--restart-mode", RESTART_MODES)
    if backend == "azure":
        if provision and region is None:
            raise SettingsError("--provision needs --region, an Azure region such as westeurope.")
        _check_azure_target(app_name, resource_group, subscription_id, provision=provision)
    else:
        _refuse_azure_only(raw, sources, backend, restart_mode)
    sku = optional_text(raw["sku"], "--sku", _SKU, "a plan SKU such as B1 or P1v3")
    faults = frozenset(_fake_faults(raw["fake_faults"], backend))
    user_paths = _user_paths(raw["paths"])
    configuration = configuration_of(
        raw["runtime"], raw["app_service_storage"], raw["mounts"], user_paths
    )
    image = _image(raw["image"], configuration, provision=provision)
    if (
        backend == "azure"
        and not provision
        and configuration.runtime is Runtime.CONTAINER
        and image is None
    ):
        raise SettingsError(
            "--runtime container in attach mode needs --image, the probe image your app pulls, "
            "tagged with its build id (appservice-fs image-context prints it); or use "
            "--provision, which builds it."
        )
    if configuration.runtime is Runtime.CONTAINER and raw["probe_dir"]:
        raise SettingsError(
            "--runtime container cannot take --probe-dir: the lab's probe runs as code only; "
            "leave out --probe-dir (the bundled probe is baked into the image) or use "
            "--runtime code."
        )
    try:
        expectations = (
            matrix_for(backend, configuration)
            .with_user_paths(user_paths)
            .with_overrides(expectation_lines)
        )
    except ExpectationError as exc:
        raise SettingsError(str(exc)) from None
    _check_expectations(expectations, configuration)
    app_settings = _app_settings(raw["app_settings"])
    return Settings(
        backend=backend,
        run_id=optional_text(
            raw["run_id"], "--run-id", RUN_ID_PATTERN, "1 to 40 of A-Z a-z 0-9 _ -"
        )
        or _new_run_id(),
        events=_events(raw["events"]),
        app_name=app_name,
        resource_group=resource_group,
        subscription_id=subscription_id,
        region=region,
        sku=sku or (DEFAULT_SKU if provision else None),
        provision=provision,
        keep_resources=flag_value(raw["keep_resources"], "--keep-resources"),
        app_settings=app_settings,
        evidence_report=report_path(raw["evidence_report"]),
        ready_timeouts=_ready_timeouts(raw["ready_timeout"]),
        fake_faults=faults,
        expectations=expectations,
        probe_dir=_probe_dir(raw["probe_dir"]),
        local_base_image=optional_text(
            raw["local_base_image"],
            "--local-base-image",
            _IMAGE,
            "an image reference like name:tag",
        ),
        allow_existing_app=flag_value(raw["allow_existing_app"], "--allow-existing-app"),
        restart_mode=restart_mode,
        soft_restart_timeout=whole_number(
            raw["soft_restart_timeout"], "--soft-restart-timeout", 120, int(MAX_READY_TIMEOUT)
        ),
        latency_size=whole_number(raw["latency_size"], "--latency-size", 4096, LATENCY_SIZE_MAX),
        latency_iterations=whole_number(
            raw["latency_iterations"], "--latency-iterations", 10, LATENCY_ITERATIONS_MAX
        ),
        throughput_sizes=_sizes(raw["throughput_sizes"], app_settings),
        throughput_iterations=whole_number(
            raw["throughput_iterations"], "--throughput-iterations", 1, THROUGHPUT_ITERATIONS_MAX
        ),
        append_records=whole_number(
            raw["append_records"], "--append-records", 200, APPEND_RECORDS_MAX
        ),
        user_paths=user_paths,
        configuration=configuration,
        image=image,
    )


def configuration_of(
    runtime: Any, storage: Any, mounts: Sequence[str], user_paths: Sequence[str] = ()
) -> Configuration:
    """The configuration that --runtime, --app-service-storage and --mount name (None: the
    default); SettingsError with one sentence on a bad value."""
    return Configuration(
        runtime=Runtime(choice(runtime, "--runtime", RUNTIMES)),
        app_service_storage=choice(storage, "--app-service-storage", ("on", "off")) == "on",
        mounts=_mounts(mounts, user_paths),
    )


def _mounts(values: Sequence[str], user_paths: Sequence[str]) -> tuple[Mount, ...]:
    """``--mount PATH=KIND`` items. Refused: a path App Service will not mount at (/, /home
    and below, /tmp and below: configure-connect-to-azure-storage), the system's folders and
    the image's code (``_SYSTEM_ROOTS``), a path on, above or below one the matrix tests, and
    a mount inside another (its files would land on the outer one's volume)."""
    mounts: dict[str, Mount] = {}
    kinds = ", ".join(MOUNT_KINDS)
    for item in split_list(values):
        path, sep, kind = item.rpartition("=")
        if not sep or kind not in MOUNT_KINDS or not path:
            raise SettingsError(
                f"--mount got {item[:120]!r}; valid is PATH=KIND with KIND among {kinds}, "
                "for example /mnt/share=files."
            )
        problem = _mount_problem(path, user_paths)
        if problem:
            raise SettingsError(
                f"--mount got {path[:120]!r}, which {problem}; valid is an absolute path of "
                "your own such as /mnt/share, outside /home and /tmp."
            )
        if path in mounts:
            raise SettingsError(f"--mount names {path[:120]!r} twice; give each path once.")
        nested = next(
            (o for o in mounts if o.startswith(path + "/") or path.startswith(o + "/")), None
        )
        if nested is not None:
            raise SettingsError(
                f"--mount got {path[:120]!r} and {nested[:120]!r}, one inside the other; "
                "valid is mounts side by side, such as /mnt/a and /mnt/b."
            )
        mounts[path] = Mount(path, MountKind(kind))
    if len(mounts) > MOUNTS_MAX:
        raise SettingsError(f"--mount got {len(mounts)} mounts; valid is at most {MOUNTS_MAX}.")
    return tuple(mounts.values())


def _mount_problem(path: str, user_paths: Sequence[str]) -> str | None:
    problem = _path_problem(path)
    if problem is not None:
        return problem

    def under(root: str) -> bool:
        return path == root or path.startswith(root + "/")

    if under("/home") or under("/tmp"):  # noqa: S108 - App Service's own folders, not ours
        return "is App Service's own storage (/home) or the container's /tmp"
    if any(under(root) for root in _SYSTEM_ROOTS):
        return "is a folder of the operating system or of the probe's image"
    if path in user_paths:
        return "is given with --path as well"
    inside = next((other for other in user_paths if other.startswith(path + "/")), None)
    if inside is not None:
        return f"holds the --path {inside} (the mount's own cells test what is on it)"
    tested = (SHM, *DEFAULT_PATHS, *user_paths)
    if any(under(other) or other.startswith(path + "/") for other in tested):
        return "is, holds or is inside a path the matrix tests already"
    return None


def _image(value: Any, configuration: Configuration, *, provision: bool) -> str | None:
    image = optional_text(
        value,
        "--image",
        _IMAGE,
        "an image reference like myregistry.azurecr.io/probe:0123456789abcdef",
    )
    if image is None:
        return None
    if configuration.runtime is not Runtime.CONTAINER:
        raise SettingsError(
            "--image needs --runtime container: it names the probe image a container app pulls."
        )
    if provision:
        raise SettingsError(
            "--image works only in attach mode: --provision builds the probe image in the "
            "run's own registry; leave out --image or --provision."
        )
    if image_build_id(image) is None:
        raise SettingsError(
            f"--image got {image[:120]!r}, whose tag is not a probe build id; valid is the image "
            "tagged with the 16-hex build id that appservice-fs image-context printed, such as "
            "myregistry.azurecr.io/probe:0123456789abcdef."
        )
    return image


def _check_expectations(expectations: Expectations, configuration: Configuration) -> None:
    """Refuse an override that expects what the configuration rules out: a write to a Blob
    mount (read-only), or /home shared across instances with App Service storage off."""
    for cell in expectations.paths:
        mount = configuration.mount_at(cell.path)
        if (
            mount is not None
            and mount.kind.read_only
            and cell.expected not in (Outcome.WRITE_REFUSED, Outcome.OBSERVE)
        ):
            raise SettingsError(
                f"appservice_fs_expect expects {cell.event} {cell.path} = {cell.expected}, but "
                f"{cell.path} is a Blob mount, which is read-only; valid is write_refused or "
                "observe."
            )
        shared_home = cell.path.startswith("/home/") and cell.expected is Outcome.VISIBLE
        if not configuration.home_shared and shared_home:
            raise SettingsError(
                f"appservice_fs_expect expects {cell.event} {cell.path} = visible, but with "
                "--app-service-storage off /home is not shared across instances; valid is "
                "not_visible or observe, or --app-service-storage on."
            )
    if configuration.home_shared and any(
        cell.expected is AppendOutcome.NOT_SHARED for cell in expectations.appends
    ):
        raise SettingsError(
            "appservice_fs_expect expects H4 not_shared, but with App Service storage on the "
            "instances share /home; valid is H4 LOCK = intact, damaged or observe, or "
            "--app-service-storage off."
        )
    if not configuration.home_shared and any(
        cell.expected in (AppendOutcome.INTACT, AppendOutcome.DAMAGED)
        for cell in expectations.appends
    ):
        raise SettingsError(
            "appservice_fs_expect expects H4 to share /home/data between instances, but with "
            "--app-service-storage off each instance has its own /home; valid is H4 LOCK = "
            "not_shared or observe, or --app-service-storage on."
        )


def _user_paths(values: Sequence[str]) -> tuple[str, ...]:
    paths = tuple(dict.fromkeys(split_list(values)))
    if len(paths) > USER_PATHS_MAX:
        raise SettingsError(f"--path got {len(paths)} paths; valid is at most {USER_PATHS_MAX}.")
    for path in paths:
        problem = _path_problem(path)
        if problem:
            raise SettingsError(
                f"--path got {path[:120]!r}, which {problem}; valid is an absolute, normalised "
                "path such as /var/lib/myapp, outside /proc, /sys and /dev (but /dev/shm)."
            )
    return paths


def _path_problem(path: str) -> str | None:
    # The probe's own rule first (it refuses such a path in PROBE_PATHS), then the harness's.
    problem = path_problem(path)
    if problem is not None:
        return problem
    if path == "/" or len(path) > 200 or not _PATH_CHARS.match(path):
        return "is not a directory the probe may write to (1 to 200 safe characters, not /)"

    def under(root: str) -> bool:
        return path == root or path.startswith(root + "/")

    if not under(SHM) and any(under(root) for root in _FORBIDDEN_ROOTS):
        return "is under a kernel or device file system"
    return None


def _sizes(values: Sequence[str], app_settings: Mapping[str, str]) -> tuple[int, ...]:
    # The probe refuses a size above its PROBE_MAX_THROUGHPUT_MIB (checked in _app_settings).
    raised = app_settings.get(MAX_THROUGHPUT_SETTING, "").strip()
    most = int(raised) if raised else DEFAULT_MAX_THROUGHPUT_MIB
    where = (
        f"{MAX_THROUGHPUT_SETTING} as --app-setting gives it"
        if raised
        else f"the probe's {MAX_THROUGHPUT_SETTING} default; --app-setting "
        f"{MAX_THROUGHPUT_SETTING}=N raises it to at most {THROUGHPUT_MIB_MAX}"
    )
    sizes: dict[int, None] = {}
    for item in split_list(values):
        if not ASCII_NUMBER.match(item) or not 1 <= int(item) <= most:
            raise SettingsError(
                f"--throughput-sizes got {item[:64]!r}; valid is a whole number from 1 to {most} "
                f"({where})."
            )
        sizes[int(item)] = None
    if len(sizes) > THROUGHPUT_SIZES_MAX:
        raise SettingsError(
            f"--throughput-sizes got {len(sizes)} sizes; valid is at most {THROUGHPUT_SIZES_MAX}."
        )
    return tuple(sizes)


def _refuse_empty_lists(raw: Mapping[str, Any], sources: Mapping[str, str | None]) -> None:
    """A list option given but naming nothing (``--events ""``, ``--events " , "``) would fall
    back to the default, or to nothing at all: refused, so that a typo never runs everything."""
    for spec in OPTIONS:
        if spec.kind != "list" or sources[spec.dest] is None:
            continue
        values = [str(value) for value in raw[spec.dest]]
        blank = (
            not any(value.strip() for value in values)
            if spec.dest == "app_settings"
            else not split_list(values)
        )
        if blank:
            raise SettingsError(
                f"{spec.flag} got {','.join(values)[:64]!r}, an empty list; valid is at least one "
                f"{_LIST_ITEMS[spec.dest]} (or no {spec.flag} at all, for the default)."
            )


def _refuse_azure_only(
    raw: Mapping[str, Any], sources: Mapping[str, str | None], backend: str, restart_mode: str
) -> None:
    """Options only the azure backend reads, given with another backend, are refused."""
    for spec in OPTIONS:
        source = sources[spec.dest]
        if spec.dest not in _AZURE_ONLY or source in (None, "environment AZURE_SUBSCRIPTION_ID"):
            continue
        if spec.kind == "flag" and not flag_value(raw[spec.dest], spec.flag):
            continue
        raise SettingsError(f"{spec.flag} works only with --backend azure, not {backend}.")
    if restart_mode == "soft":
        raise SettingsError(f"--restart-mode soft works only with --backend azure, not {backend}.")


def _check_azure_target(
    app_name: str | None,
    resource_group: str | None,
    subscription_id: str | None,
    *,
    provision: bool,
) -> None:
    if not provision and app_name is None:
        raise SettingsError(
            "the azure backend needs --app-name and --resource-group (attach to an app) or "
            "--provision --region REGION (create one)."
        )
    if not provision and resource_group is None:
        raise SettingsError("--app-name needs --resource-group, the resource group of the app.")
    if subscription_id is None:
        raise SettingsError(
            "the azure backend needs --subscription-id or the AZURE_SUBSCRIPTION_ID variable."
        )


def _backend(value: Any, *, app_name: str | None, provision: bool) -> str:
    if value is None:
        # Naming an Azure app (or asking for one) means Azure; otherwise stay off the cloud.
        value = "azure" if (app_name or provision) else "local"
    name = str(value).strip().lower()
    if name not in BACKENDS:
        raise SettingsError(
            f"--backend got {str(value)[:64]!r}; valid backends are {', '.join(BACKENDS)}."
        )
    if name not in IMPLEMENTED_BACKENDS:
        raise SettingsError(
            f"--backend {name} is not available in this version yet; "
            f"use one of {', '.join(IMPLEMENTED_BACKENDS)}."
        )
    return name


def _events(values: Sequence[str]) -> tuple[Event, ...]:
    if not values:
        return tuple(Event)
    chosen: list[Event] = []
    for name in split_list(values):
        try:
            event = Event.parse(name)
        except ValueError:
            valid = ", ".join(e.value for e in Event)
            raise SettingsError(
                f"--events got unknown event {name[:64]!r}; valid events are {valid}."
            ) from None
        if event not in chosen:
            chosen.append(event)
    return tuple(chosen)


def _app_settings(values: Sequence[str]) -> dict[str, str]:
    settings: dict[str, str] = {}
    for value in values:
        key, sep, setting = str(value).partition("=")
        key = key.strip()
        if not sep or not APP_SETTING_KEY.match(key):
            # Never echo the value: app settings carry secrets.
            shown = f" (key {key[:64]!r})" if sep else ""
            raise SettingsError(
                f"--app-setting got a value that is not KEY=VALUE{shown}; a KEY is letters, "
                "digits, '_' and '.', not starting with a digit."
            )
        # App Service matches setting names without regard to case: so does the refusal.
        reserved = next((name for name in RESERVED_APP_SETTINGS if name == key.upper()), None)
        if reserved is not None:
            raise SettingsError(
                f"--app-setting {key} cannot be given: {RESERVED_APP_SETTINGS[reserved]}."
            )
        _check_probe_setting(key, setting)
        settings[key] = setting
    return settings


def _check_probe_setting(key: str, value: str) -> None:
    """Refuse a value of an app setting the probe reads that the probe would refuse or misread
    (``probe/fsprobe/config.py``), before anything is deployed."""
    if key == MAX_THROUGHPUT_SETTING and value.strip():
        whole_number(value, f"--app-setting {key}", DEFAULT_MAX_THROUGHPUT_MIB, THROUGHPUT_MIB_MAX)
    if key == "PROBE_TOKEN" and not _TOKEN.match(value):
        # Never echo the value: it is a secret.
        raise SettingsError(
            "--app-setting PROBE_TOKEN got a value that cannot travel in the X-Probe-Token "
            "header; valid is 1 to 256 visible ASCII characters, no spaces."
        )


def _ready_timeouts(values: Sequence[str]) -> dict[Event, float]:
    timeouts: dict[Event, float] = {}
    for item in split_list(values):
        name, sep, seconds_text = item.rpartition("=")
        try:
            events = [Event.parse(name)] if sep else list(Event)
            float(seconds_text)
        except ValueError:
            raise SettingsError(
                f"--ready-timeout got {item[:64]!r}; valid is SECONDS or EVENT=SECONDS with an "
                f"event among {', '.join(e.value for e in Event)}."
            ) from None
        # ASCII only: float() also reads other scripts' digits, '1_0', 'nan' and 'inf'.
        if (
            not _ASCII_DECIMAL.match(seconds_text)
            or not 0 < float(seconds_text) <= MAX_READY_TIMEOUT
        ):
            raise SettingsError(
                f"--ready-timeout got {seconds_text[:64]!r} seconds; valid is a number of seconds "
                f"in ASCII digits, more than 0 and at most {MAX_READY_TIMEOUT:.0f}."
            )
        timeouts.update(dict.fromkeys(events, float(seconds_text)))
    return timeouts


def _fake_faults(values: Sequence[str], backend: str) -> list[str]:
    faults = split_list(values)
    for fault in faults:
        if fault not in FAKE_FAULTS:
            raise SettingsError(
                f"--fake-fault got {fault[:64]!r}; valid faults are {', '.join(FAKE_FAULTS)}."
            )
    if faults and backend != "fake":
        raise SettingsError(f"--fake-fault works only with --backend fake, not {backend}.")
    return faults


def _probe_dir(value: Any) -> Path | None:
    if value is None or str(value).strip() == "":
        return None
    folder = Path(str(value)).expanduser()
    missing = [name for name in ("app.py", "requirements.txt") if not (folder / name).is_file()]
    if missing:
        raise SettingsError(
            f"--probe-dir {str(value)[:120]!r} has no {' or '.join(missing)}; give a folder with "
            "the probe's app.py and requirements.txt."
        )
    return folder.resolve()


def _new_run_id() -> str:
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"
