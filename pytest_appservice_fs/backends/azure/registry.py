"""The probe as a custom container: an Azure Container Registry, ACR Tasks builds, AcrPull.

Provision mode creates a registry (Basic, admin user disabled) in the run's resource group and
builds the probe image there as ``az acr build`` does (Azure/azure-cli,
src/azure-cli/azure/cli/command_modules/acr/_archive_utils.py ``upload_source_code``, and
build.py ``acr_build``):

1. ``registries.get_build_source_upload_url``: a SAS URL to a blob and its ``relative_path``
   (Registries_GetBuildSourceUploadUrl);
2. the gzipped build context is PUT to that blob (azure-storage-blob ``BlobClient
   .from_blob_url(...).upload_blob(..., overwrite=True)``, as az does);
3. ``registries.begin_schedule_run`` with a ``DockerBuildRequest`` naming the image, the
   Dockerfile, ``source_location=relative_path``, Linux and push enabled (Registries_ScheduleRun,
   a long-running operation answering the queued Run);
4. ``runs.get`` until the run's ``status`` is terminal (Runs_Get; RunStatus Queued, Started,
   Running, Succeeded, Failed, Canceled, Error, Timeout).

The build calls use API version 2019-06-01-preview, as azure-cli's ``cf_acr_registries_tasks``
and ``cf_acr_runs`` do (Azure/azure-rest-api-specs, specification/containerregistry/
resource-manager/Microsoft.ContainerRegistry/preview/2019-06-01-preview/
containerregistry_build.json); the registry itself the SDK's default version (Registries_Create
in specification/containerregistry/.../stable/, containerregistry.json). The app pulls with its
system-assigned identity, which gets the built-in AcrPull role on the registry's scope through
azure-mgmt-authorization (RoleAssignments_Create: specification/authorization/resource-manager/
Microsoft.Authorization/stable/2022-04-01/authorization-RoleAssignmentsCalls.json).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import AzureError, HttpResponseError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    retry_if_exception_type,
    stop_after_delay,
    wait_fixed,
)

from pytest_appservice_fs.backends.azure.arm import LRO_SECONDS, arm_call, arm_reason, provisioned
from pytest_appservice_fs.backends.protocol import BackendError

log = logging.getLogger(__name__)

#: The API version of ACR Tasks calls, as azure-cli's acr module uses for builds and runs.
TASKS_API_VERSION = "2019-06-01-preview"
#: The built-in AcrPull role (pull images from a registry).
ACR_PULL_ROLE = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
#: Where the probe image's repository lives in the registry.
REPOSITORY = "appservice-fs-probe"
#: RunStatus values after which a run changes no more.
TERMINAL_RUN_STATUSES = frozenset({"succeeded", "failed", "canceled", "error", "timeout"})


@dataclass(frozen=True)
class BuildTiming:
    """How long an ACR Tasks run may take, and how often it is looked at, in seconds."""

    deadline: float = 1800.0
    poll_interval: float = 5.0
    #: How long a role assignment for the app's new identity is retried while Microsoft
    #: Entra ID does not know the identity yet (PrincipalNotFound), and how often.
    principal_deadline: float = 300.0
    principal_interval: float = 10.0


class _RunNotDone(Exception):
    """The run is not in a terminal status yet; the message is its status (the reason)."""


def registry_name(app_name: str) -> str:
    """A registry name for the app: 5-50 letters and digits (no hyphens), globally unique."""
    letters = "".join(c for c in app_name.lower() if c.isalnum())[:38]
    return f"{letters or 'probe'}acr{uuid.uuid4().hex[:6]}"


def image_tag(deployment_id: str) -> str:
    """The image tag of a build: the probe package's deployment id (letters and digits)."""
    return "".join(c for c in deployment_id if c.isalnum() or c in "_.-")[:128] or "latest"


@dataclass
class Registry:
    """One registry of the run's group: created once, then builds the probe image in it.

    ``acr`` is a ContainerRegistryManagementClient at its default API version, ``tasks`` one
    at TASKS_API_VERSION; ``upload`` PUTs bytes to a SAS blob URL.
    """

    acr: Any
    tasks: Any
    group: str
    name: str
    upload: Any
    timing: BuildTiming = BuildTiming()
    id: str = ""
    login_server: str = ""

    def create(self, *, location: str, tags: dict[str, str]) -> None:
        """Create the registry (Basic, admin user disabled) and learn its id and login server."""
        from azure.mgmt.containerregistry import models  # noqa: PLC0415 - the extra's SDK

        registry = models.Registry(
            location=location, sku=models.Sku(name="Basic"), admin_user_enabled=False, tags=tags
        )
        created = provisioned(
            arm_call(
                lambda: self.acr.registries.begin_create(self.group, self.name, registry).result(
                    timeout=LRO_SECONDS
                ),
                "create the container registry",
            ),
            "create the container registry",
        )
        self.id, self.login_server = str(created.id), str(created.login_server)

    def build(self, context: bytes, tag: str) -> str:
        """Build ``context`` (a gzipped tar with a Dockerfile) as REPOSITORY:``tag`` and push it.

        Returns the image reference ``<login server>/<repository>:<tag>``. Raises
        BackendError naming the run's id and status when the run ends other than Succeeded,
        or when it has not ended by the deadline.
        """
        from azure.mgmt.containerregistry.v2019_06_01_preview import (  # noqa: PLC0415
            models as task_models,
        )

        source = arm_call(
            lambda: self.tasks.registries.get_build_source_upload_url(self.group, self.name),
            "get an upload URL for the build context",
        )
        try:
            self.upload(source.upload_url, context)
        except AzureError as exc:
            # The SAS URL is a credential: the error names the blob's relative path only.
            raise BackendError(
                f"could not upload the build context to {source.relative_path}: {arm_reason(exc)}"
            ) from None
        image = f"{REPOSITORY}:{tag}"
        request = task_models.DockerBuildRequest(
            image_names=[image],
            is_push_enabled=True,
            source_location=source.relative_path,
            docker_file_path="Dockerfile",
            platform=task_models.PlatformProperties(os="Linux"),
        )
        queued = arm_call(
            lambda: self.tasks.registries.begin_schedule_run(self.group, self.name, request).result(
                timeout=LRO_SECONDS
            ),
            "schedule the image build",
        )
        run_id = str(queued.run_id)
        log.info("ACR run %s builds %s in registry %s", run_id, image, self.name)
        status = self._wait(run_id)
        if status.lower() != "succeeded":
            raise BackendError(
                f"the image build failed: ACR run {run_id} in registry {self.name} ended "
                f"{status}; see its log with: az acr task logs --registry {self.name} "
                f"--run-id {run_id}"
            )
        return f"{self.login_server}/{image}"

    def _wait(self, run_id: str) -> str:
        def look() -> str:
            run = arm_call(
                lambda: self.tasks.runs.get(self.group, self.name, run_id),
                f"read ACR run {run_id}",
            )
            status = str(getattr(run.status, "value", run.status) or "")
            if status.lower() not in TERMINAL_RUN_STATUSES:
                raise _RunNotDone(f"run {run_id} is {status or 'without status'}")
            return status

        retrying = Retrying(
            stop=stop_after_delay(self.timing.deadline),
            wait=wait_fixed(self.timing.poll_interval),
            retry=retry_if_exception_type(_RunNotDone),
            before_sleep=_log_wait,
            reraise=True,
        )
        try:
            return retrying(look)
        except _RunNotDone as exc:
            raise BackendError(
                f"the image build did not end within {self.timing.deadline:g} s ({exc}); "
                f"registry {self.name}."
            ) from None


def assign_acr_pull(
    authorization: Any, *, registry_id: str, principal_id: str, timing: BuildTiming = BuildTiming()
) -> None:
    """Give ``principal_id`` (the app's system-assigned identity) AcrPull on the registry.

    A just-created identity may not have reached every replica of Microsoft Entra ID: the
    assignment then answers 400 PrincipalNotFound. Setting ``principalType`` avoids most of
    that delay, and waiting and retrying is the documented remedy (learn.microsoft.com/azure/
    role-based-access-control/troubleshooting, "Symptom - Role assignment fails with the
    error PrincipalNotFound"): retried every ``timing.principal_interval`` s for at most
    ``timing.principal_deadline`` s. Raises BackendError naming the step and ARM's reason.
    """
    # The version of role_assignments the client uses by default.
    from azure.mgmt.authorization.v2022_04_01 import models  # noqa: PLC0415 - the extra's SDK

    subscription = registry_id.split("/")[2]
    role = f"/subscriptions/{subscription}/providers/Microsoft.Authorization/roleDefinitions/"
    parameters = models.RoleAssignmentCreateParameters(
        role_definition_id=role + ACR_PULL_ROLE,
        principal_id=principal_id,
        principal_type="ServicePrincipal",
    )
    retrying = Retrying(
        stop=stop_after_delay(timing.principal_deadline),
        wait=wait_fixed(timing.principal_interval),
        retry=retry_if_exception(_principal_not_found),
        before_sleep=_log_principal_wait,
        reraise=True,
    )
    arm_call(
        lambda: retrying(
            authorization.role_assignments.create, registry_id, str(uuid.uuid4()), parameters
        ),
        "assign the AcrPull role to the app's identity on the registry",
    )


def _principal_not_found(exc: BaseException) -> bool:
    error = getattr(exc, "error", None)
    return isinstance(exc, HttpResponseError) and getattr(error, "code", "") == "PrincipalNotFound"


def _log_principal_wait(state: RetryCallState) -> None:
    log.info(
        "the app's identity is not known to Microsoft Entra ID yet (PrincipalNotFound, try %d); "
        "retrying the AcrPull assignment",
        state.attempt_number,
    )


def upload_blob(url: str, data: bytes) -> None:
    """PUT ``data`` as a block blob at the SAS ``url``, replacing one there, as az does."""
    from azure.storage.blob import BlobClient  # noqa: PLC0415 - the extra's SDK

    BlobClient.from_blob_url(url, logging_enable=False).upload_blob(data, overwrite=True)


def _log_wait(state: RetryCallState) -> None:
    reason = state.outcome.exception() if state.outcome else None
    log.info("waiting for the image build (look %d): %s", state.attempt_number, reason)
