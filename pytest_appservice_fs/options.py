"""What can be set, and where from: every option with its ini key and environment variables.

This module is all the plugin imports at pytest's start (with ``keys``): it names the options,
reads their raw values and holds the checks of one value (a number, a flag, a path), and nothing
here imports the engine. Building the settings is ``config.resolve``'s work, done only in a
session that needs it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_appservice_fs.contract import (
    APPEND_RECORDS_MAX,
    LATENCY_ITERATIONS_MAX,
    LATENCY_SIZE_MAX,
    THROUGHPUT_ITERATIONS_MAX,
    THROUGHPUT_MIB_MAX,
    THROUGHPUT_SIZES_MAX,
)

#: The events' names, for the options' help (``model.Event`` holds them; a test keeps the two
#: equal, so that loading the plugin need not import the model).
EVENT_NAMES = (
    "restart",
    "stop_start",
    "deploy",
    "scale_out",
    "scale_in",
    "app_setting_change",
    "restart_soft",
    "sku_change",
    "plan_restart",
)
#: The hypotheses' names, for the appservice_cells marker's help (``expectations.HYPOTHESES``
#: describes them; a test keeps the two equal).
HYPOTHESIS_NAMES = ("H1", "H2", "H3", "H4", "paths", "lifecycle", "mounts", "latency", "H5")

BACKENDS = ("fake", "local", "azure")
#: Backends this version can run; the others are accepted names that fail with a clear reason.
IMPLEMENTED_BACKENDS = ("fake", "local", "azure")
RESTART_MODES = ("platform", "soft")
RUNTIMES = ("code", "container")
MOUNT_KINDS = ("files", "files-nfs", "blob")
#: At most this many --mount mounts (App Service allows a handful per app; they count
#: against the probe's allowlist with --path's paths, ``contract.ALLOWLIST_MAX``).
MOUNTS_MAX = 4
DEFAULT_SKU = "B1"
FAKE_FAULTS = ("home-not-persistent", "noop-restart", "transient-503", "stale-marker")
MAX_READY_TIMEOUT = 7200.0
#: At most this many --path paths: with the matrix's own paths they stay within the probe's
#: allowlist, ``contract.ALLOWLIST_MAX`` (tests/test_contract.py checks the sum).
USER_PATHS_MAX = 8
#: An app setting's key, as --app-setting takes it.
APP_SETTING_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\Z")
#: Words a flag takes for "off" (``config`` refuses any word that is neither on nor off).
_FALSE_WORDS = ("0", "false", "no", "off", "")
#: A whole number as the options take it: ASCII digits only (see whole_number).
ASCII_NUMBER = re.compile(r"[0-9]{1,12}\Z")

IniGetter = Callable[[str], Any]


class SettingsError(ValueError):
    """An option, ini key or environment variable with a value that cannot be used."""


@dataclass(frozen=True)
class OptionSpec:
    """Where one setting can come from: its flag, its ini key and its environment variables."""

    dest: str
    flag: str
    help: str
    kind: str = "text"  # text | flag | list
    env: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def ini(self) -> str:
        """The ini key: the flag's name with the plugin's prefix."""
        return "appservice_fs_" + self.dest


OPTIONS: tuple[OptionSpec, ...] = (
    OptionSpec(
        "backend",
        "--backend",
        "where the app runs: fake, local or azure (default: azure when --app-name or "
        "--provision is given, otherwise local)",
        env=("APPSERVICE_FS_BACKEND",),
        metavar="NAME",
    ),
    OptionSpec(
        "app_name",
        "--app-name",
        "name of the App Service app",
        env=("APPSERVICE_FS_APP_NAME",),
        metavar="NAME",
    ),
    OptionSpec(
        "resource_group",
        "--resource-group",
        "resource group of the app",
        env=("APPSERVICE_FS_RESOURCE_GROUP",),
        metavar="NAME",
    ),
    OptionSpec(
        "subscription_id",
        "--subscription-id",
        "Azure subscription id",
        env=("APPSERVICE_FS_SUBSCRIPTION_ID", "AZURE_SUBSCRIPTION_ID"),
        metavar="ID",
    ),
    OptionSpec(
        "region", "--region", "Azure region, such as westeurope", env=("APPSERVICE_FS_REGION",)
    ),
    OptionSpec("sku", "--sku", "App Service plan SKU, such as B1", env=("APPSERVICE_FS_SKU",)),
    OptionSpec(
        "provision",
        "--provision",
        "create an app for the run and delete it afterwards",
        kind="flag",
        env=("APPSERVICE_FS_PROVISION",),
    ),
    OptionSpec(
        "allow_existing_app",
        "--allow-existing-app",
        "azure attach mode: deploy the probe to an app not tagged as a probe app (it replaces "
        "the app's code)",
        kind="flag",
        env=("APPSERVICE_FS_ALLOW_EXISTING_APP",),
    ),
    OptionSpec(
        "restart_mode",
        "--restart-mode",
        "azure: 'platform' restarts as az webapp restart does (default); 'soft' sets "
        "softRestart=true",
        env=("APPSERVICE_FS_RESTART_MODE",),
        metavar="MODE",
    ),
    OptionSpec(
        "soft_restart_timeout",
        "--soft-restart-timeout",
        "seconds after a soft restart (restart_soft, or restart with --restart-mode soft) "
        "after which a probe process that kept running proves the restart was a no-op "
        "(softRestart restarts only if necessary; default 120)",
        env=("APPSERVICE_FS_SOFT_RESTART_TIMEOUT",),
        metavar="SECONDS",
    ),
    OptionSpec(
        "keep_resources",
        "--keep-resources",
        "keep what the run created, and print how to remove it",
        kind="flag",
        env=("APPSERVICE_FS_KEEP_RESOURCES",),
    ),
    OptionSpec(
        "events",
        "--events",
        "comma-separated events to fire (default: all): " + ", ".join(EVENT_NAMES),
        kind="list",
        env=("APPSERVICE_FS_EVENTS",),
        metavar="LIST",
    ),
    OptionSpec(
        "app_settings",
        "--app-setting",
        "app setting KEY=VALUE for the probe app (repeatable)",
        kind="list",
        env=("APPSERVICE_FS_APP_SETTINGS",),
        metavar="KEY=VALUE",
    ),
    OptionSpec(
        "evidence_report",
        "--evidence-report",
        "write the evidence matrix as Markdown to this file",
        env=("APPSERVICE_FS_EVIDENCE_REPORT",),
        metavar="PATH",
    ),
    OptionSpec(
        "ready_timeout",
        "--ready-timeout",
        "seconds to wait for proof that an event took effect: SECONDS or EVENT=SECONDS "
        "(repeatable; default depends on the backend)",
        kind="list",
        env=("APPSERVICE_FS_READY_TIMEOUT",),
        metavar="[EVENT=]SECONDS",
    ),
    OptionSpec(
        "run_id",
        "--run-id",
        "identifier of this run in evidence and resource names (default: time and random)",
        env=("APPSERVICE_FS_RUN_ID",),
        metavar="ID",
    ),
    OptionSpec(
        "probe_dir",
        "--probe-dir",
        "deploy the probe in this folder (app.py, requirements.txt and any modules beside "
        "them) instead of the bundled one; a lab probe with only its four endpoints works, "
        "with less evidence",
        env=("APPSERVICE_FS_PROBE_DIR",),
        metavar="PATH",
    ),
    OptionSpec(
        "local_base_image",
        "--local-base-image",
        "local backend: the image the probe runtime builds on (default: python:3.11-slim, "
        "else the Debian-built " + "pytest-appservice-fs/base:bookworm)",
        env=("APPSERVICE_FS_LOCAL_BASE_IMAGE",),
        metavar="IMAGE",
    ),
    OptionSpec(
        "latency_size",
        "--latency-size",
        f"bytes per write in the latency test (default 4096; 1 to {LATENCY_SIZE_MAX})",
        env=("APPSERVICE_FS_LATENCY_SIZE",),
        metavar="BYTES",
    ),
    OptionSpec(
        "latency_iterations",
        "--latency-iterations",
        "writes and reads per path in the latency test "
        f"(default 10; 1 to {LATENCY_ITERATIONS_MAX})",
        env=("APPSERVICE_FS_LATENCY_ITERATIONS",),
        metavar="N",
    ),
    OptionSpec(
        "throughput_sizes",
        "--throughput-sizes",
        f"H5 file sizes in MiB, comma-separated (default per backend: 1,16,128; at most "
        f"{THROUGHPUT_SIZES_MAX} sizes of 1 to {THROUGHPUT_MIB_MAX})",
        kind="list",
        env=("APPSERVICE_FS_THROUGHPUT_SIZES",),
        metavar="MIB",
    ),
    OptionSpec(
        "throughput_iterations",
        "--throughput-iterations",
        f"H5 writes and reads per size (default 1; 1 to {THROUGHPUT_ITERATIONS_MAX})",
        env=("APPSERVICE_FS_THROUGHPUT_ITERATIONS",),
        metavar="N",
    ),
    OptionSpec(
        "append_records",
        "--append-records",
        f"H4 records each of the two writers appends (default 200; 1 to {APPEND_RECORDS_MAX})",
        env=("APPSERVICE_FS_APPEND_RECORDS",),
        metavar="N",
    ),
    OptionSpec(
        "paths",
        "--path",
        "one more absolute path to test on every event, observed (repeatable; at most "
        f"{USER_PATHS_MAX}); the probe allowlists it through its PROBE_PATHS app setting",
        kind="list",
        env=("APPSERVICE_FS_PATHS",),
        metavar="PATH",
    ),
    OptionSpec(
        "runtime",
        "--runtime",
        "how the probe runs: code (App Service's built-in Python stack, the default) or "
        "container (a custom container with the probe baked into the image)",
        env=("APPSERVICE_FS_RUNTIME",),
        metavar="RUNTIME",
    ),
    OptionSpec(
        "app_service_storage",
        "--app-service-storage",
        "on (the default) or off: sets WEBSITES_ENABLE_APP_SERVICE_STORAGE, whether /home is "
        "the app's persistent share; picks the expectation matrix",
        env=("APPSERVICE_FS_APP_SERVICE_STORAGE",),
        metavar="on|off",
    ),
    OptionSpec(
        "mounts",
        "--mount",
        "an Azure Storage mount to test on every event: PATH=files (Azure Files, SMB), "
        f"PATH=files-nfs or PATH=blob (read-only) (repeatable; at most {MOUNTS_MAX})",
        kind="list",
        env=("APPSERVICE_FS_MOUNTS",),
        metavar="PATH=KIND",
    ),
    OptionSpec(
        "image",
        "--image",
        "azure attach mode with --runtime container: the probe image the app pulls, built "
        "from the probe's image context and pushed by you",
        env=("APPSERVICE_FS_IMAGE",),
        metavar="REF",
    ),
    OptionSpec(
        "fake_faults",
        "--fake-fault",
        "fake backend only: inject a fault to see the harness catch it (repeatable): "
        + ", ".join(FAKE_FAULTS),
        kind="list",
        env=("APPSERVICE_FS_FAKE_FAULTS",),
        metavar="FAULT",
    ),
)


def pick(
    spec: OptionSpec, cli: Mapping[str, Any], ini: IniGetter, environ: Mapping[str, str]
) -> tuple[Any, str | None]:
    """The setting's raw value and where it came from (None: nowhere, the default).

    Which wins, per setting: the command line, then the environment, then the ini file, as
    pytest-django does, so that CI can override a repository's ini through the environment.
    A list setting is taken whole from the first source that has it.
    """
    value = cli.get(spec.dest)
    if value not in (None, [], False):
        return value, "command line"
    for name in spec.env:
        if environ.get(name, "").strip():
            text = environ[name]
            source = f"environment {name}"
            if spec.kind != "list":
                return text.strip(), source
            separator = "\n" if spec.dest == "app_settings" else ","
            return [part for part in text.split(separator) if part.strip()], source
    value = ini(spec.ini)
    if value not in (None, "", [], False):
        return value, f"ini {spec.ini}"
    return ([] if spec.kind == "list" else None), None


def header(cli: Mapping[str, Any], ini: IniGetter, environ: Mapping[str, str]) -> list[str]:
    """The report header's lines: each setting that is not the default, its value as given
    (unchecked; app setting values hidden) and where it came from."""
    origins = []
    for spec in OPTIONS:
        value, source = pick(spec, cli, ini, environ)
        if source is None:
            continue
        if spec.kind == "flag" and str(value).strip().lower() in _FALSE_WORDS:
            continue  # an explicit "false" is the default
        if spec.dest == "app_settings":
            # Only well-formed keys: a malformed item (no '=') may be a secret typed whole.
            shown = ",".join(f"{_setting_key(str(item))}=***" for item in value)
        elif spec.kind == "list":
            shown = ",".join(str(item).strip() for item in value)
        else:
            shown = str(value).strip()
        origins.append(f"appservice-fs: {spec.flag} {shown[:200]} (from {source})")
    return origins


def _setting_key(item: str) -> str:
    """An app setting's key as the header may show it: well formed, or a placeholder."""
    key, sep, _ = item.partition("=")
    key = key.strip()
    return key if sep and APP_SETTING_KEY.match(key) else "<malformed>"


# --- single values, checked the same way wherever they come from --------------------------


def split_list(values: Sequence[str]) -> list[str]:
    """The items of a list setting: each value split at commas, stripped, blanks dropped."""
    return [part.strip() for value in values for part in str(value).split(",") if part.strip()]


def whole_number(value: Any, flag: str, default: int, most: int) -> int:
    """``value`` as a whole number from 1 to ``most`` (ASCII digits only), ``default`` when
    unset; SettingsError naming ``flag`` otherwise."""
    if value is None or str(value).strip() == "":
        return default
    text = str(value).strip()
    # ASCII digits only: str.isdigit() also takes '²' (which int() refuses) and other scripts'
    # digits (which int() reads), neither of which a user means as a number here.
    if not ASCII_NUMBER.match(text) or not 1 <= int(text) <= most:
        raise SettingsError(f"{flag} got {text[:64]!r}; valid is a whole number from 1 to {most}.")
    return int(text)


def choice(value: Any, flag: str, valid: Sequence[str]) -> str:
    """``value`` lowercased when among ``valid``, the first when unset (None); SettingsError
    otherwise, also for a value given empty (a typo must not pick the default silently)."""
    if value is None:
        return valid[0]
    text = str(value).strip().lower()
    if text not in valid:
        raise SettingsError(f"{flag} got {str(value)[:64]!r}; valid values are {', '.join(valid)}.")
    return text


def flag_value(value: Any, flag: str) -> bool:
    """A flag's word as a bool (true/false, 1/0, yes/no, on/off); SettingsError otherwise."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{flag} got {value!r}; valid values are true or false.")


def optional_text(value: Any, flag: str, pattern: re.Pattern[str], valid: str) -> str | None:
    """``value`` stripped when ``pattern`` matches it, None when unset; SettingsError naming
    ``flag`` and what is ``valid`` otherwise."""
    if value is None or str(value).strip() == "":
        return None
    text = str(value).strip()
    if not pattern.match(text):
        raise SettingsError(f"{flag} got {text[:64]!r}; valid is {valid}.")
    return text


def report_path(value: Any) -> Path | None:
    """The --evidence-report path, None when unset; SettingsError when the report could not be
    written there at the end of the run (checked now, creating nothing)."""
    if value is None or str(value).strip() == "":
        return None
    path = Path(str(value))
    try:
        problem = _unwritable(path)
    except (OSError, ValueError) as exc:
        problem = f"cannot be reached ({type(exc).__name__})"
    if problem:
        raise SettingsError(
            f"--evidence-report got {str(value)[:120]!r}, which {problem}; valid is a file path "
            "in a folder that exists or can be created."
        )
    return path


def _unwritable(path: Path) -> str | None:
    """Why the report cannot be written to ``path`` at the end of the run, or None; nothing is
    created now (a run refused later must leave no folder behind)."""
    if path.is_dir():
        return "is a folder"
    if path.exists():
        return None if os.access(path, os.W_OK) else "is a file that cannot be written"
    folder = path.absolute().parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"needs a folder where the file {str(folder)[:120]} is"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"needs a folder in {str(folder)[:120]}, which cannot be written"
    return None
