"""The Azure backend under each configuration (runtime, App Service storage, mounts), through
the real SDKs against the simulator: the ARM calls it makes, in order, and the cells it gives.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("azure.mgmt.containerregistry")
pytest.importorskip("azure.mgmt.storage")

from pytest_appservice_fs.backends.azure import AzureBackend, AzureTarget
from pytest_appservice_fs.backends.azure.kudu import KuduTiming
from pytest_appservice_fs.backends.azure.registry import BuildTiming
from pytest_appservice_fs.backends.protocol import BackendError, BackendTiming
from pytest_appservice_fs.engine.configuration import Configuration, Mount, MountKind, Runtime
from pytest_appservice_fs.engine.controller import TriggerController
from pytest_appservice_fs.engine.expectations import MOUNTS, matrix_for
from pytest_appservice_fs.engine.model import Event, Outcome
from pytest_appservice_fs.engine.probe_client import ProbeTiming
from pytest_appservice_fs.engine.probe_package import (
    build_package,
    default_probe_dir,
    image_build_id,
    image_context,
)
from pytest_appservice_fs.events import default_registry
from pytest_appservice_fs.evidence.judge import judge_path
from tests.azure.conftest import FakeCredential
from tests.azure.simulator import AzureSimulator

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
GROUP = "rg-probe"
APP = "probe-app"
CLIENT = {"polling_interval": 0, "retry_backoff_factor": 0.01, "retry_total": 0}
TIMING = BackendTiming(
    default_ready_timeout=5.0,
    poll_interval=0.01,
    probe=ProbeTiming(request_timeout=5.0, retry_deadline=2.0, wait_initial=0.01, wait_max=0.05),
)
BUILD = BuildTiming(deadline=5.0, poll_interval=0.0, principal_deadline=5.0, principal_interval=0.0)
KUDU = KuduTiming(start_deadline=2.0, finish_deadline=5.0, poll_interval=0.01, wait_initial=0.01)
EVENTS = (Event.RESTART, Event.STOP_START, Event.DEPLOY, Event.SCALE_OUT)
#: The ARM collections whose next path segment is a name: shown as {name} in a call list.
_NAMED = re.compile(
    r"(?i)/(subscriptions|resourcegroups|sites|serverfarms|registries|runs|storageaccounts"
    r"|shares|containers|roleassignments|operationresults)/[^/]+"
)

CONFIGURATIONS = {
    "code-on": Configuration(),
    "code-off": Configuration(app_service_storage=False),
    "container-on": Configuration(runtime=Runtime.CONTAINER),
    "container-off": Configuration(runtime=Runtime.CONTAINER, app_service_storage=False),
    "code-on-files": Configuration(mounts=(Mount("/mnt/share", MountKind.FILES),)),
    "code-on-blob": Configuration(mounts=(Mount("/mnt/ro", MountKind.BLOB),)),
}

MakeBackend = Callable[..., AzureBackend]


def paths_of(configuration: Configuration) -> tuple[str, ...]:
    """Every path the configuration's Azure matrix has a cell for."""
    return matrix_for("azure", configuration).all_paths


@pytest.fixture
def make_backend(credential: FakeCredential) -> Iterator[MakeBackend]:
    """Build Azure backends for a configuration on the simulator; tear them down after."""
    made: list[AzureBackend] = []

    def make(
        configuration: Configuration, *, image: str | None = None, **target: Any
    ) -> AzureBackend:
        fields = {"subscription_id": SUBSCRIPTION, "app_name": APP, "resource_group": GROUP}
        backend = AzureBackend(
            AzureTarget(**{**fields, **target}),
            run_id="run-1",
            app_settings={"PROBE_PATHS": ",".join(paths_of(configuration))},
            credential=credential,
            client_options=CLIENT,
            timing=TIMING,
            kudu_timing=KUDU,
            configuration=configuration,
            image=image,
            build_timing=BUILD,
        )
        made.append(backend)
        return backend

    yield make
    for backend in made:
        with contextlib.suppress(BackendError):
            backend.teardown()


def controller_for(backend: AzureBackend) -> TriggerController:
    """A controller for the backend's configuration, its matrix's paths written."""
    return TriggerController(
        backend,
        run_id="run-1",
        paths=paths_of(backend.configuration),
        package_factory=lambda: build_package(default_probe_dir()),
        triggers=default_registry(soft_restart_timeout=0.5),
    )


def arm_calls(simulator: AzureSimulator) -> list[str]:
    """The ARM calls made, 'METHOD path template', without reads and LRO polls."""
    calls = []
    for method, target in simulator.arm_calls():
        path = target.split("?")[0]
        if method in ("GET", "HEAD") or "operationresults" in path.lower():
            continue
        calls.append(f"{method} {_NAMED.sub(lambda m: f'/{m[1]}/{{{m[1]}}}', path)}")
    return calls


_GROUP = "PUT /subscriptions/{subscriptions}/resourcegroups/{resourcegroups}"
_RG = "/subscriptions/{subscriptions}/resourceGroups/{resourceGroups}/providers"
_PLAN = f"PUT {_RG}/Microsoft.Web/serverfarms/{{serverfarms}}"
_SITE = f"PUT {_RG}/Microsoft.Web/sites/{{sites}}"
_REGISTRY = f"{_RG}/Microsoft.ContainerRegistry/registries/{{registries}}"
_ACCOUNT = f"{_RG}/Microsoft.Storage/storageAccounts/{{storageAccounts}}"
_BUILD = [f"POST {_REGISTRY}/listBuildSourceUploadUrl", f"POST {_REGISTRY}/scheduleRun"]
_CONFIG_WEB = f"PATCH {_RG}/Microsoft.Web/sites/{{sites}}/config/web"
_SETTINGS = f"PUT {_RG}/Microsoft.Web/sites/{{sites}}/config/appsettings"
_MOUNTS = f"PUT {_RG}/Microsoft.Web/sites/{{sites}}/config/azurestorageaccounts"

#: The ARM calls that create each configuration's app and fire DEPLOY (no reads, no polls).
EXPECTED_CALLS = {
    "code-on": [_GROUP, _PLAN, _SITE],
    "code-off": [_GROUP, _PLAN, _SITE],
    "container-on": [
        _GROUP,
        _PLAN,
        f"PUT {_REGISTRY}",
        _SITE,
        "PUT /subscriptions/{subscriptions}/resourceGroups/{resourceGroups}/providers/"
        "Microsoft.ContainerRegistry/registries/{registries}/providers/"
        "Microsoft.Authorization/roleAssignments/{roleAssignments}",
        *_BUILD,
        _CONFIG_WEB,
    ],
    "code-on-files": [
        _GROUP,
        _PLAN,
        _SITE,
        f"PUT {_ACCOUNT}",
        f"PUT {_ACCOUNT}/fileServices/default/shares/{{shares}}",
        f"POST {_ACCOUNT}/listKeys",
        _MOUNTS,
    ],
    "code-on-blob": [
        _GROUP,
        _PLAN,
        _SITE,
        f"PUT {_ACCOUNT}",
        f"PUT {_ACCOUNT}/blobServices/default/containers/{{containers}}",
        f"POST {_ACCOUNT}/listKeys",
        _MOUNTS,
    ],
}
EXPECTED_CALLS["container-off"] = EXPECTED_CALLS["container-on"]


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_each_configuration_gives_the_azure_matrix_through_the_real_sdks(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, name: str
) -> None:
    """Provision, deploy and fire the events: every cell as the Azure matrix expects (observe
    cells recorded), and the ARM calls that made the app in order."""
    configuration = CONFIGURATIONS[name]
    backend = make_backend(configuration, provision=True, region="koreacentral")
    controller = controller_for(backend)
    controller.start()
    assert arm_calls(azure_simulator) == EXPECTED_CALLS[name]
    site = azure_simulator.site(APP)
    assert site.app_settings["WEBSITES_ENABLE_APP_SERVICE_STORAGE"] == configuration.storage_setting
    matrix = matrix_for("azure", configuration)
    for event in EVENTS:
        observation = controller.observe(event)
        assert observation.proven, observation.error
        for hypothesis in ("H1", "H2", "H3", MOUNTS):
            for cell in matrix.path_cells(hypothesis, [event]):
                verdict = judge_path(observation, cell, backend="azure")
                assert verdict.passed, (event, cell, verdict)
                assert verdict.observed  # observe cells too: what was seen is recorded


def test_a_container_app_pulls_its_image_with_its_identity(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """The registry is Basic without admin user; the site runs DOCKER|<login server>/repo:tag
    (the deployment id as tag), pulls with its identity, which holds AcrPull on the registry;
    each deploy is a new build whose DEPLOYMENT_ID the probe reports."""
    backend = make_backend(CONFIGURATIONS["container-on"], provision=True, region="koreacentral")
    controller = controller_for(backend)
    controller.start()
    (registry,) = azure_simulator.registries.values()
    assert (registry.sku, registry.admin_user_enabled) == ("Basic", False)
    site = azure_simulator.site(APP)
    stack = site.site_config["linuxFxVersion"]
    assert stack.startswith(f"DOCKER|{registry.login_server}/appservice-fs-probe:")
    assert site.site_config["acrUseManagedIdentityCreds"] is True
    assert site.site_config.get("appCommandLine", "") == ""
    assert site.app_settings["WEBSITES_PORT"] == "8000"
    assert azure_simulator.role_assignments == [
        (
            azure_simulator.registry_id(registry).lower(),
            f"/subscriptions/{SUBSCRIPTION}/providers/microsoft.authorization/roledefinitions/"
            "7f951dda-4ed3-4680-a7ca-43fe172d538d",
            site.principal_id,
        )
    ]
    identity = controller.observe(Event.DEPLOY)
    assert identity.proven, identity.error
    assert site.site_config["linuxFxVersion"] != stack  # a new tag
    assert len(registry.runs) == 2
    backend.teardown()
    assert azure_simulator.registries == {}  # the registry went with the group


def test_a_failed_build_names_the_run_and_its_status(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """An ACR run that ends Failed is a BackendError naming the run id and its status."""
    backend = make_backend(CONFIGURATIONS["container-on"], provision=True, region="koreacentral")
    backend.create()
    azure_simulator.fail_next_build_run()
    with pytest.raises(BackendError, match=r"ACR run ca1 in registry \w+ ended Failed"):
        backend.deploy(build_package(default_probe_dir()))


def test_a_refused_role_assignment_stops_the_provisioning(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """A 403 on the role assignment is one sentence naming the step and ARM's reason."""
    azure_simulator.arm_error_next(
        "PUT",
        r"/roleAssignments/",
        403,
        "AuthorizationFailed",
        "The client does not have authorization to perform action "
        "'Microsoft.Authorization/roleAssignments/write'.",
    )
    backend = make_backend(CONFIGURATIONS["container-on"], provision=True, region="koreacentral")
    with pytest.raises(
        BackendError, match=r"^could not assign the AcrPull role .*: AuthorizationFailed: "
    ):
        backend.create()


def test_attach_runs_the_image_given_and_puts_the_stack_back(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """Attach mode with --image: linuxFxVersion DOCKER|image, the image's build id answers,
    DEPLOY is unsupported with a reason, and teardown restores the old stack and settings."""
    package = build_package(default_probe_dir(), deployment_id="build42")
    image = azure_simulator.add_registry_image(
        "rg-images", "userregistry", "probe:v1", image_context(package)
    )
    azure_simulator.add_existing_app(GROUP, APP, tags={"pytest-appservice-fs": "probe"})
    backend = make_backend(
        Configuration(runtime=Runtime.CONTAINER), image=image, allow_existing_app=True
    )
    backend.create()
    site = azure_simulator.site(APP)
    assert site.site_config["linuxFxVersion"] == f"DOCKER|{image}"
    assert "image given" in backend.unsupported[Event.DEPLOY]
    identity = backend.probe().identity()
    assert identity is not None
    assert identity.deployment_id == "build42"
    backend.teardown()
    assert site.site_config["linuxFxVersion"] == "PYTHON|3.11"
    assert "WEBSITES_ENABLE_APP_SERVICE_STORAGE" not in site.app_settings


def test_attach_without_image_asks_for_one_before_any_call(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """A container app in attach mode needs --image: one sentence, no request made."""
    backend = make_backend(Configuration(runtime=Runtime.CONTAINER))
    with pytest.raises(BackendError, match=r"^a container app in attach mode .* give --image "):
        backend.create()
    assert azure_simulator.requests == []


def test_attach_refuses_a_mount_the_app_lacks_and_names_its_mounts(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """Every --mount must be one of the app's azureStorageAccounts (path and kind)."""
    site = azure_simulator.add_existing_app(GROUP, APP, tags={"pytest-appservice-fs": "probe"})
    azure_simulator.add_storage_mount(site, "/mnt/share")
    wanted = Configuration(mounts=(Mount("/mnt/other", MountKind.FILES),))
    backend = make_backend(wanted)
    with pytest.raises(
        BackendError, match=r"has no mount /mnt/other=files; .* it has: /mnt/share=files\.$"
    ):
        backend.create()
    attached = make_backend(Configuration(mounts=(Mount("/mnt/share", MountKind.FILES),)))
    attached.create()  # the app's own mount is accepted


def test_the_account_key_is_never_shown(
    azure_simulator: AzureSimulator,
    make_backend: MakeBackend,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The key read with listKeys reaches the site's mount entry, and no log, output or error."""
    caplog.set_level(logging.DEBUG)
    configuration = CONFIGURATIONS["code-on-files"]
    backend = make_backend(configuration, provision=True, region="koreacentral")
    backend.create()
    (account,) = azure_simulator.storage_accounts.values()
    (entry,) = azure_simulator.site(APP).storage_mounts.values()
    assert entry["accessKey"] == account.key
    backend.teardown()
    failing = make_backend(configuration, provision=True, region="koreacentral", app_name="app2")
    azure_simulator.arm_error_next("PUT", r"/azurestorageaccounts", 400, "BadRequest", "refused")
    with pytest.raises(BackendError) as refused:
        failing.create()
    out, err = capsys.readouterr()
    shown = [caplog.text, out, err, str(refused.value), repr(backend), repr(failing)]
    keys = [a.key for a in azure_simulator.storage_accounts.values()] + [account.key]
    assert all(key not in text for key in keys for text in shown)


def test_a_blob_mount_refuses_writes_with_erofs(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """The probe's write to a Blob mount fails with EROFS: the judge calls it write_refused."""
    backend = make_backend(CONFIGURATIONS["code-on-blob"], provision=True, region="koreacentral")
    controller_for(backend).start()
    _, written = backend.probe().write("n1", ["/mnt/ro", "/tmp/data"])
    assert written["/mnt/ro"].errno == "EROFS"
    assert written["/tmp/data"].errno is None
    assert Outcome.WRITE_REFUSED in {
        cell.expected for cell in matrix_for("azure", CONFIGURATIONS["code-on-blob"]).paths
    }


@pytest.mark.parametrize(
    ("built", "proven"), [("0123456789abcdef", True), ("fedcba9876543210", False)]
)
def test_attach_with_image_proves_the_image_by_its_tagged_build_id(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, built: str, proven: bool
) -> None:
    """The first deploy of an attached container app is proven by the probe reporting the
    build id the --image tag names; an image whose build is another is caught."""
    inside = build_package(default_probe_dir(), deployment_id=built)
    image = azure_simulator.add_registry_image(
        "rg-images", "userregistry", "probe:0123456789abcdef", image_context(inside)
    )
    azure_simulator.add_existing_app(GROUP, APP, tags={"pytest-appservice-fs": "probe"})
    backend = make_backend(
        Configuration(runtime=Runtime.CONTAINER), image=image, allow_existing_app=True
    )
    controller = TriggerController(
        backend,
        run_id="run-1",
        paths=paths_of(backend.configuration),
        package_factory=lambda: build_package(default_probe_dir(), image_build_id(image)),
        ready_timeouts={Event.DEPLOY: 3.0},
        triggers=default_registry(soft_restart_timeout=0.5),
    )
    if proven:
        controller.start()
        identity = backend.probe().identity()
        assert identity is not None
        assert identity.deployment_id == built
    else:
        with pytest.raises(BackendError):
            controller.start()


def test_a_new_identity_unknown_to_entra_id_is_waited_for(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """PrincipalNotFound (the identity has not reached Microsoft Entra ID's replicas yet) is
    retried until the assignment takes; any other refusal is not (the 403 test above)."""
    for _ in range(2):
        azure_simulator.arm_error_next(
            "PUT",
            r"/roleAssignments/",
            400,
            "PrincipalNotFound",
            "Principal 0000 does not exist in the directory.",
        )
    backend = make_backend(CONFIGURATIONS["container-on"], provision=True, region="koreacentral")
    backend.create()
    assert len(azure_simulator.role_assignments) == 1
