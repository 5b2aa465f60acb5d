"""Helpers for the Azure backend: reading what ARM returns, and saying what went wrong."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from typing import Any, TypeVar

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

from pytest_appservice_fs.backends.azure.groups import TAG_PROJECT, TAG_PROJECT_VALUE
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.probe_package import ProbePackage

CODE_DIR = "/home/site/wwwroot"
#: How long a long-running ARM operation (a plan or site PUT, a group DELETE) may take.
LRO_SECONDS = 1200

T = TypeVar("T")


def arm_call(call: Callable[[], T], what: str) -> T:
    """Run an ARM call; azure-core has retried 429 and 5xx; anything left is one sentence."""
    try:
        return call()
    except ResourceNotFoundError as exc:
        raise BackendError(f"could not {what}: not found ({arm_reason(exc)})") from None
    except AzureError as exc:
        raise BackendError(f"could not {what}: {arm_reason(exc)}") from None


def refuse_unsuitable(site: Any, config: Any, *, name: str, allow_existing_app: bool) -> None:
    """Raise BackendError, in one sentence, for an app the probe must not or cannot replace."""
    kind = (site.kind or "").lower()
    stack = (config.linux_fx_version or "").upper()
    if "linux" not in kind:
        raise BackendError(
            f"app {name} runs on Windows (kind {site.kind!r}); the probe needs App Service "
            "for Linux."
        )
    if "container" in kind or stack.startswith(("DOCKER|", "COMPOSE|")):
        raise BackendError(
            f"app {name} runs a custom container ({stack or kind}); the probe needs the "
            "built-in Python stack."
        )
    if not stack.startswith("PYTHON|"):
        raise BackendError(
            f"app {name} runs {stack or 'no stack'}, not the built-in Python stack "
            "(PYTHON|3.x) the probe needs."
        )
    tagged = (site.tags or {}).get(TAG_PROJECT) == TAG_PROJECT_VALUE
    if not tagged and not allow_existing_app:
        raise BackendError(
            f"app {name} is not tagged {TAG_PROJECT}={TAG_PROJECT_VALUE}; deploying the probe "
            "replaces its code, so tag it or pass --allow-existing-app."
        )
    if not site.client_affinity_enabled:
        raise BackendError(
            f"app {name} has client affinity off, so requests cannot be pinned to an "
            "instance; turn it on (az webapp update --client-affinity-enabled true)."
        )


def startup_command(wsgi_target: str) -> str:
    """The startup command line App Service runs: gunicorn on the probe in wwwroot."""
    package = ProbePackage(deployment_id="", data=b"", wsgi_target=wsgi_target)
    return " ".join(
        f'"{part}"' if "(" in part else part for part in package.startup_command(CODE_DIR)
    )


def scm_host(site: Any) -> str:
    """The app's Kudu (SCM) host name, as the site reports it."""
    for state in site.host_name_ssl_states or []:
        if str(state.host_type or "").lower() == "repository" and state.name:
            return str(state.name)
    for host in site.enabled_host_names or []:
        if ".scm." in host:
            return str(host)
    return f"{site.name}.scm.azurewebsites.net"


def plan_of(server_farm_id: str) -> tuple[str, str]:
    """The resource group and name of a plan, from its ARM id."""
    parts = server_farm_id.strip("/").split("/")
    lowered = [p.lower() for p in parts]
    try:
        group = parts[lowered.index("resourcegroups") + 1]
        name = parts[lowered.index("serverfarms") + 1]
    except (ValueError, IndexError):
        raise BackendError(f"the app's plan id {server_farm_id!r} is not a plan id.") from None
    return group, name


def arm_reason(exc: AzureError) -> str:
    """ARM's error code and message, or the exception's first line, kept short."""
    if isinstance(exc, HttpResponseError) and exc.error is not None:
        return f"{exc.error.code}: {exc.error.message}"[:300]
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def creator() -> str:
    """Who starts the run, for the resource group's creator tag."""
    who = os.environ.get("GITHUB_ACTOR")
    if who:
        return f"github:{who}"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
