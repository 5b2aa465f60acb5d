"""Helpers for the Azure backend: reading what ARM returns, and saying what went wrong."""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)

from pytest_appservice_fs.backends.azure.groups import TAG_PROJECT, TAG_PROJECT_VALUE
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.probe_package import ProbePackage

CODE_DIR = "/home/site/wwwroot"
#: How long a long-running ARM operation (a plan or site PUT, a group DELETE) may take.
LRO_SECONDS = 1200
#: ARM's codes for a token that expired during the run: ExpiredAuthenticationToken as ARM
#: answers it (a 401 ``{"error": {"code": "ExpiredAuthenticationToken", "message": "The access
#: token expiry UTC time ... is earlier than current UTC time ..."}}``, quoted in
#: Azure/apiops#671), InvalidAuthenticationTokenExpired as some providers name it.
EXPIRED_TOKEN_CODES = frozenset({"expiredauthenticationtoken", "invalidauthenticationtokenexpired"})
SIGN_IN_AGAIN = "the Azure sign-in expired during the run; sign in again (az login) and rerun"

T = TypeVar("T")


def arm_call(call: Callable[[], T], what: str) -> T:
    """Run an ARM call; azure-core has retried 429 and 5xx; anything left is one sentence."""
    try:
        return call()
    except ResourceNotFoundError as exc:
        raise BackendError(f"could not {what}: not found ({arm_reason(exc)})") from None
    except AzureError as exc:
        raise BackendError(f"could not {what}: {arm_reason(exc)}") from None


def provisioned(resource: T, what: str) -> T:
    """``resource`` as a long-running PUT left it; BackendError when its provisioning failed.

    Microsoft.Web declares ``Location`` polling for the site and plan PUTs
    (Azure/azure-rest-api-specs, specification/web/resource-manager/Microsoft.Web/AppService/
    Site.tsp and AppServicePlan.tsp: ``ArmLroLocationHeader<FinalResult = ...>``); azure-core's
    LocationPolling judges by status code alone, so a final 200 whose body says
    ``provisioningState: Failed`` (a plan's ProvisioningState: Succeeded, Failed, Canceled,
    InProgress, Deleting) comes back as a result, not an error.
    """
    state = getattr(resource, "provisioning_state", None)
    state = str(getattr(state, "value", state) or "")  # an enum member or a string
    if state.lower() in ("failed", "canceled"):
        raise BackendError(f"could not {what}: ARM reports its provisioning state as {state}.")
    return resource


def refuse_unsuitable(
    site: Any, config: Any, *, name: str, allow_existing_app: bool, container: bool = False
) -> None:
    """Raise BackendError, in one sentence, for an app the probe must not or cannot replace.

    With ``container`` the probe image replaces the app's stack, so any Linux stack will do.
    """
    kind = (site.kind or "").lower()
    stack = (config.linux_fx_version or "").upper()
    if "linux" not in kind:
        raise BackendError(
            f"app {name} runs on Windows (kind {site.kind!r}); the probe needs App Service "
            "for Linux."
        )
    custom = "container" in kind or stack.startswith(("DOCKER|", "COMPOSE|"))
    if not container and custom:
        raise BackendError(
            f"app {name} runs a custom container ({stack or kind}); the probe needs the "
            "built-in Python stack."
        )
    if not container and not stack.startswith("PYTHON|"):
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
    """ARM's error code and message, or the exception's first line, kept short.

    The code and message are read from the response body in either shape ARM answers:
    ``{"error": {"code", "message"}}`` (ARM's own, and Microsoft.Resources), or Microsoft.Web's
    top-level ``{"Code", "Message", "Target", "Details", "Innererror"}``, as recorded in
    Azure/azure-sdk-for-python sdk/appservice/azure-mgmt-web/tests/recordings/
    test_cli_mgmt_web_app.test_web_app.yaml (a 404 ``{"Code":"NotFound","Message":"Cannot find
    ServerFarm with name myappserviceplan.",...}``). azure-core parses only the first, so for
    the second its text is "Operation returned an invalid status 'Not Found'". A token that
    expired during the run says so, and what to do.
    """
    reason = _body_reason(exc)
    if reason is None and isinstance(exc, HttpResponseError) and exc.error is not None:
        reason = (exc.error.code or "", exc.error.message or "")
    if reason is not None:
        code, message = reason
        text = f"{code}: {message}" if code and message else code or message
        if code.lower() in EXPIRED_TOKEN_CODES:
            text = f"{SIGN_IN_AGAIN} ({text})"
        return text[:300]
    lines = str(exc).strip().splitlines()
    first = (lines[0] if lines else type(exc).__name__)[:200]
    if isinstance(exc, ClientAuthenticationError):
        # The credential itself refused a new token: the sign-in ran out mid-run.
        return f"{SIGN_IN_AGAIN} ({first})"
    return first


def _body_reason(exc: AzureError) -> tuple[str, str] | None:
    """(code, message) from the error body of ``exc``'s response, in either shape, if any."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    try:
        body = json.loads(response.text())
    except (ValueError, TypeError, AttributeError):
        return None
    return error_of(body)


def error_of(body: Any) -> tuple[str, str] | None:
    """(code, message) from an ARM error body, standard or Microsoft.Web shape; None if neither."""
    if not isinstance(body, Mapping):
        return None
    inner = body.get("error")
    error = inner if isinstance(inner, Mapping) else body
    # Keys compared without case: Microsoft.Web writes Code and Message, ARM code and message.
    fields = {str(key).lower(): value for key, value in error.items()}
    code, message = fields.get("code"), fields.get("message")
    if not (isinstance(code, str) and code) and not (isinstance(message, str) and message):
        return None
    return (code if isinstance(code, str) else ""), (message if isinstance(message, str) else "")


def creator() -> str:
    """Who starts the run, for the resource group's creator tag."""
    who = os.environ.get("GITHUB_ACTOR")
    if who:
        return f"github:{who}"
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
