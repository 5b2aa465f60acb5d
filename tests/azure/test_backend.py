"""The Azure backend against the simulator: the real SDK, Kudu and probe code, no network."""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.mgmt.web")

from azure.core.exceptions import ClientAuthenticationError

from pytest_appservice_fs.backends.azure import AzureBackend, AzureTarget
from pytest_appservice_fs.backends.azure.groups import (
    TAG_CREATOR,
    TAG_EXPIRES,
    TAG_PROJECT,
    TAG_RUN,
)
from pytest_appservice_fs.backends.azure.kudu import DeployError, KuduTiming
from pytest_appservice_fs.backends.protocol import BackendError, BackendTiming
from pytest_appservice_fs.engine.controller import TriggerController
from pytest_appservice_fs.engine.expectations import LAB_MATRIX, LAB_PATHS
from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.engine.probe_client import ProbeTiming
from pytest_appservice_fs.engine.probe_package import build_package, default_probe_dir
from pytest_appservice_fs.events import default_registry
from pytest_appservice_fs.evidence.judge import judge_container, judge_path
from tests.azure.conftest import FakeCredential
from tests.azure.simulator import AzureSimulator

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
GROUP = "rg-probe"
APP = "probe-app"
#: Fast everything: the simulator answers at once, so no real wait is ever needed.
CLIENT = {"polling_interval": 0, "retry_backoff_factor": 0.01, "retry_total": 0}
TIMING = BackendTiming(
    default_ready_timeout=5.0,
    poll_interval=0.01,
    probe=ProbeTiming(request_timeout=5.0, retry_deadline=2.0, wait_initial=0.01, wait_max=0.05),
)
#: What a step failed by the simulator raises: its injected HTTP 500, or the failed deployment.
_INJECTED = (
    r"^(could not [a-z ]+: InternalServerError: HTTP 500 injected by the simulator\.$"
    r"|the deployment failed \(status 3, )"
)
KUDU = KuduTiming(start_deadline=2.0, finish_deadline=5.0, poll_interval=0.01, wait_initial=0.01)

MakeBackend = Callable[..., AzureBackend]


@pytest.fixture
def make_backend(credential: FakeCredential) -> Iterator[MakeBackend]:
    """Build Azure backends on the simulator; tear them down after the test."""
    made: list[AzureBackend] = []

    def make(*, client: dict[str, Any] | None = None, **target: Any) -> AzureBackend:
        fields = {"subscription_id": SUBSCRIPTION, "app_name": APP, "resource_group": GROUP}
        backend = AzureBackend(
            AzureTarget(**{**fields, **target}),
            run_id="run-1",
            credential=credential,
            client_options=client or CLIENT,
            timing=TIMING,
            kudu_timing=KUDU,
        )
        made.append(backend)
        return backend

    yield make
    for backend in made:
        # A test that breaks teardown on purpose checks that itself.
        with contextlib.suppress(BackendError):
            backend.teardown()


def _controller(backend: AzureBackend, *, soft_restart_timeout: float = 120) -> TriggerController:
    return TriggerController(
        backend,
        run_id="run-1",
        paths=LAB_PATHS,
        package_factory=lambda: build_package(default_probe_dir()),
        triggers=default_registry(soft_restart_timeout=soft_restart_timeout),
    )


def _arm(simulator: AzureSimulator) -> list[str]:
    """ARM calls that change something, as 'METHOD path' (query and LRO polls left out)."""
    calls = []
    for method, target in simulator.arm_calls():
        path = target.split("?")[0]
        if method in ("GET", "HEAD") or "operationresults" in path.lower():
            continue
        calls.append(f"{method} {path.split('/providers/Microsoft.Web/')[-1]}")
    return calls


# --- provision ----------------------------------------------------------------------------


def test_provision_creates_tagged_group_plan_and_site_then_deletes_the_group(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, credential: FakeCredential
) -> None:
    """Provision: group (tagged), Linux plan, Python site with token and build setting; teardown
    deletes the group."""
    backend = make_backend(provision=True, region="koreacentral", sku="B1")
    backend.create()
    group = azure_simulator.group(GROUP)
    assert group is not None
    assert group.tags[TAG_PROJECT] == "probe"
    assert group.tags[TAG_RUN] == "run-1"
    assert group.tags[TAG_CREATOR]
    expires = dt.datetime.strptime(group.tags[TAG_EXPIRES], "%Y-%m-%dT%H:%M:%SZ")
    hours = (
        expires.replace(tzinfo=dt.timezone.utc) - dt.datetime.now(dt.timezone.utc)
    ).total_seconds() / 3600
    assert 5.9 < hours <= 6.0
    plan = azure_simulator.plan(GROUP, f"{APP}-plan")
    assert (plan.reserved, plan.sku, plan.capacity) == (True, "B1", 1)
    site = azure_simulator.site(APP)
    assert site.site_config["linuxFxVersion"] == "PYTHON|3.11"
    assert site.site_config["appCommandLine"].startswith("gunicorn --bind=0.0.0.0:8000")
    assert '"app:create_app()"' in site.site_config["appCommandLine"]
    assert site.client_affinity is True
    assert site.app_settings["SCM_DO_BUILD_DURING_DEPLOYMENT"] == "true"
    assert len(site.app_settings["PROBE_TOKEN"]) >= 32
    assert backend.facts == {"region": "koreacentral", "sku": "B1"}
    assert _arm(azure_simulator) == [
        f"PUT /subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}",
        f"PUT serverfarms/{APP}-plan",
        f"PUT sites/{APP}",
    ]
    assert ("https://management.azure.com/.default",) in credential.scopes
    backend.teardown()
    assert azure_simulator.group(GROUP) is None
    assert (
        _arm(azure_simulator)[-1] == f"DELETE /subscriptions/{SUBSCRIPTION}/resourcegroups/{GROUP}"
    )


def test_provision_refuses_an_existing_group(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """A group that exists already is never adopted, and so never deleted."""
    azure_simulator.add_existing_app(GROUP, "other-app")
    backend = make_backend(provision=True, region="koreacentral")
    with pytest.raises(BackendError, match=f"resource group {GROUP} exists already"):
        backend.create()
    backend.teardown()
    assert azure_simulator.group(GROUP) is not None
    assert azure_simulator.site("other-app") is not None


@pytest.mark.parametrize("failing", ["serverfarms", "sites"])
def test_a_failed_provision_step_still_deletes_the_group(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, failing: str
) -> None:
    """When the plan or the site cannot be made, teardown still removes the group."""
    azure_simulator.fail_next("PUT", rf"/providers/Microsoft\.Web/{failing}/", status=500)
    backend = make_backend(provision=True, region="koreacentral")
    with pytest.raises(BackendError, match="could not create the"):
        backend.create()
    assert azure_simulator.group(GROUP) is not None
    backend.teardown()
    assert azure_simulator.group(GROUP) is None


# --- the whole experiment --------------------------------------------------------------------


def test_every_event_on_a_provisioned_app_reproduces_the_lab(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, credential: FakeCredential
) -> None:
    """Every event (restarts, stop/start, Kudu deploy, plan capacity and SKU, settings) proves
    itself and gives the lab's matrix."""
    backend = make_backend(provision=True, region="koreacentral")
    # The simulator's soft restart finds nothing pending and keeps the process, as Azure may
    # ("restarts the app only if necessary"): proven a no-op after the (short) window.
    controller = _controller(backend, soft_restart_timeout=0.5)
    controller.start()
    for event in Event:
        observation = controller.observe(event)
        assert observation.proven, observation.error
        if event is Event.RESTART_SOFT:
            assert observation.proof.startswith("the restart was a no-op: the probe process")
        for cell in LAB_MATRIX.path_cells("H1", [event]) + LAB_MATRIX.path_cells("H2", [event]):
            assert judge_path(observation, cell, backend="azure").passed
        for cell in LAB_MATRIX.path_cells("H3", [event]):
            assert judge_path(observation, cell, backend="azure").passed
        for container in LAB_MATRIX.container_cells([event]):
            assert judge_container(observation, container, backend="azure").passed
        sku = "B2" if event is Event.SKU_CHANGE else "B1"  # read on B2, then moved back
        assert observation.facts == {"region": "koreacentral", "sku": sku}
    assert len(backend.instances()) == 1  # scaled back after scale-out
    restarts = [r.query for r in azure_simulator.restarts]
    assert restarts == [
        {"api-version": "2025-05-01"},  # restart: as az webapp restart, no softRestart
        {"api-version": "2025-05-01", "softRestart": "true"},  # restart_soft
    ]
    plan_restarts = [(r.plan, r.sites, r.query) for r in azure_simulator.plan_restarts]
    assert plan_restarts == [(f"{APP}-plan", (APP,), {"api-version": "2025-05-01"})]
    publishes = [target for method, target in azure_simulator.kudu_calls() if method == "POST"]
    assert len(publishes) == 2  # the first deploy and the deploy event
    assert ("https://appservice.azure.com/.default",) in credential.scopes
    plan_puts = [call for call in _arm(azure_simulator) if call == f"PUT serverfarms/{APP}-plan"]
    # create; scale-out 2 and back to 1; scale-in 2 then 1; SKU B2 and back to B1
    assert len(plan_puts) == 7
    assert azure_simulator.plan(GROUP, f"{APP}-plan").sku == "B1"
    assert backend.unsupported == {}


def test_soft_restart_mode_sets_soft_restart(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """--restart-mode soft sends softRestart=true and nothing else new."""
    backend = make_backend(provision=True, region="koreacentral", soft_restart=True)
    backend.create()
    backend.restart()
    assert azure_simulator.restarts[-1].query == {
        "api-version": "2025-05-01",
        "softRestart": "true",
    }


@pytest.mark.parametrize("mode_soft", [False, True], ids=["platform-mode", "soft-mode"])
def test_an_explicit_soft_flag_overrides_the_restart_mode(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, mode_soft: bool
) -> None:
    """soft=True sends softRestart=true, soft=False sends no softRestart, None the mode's."""
    backend = make_backend(provision=True, region="koreacentral", soft_restart=mode_soft)
    backend.create()
    backend.restart(soft=True)
    backend.restart(soft=False)
    backend.restart()
    plain, soft = (
        {"api-version": "2025-05-01"},
        {"api-version": "2025-05-01", "softRestart": "true"},
    )
    assert [r.query for r in azure_simulator.restarts] == [
        soft,
        plain,
        soft if mode_soft else plain,
    ]


def test_pinned_probe_requests_reach_each_instance(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """After scale-out each ARM instance name answers as itself through ARR affinity."""
    backend = make_backend(provision=True, region="koreacentral")
    _controller(backend).start()
    backend.scale(2)
    instances = backend.instances()
    assert len(instances) == 2
    for instance in instances:
        identity = backend.probe(instance).identity()
        assert identity is not None
        assert identity.instance_id == instance


def test_scale_in_from_two_to_one_drops_the_newest_instance(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """scale(1) after scale(2): capacity 1 on the plan, and instances() no longer lists the
    removed instance; the one left still answers as itself."""
    backend = make_backend(provision=True, region="koreacentral")
    _controller(backend).start()
    first = backend.instances()
    backend.scale(2)
    two = backend.instances()
    backend.scale(1)
    assert len(two) == 2
    assert two[0] == first[0]
    assert backend.instances() == first
    assert azure_simulator.plan(GROUP, f"{APP}-plan").capacity == 1
    assert azure_simulator.plan_history[-2:] == [(f"{APP}-plan", "B1", 2), (f"{APP}-plan", "B1", 1)]
    identity = backend.probe(first[0]).identity()
    assert identity is not None
    assert identity.instance_id == first[0]


# --- the new events: settings, SKU, plan restart ----------------------------------------------


def _attached(simulator: AzureSimulator, **seed: Any) -> Any:
    """Seed an app the harness may attach to (tagged), with one setting of its own."""
    seed.setdefault("app_settings", {"CUSTOMER_SETTING": "keep me"})
    return simulator.add_existing_app(GROUP, APP, tags={TAG_PROJECT: "probe"}, **seed)


def test_set_app_setting_keeps_the_others_and_recreates_the_containers(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """One setting changes in one PUT that carries all the others (the probe's token too);
    the instance gets a new container whose process sees the new value; teardown removes it."""
    caplog.set_level("DEBUG")
    site = _attached(azure_simulator)
    backend = make_backend()
    _controller(backend).start()
    before = dict(site.app_settings)
    instance_id = backend.instances()[0]
    container = site.backend.container_of(instance_id)
    puts = len([c for c in _arm(azure_simulator) if c.endswith("/config/appsettings")])

    backend.set_app_setting("PROBE_SETTINGS_MARK", "mark-value-q8")

    assert site.app_settings == {**before, "PROBE_SETTINGS_MARK": "mark-value-q8"}
    assert site.app_settings["CUSTOMER_SETTING"] == "keep me"
    assert [c for c in _arm(azure_simulator) if c.endswith("/config/appsettings")][puts:] == [
        f"PUT sites/{APP}/config/appsettings"
    ]
    assert backend.instances() == [instance_id]
    assert site.backend.container_of(instance_id) not in (None, container)
    identity = backend.probe(instance_id).identity()  # the token still opens the probe
    assert identity is not None
    assert identity.settings_mark == "mark-value-q8"
    assert "mark-value-q8" not in caplog.text
    backend.teardown()
    assert site.app_settings == {"CUSTOMER_SETTING": "keep me"}


def test_a_failed_setting_change_is_one_sentence_without_the_value(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """ARM refusing the settings PUT names the setting, never its value."""
    _attached(azure_simulator)
    backend = make_backend(client={**CLIENT, "retry_total": 0})
    backend.create()
    azure_simulator.fail_next("PUT", r"/config/appsettings\?", status=500)
    with pytest.raises(BackendError) as excinfo:
        backend.set_app_setting("PROBE_SETTINGS_MARK", "secret-value-z3")
    assert str(excinfo.value).startswith("could not change app setting PROBE_SETTINGS_MARK: ")
    assert "secret-value-z3" not in str(excinfo.value)


@pytest.mark.parametrize(
    ("sku", "moved"),
    [("B1", "B2"), ("B2", "B3"), ("B3", "B2"), ("S3", "S2"), ("P1v2", "P2v2"), ("P0v3", "P1v3")],
)
def test_change_sku_moves_one_size_and_restore_sku_moves_back(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, sku: str, moved: str
) -> None:
    """change_sku PUTs the next size of the tier (capacity kept); the app moves to new
    instances; restore_sku PUTs the old size; a second restore_sku calls nothing."""
    site = _attached(azure_simulator, sku=sku, capacity=2, plan="shared-plan")
    backend = make_backend()
    backend.create()
    before = backend.instances()

    assert backend.change_sku() == f"{sku} -> {moved}"
    assert azure_simulator.plan(GROUP, "shared-plan").sku == moved
    assert azure_simulator.plan_history[-1] == ("shared-plan", moved, 2)
    assert backend.facts["sku"] == moved
    assert len(backend.instances()) == 2
    assert not set(backend.instances()) & set(before)
    assert site.backend.operations.counts.get("replace_instances") == 1

    backend.restore_sku()
    assert azure_simulator.plan_history[-1] == ("shared-plan", sku, 2)
    assert backend.facts["sku"] == sku
    seen = len(azure_simulator.requests)
    backend.restore_sku()
    assert len(azure_simulator.requests) == seen  # unchanged: no ARM call at all


def test_restore_sku_without_a_change_calls_nothing(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """restore_sku before any change_sku sends no request."""
    _attached(azure_simulator)
    backend = make_backend()
    backend.create()
    seen = len(azure_simulator.requests)
    backend.restore_sku()
    assert len(azure_simulator.requests) == seen


def test_teardown_in_attach_mode_restores_capacity_then_sku(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """A run that left the plan on B2 with two workers: teardown first scales in (so one worker
    moves, not two), then puts the SKU back."""
    _attached(azure_simulator, sku="B1", capacity=1)
    backend = make_backend()
    backend.create()
    backend.scale(2)
    backend.change_sku()
    history = len(azure_simulator.plan_history)
    backend.teardown()
    plan = f"{APP}-plan"
    assert azure_simulator.plan_history[history:] == [(plan, "B2", 1), (plan, "B1", 1)]


def test_teardown_after_restore_sku_does_not_restore_it_again(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """restore_sku ran: teardown sends no SKU change."""
    _attached(azure_simulator, sku="S1")
    backend = make_backend()
    backend.create()
    backend.change_sku()
    backend.restore_sku()
    history = len(azure_simulator.plan_history)
    backend.teardown()
    assert azure_simulator.plan_history[history:] == []
    assert azure_simulator.plan(GROUP, f"{APP}-plan").sku == "S1"


def test_a_sku_change_reported_failed_is_still_undone_at_teardown(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """ARM answered the PUT with an error, yet the plan moved (a timeout can do that): teardown
    reads the plan and puts the old SKU back."""
    site = _attached(azure_simulator, sku="B1")
    backend = make_backend(client={**CLIENT, "retry_total": 0})
    backend.create()
    azure_simulator.fail_next("PUT", r"/serverfarms/", status=500)
    with pytest.raises(BackendError, match=r"^could not move the plan to B2: "):
        backend.change_sku()
    assert azure_simulator.plan_history == []
    site.plan.sku = "B2"  # as if the PUT had landed after all
    backend.teardown()
    assert azure_simulator.plan_history == [(f"{APP}-plan", "B1", 1)]


@pytest.mark.parametrize("sku", ["F1"])
def test_a_plan_with_one_size_marks_sku_change_unsupported(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, sku: str
) -> None:
    """On F1 there is no other size: unsupported names the SKU once create() has read the plan,
    and change_sku refuses with that sentence, sending nothing."""
    _attached(azure_simulator, sku=sku)
    backend = make_backend()
    assert backend.unsupported == {}
    backend.create()
    reason = f"the plan's SKU {sku} has no other size in its tier to move to and back"
    assert backend.unsupported == {Event.SKU_CHANGE: reason}
    with pytest.raises(BackendError) as excinfo:
        backend.change_sku()
    assert str(excinfo.value) == f"cannot change the SKU: {reason}."
    assert azure_simulator.plan_history == []


def test_restart_plan_posts_restart_sites_without_soft_restart(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """restart_plan restarts the plan's apps through restartSites, as a hard restart."""
    site = _attached(azure_simulator, plan="shared-plan")
    backend = make_backend()
    _controller(backend).start()
    restarts = site.backend.operations.counts.get("restart", 0)
    backend.restart_plan()
    records = [(r.plan, r.sites, r.query) for r in azure_simulator.plan_restarts]
    assert records == [("shared-plan", (APP,), {"api-version": "2025-05-01"})]
    assert site.backend.operations.counts.get("restart") == restarts + 1
    assert azure_simulator.restarts == []
    assert "POST serverfarms/shared-plan/restartSites" in _arm(azure_simulator)


# --- attach -------------------------------------------------------------------------------


def test_attach_changes_settings_and_startup_and_restores_them(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """Attach saves settings, startup command and capacity, and puts all three back."""
    original = {"CUSTOMER_SETTING": "keep me", "PROBE_TOKEN": "old"}
    site = azure_simulator.add_existing_app(
        GROUP,
        APP,
        tags={TAG_PROJECT: "probe"},
        app_settings=original,
        app_command_line="python app.py",
        capacity=1,
    )
    backend = make_backend()
    controller = _controller(backend)
    controller.start()
    assert site.app_settings["CUSTOMER_SETTING"] == "keep me"
    assert site.app_settings["PROBE_TOKEN"] != "old"
    assert site.site_config["appCommandLine"].startswith("gunicorn")
    controller.observe(Event.SCALE_OUT)
    backend.scale(2)  # as if scale-back had not happened
    backend.teardown()
    assert site.app_settings == original
    assert site.site_config["appCommandLine"] == "python app.py"
    assert site.plan.capacity == 1
    assert azure_simulator.group(GROUP) is not None  # attach never deletes anything


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        (
            {"kind": "app", "windows_fx_version": "DOTNET|8.0"},
            "app probe-app runs on Windows (kind 'app'); the probe needs App Service for Linux.",
        ),
        (
            {"kind": "app,linux,container", "linux_fx_version": "DOCKER|nginx"},
            "app probe-app runs a custom container (DOCKER|NGINX); the probe needs the built-in "
            "Python stack.",
        ),
        (
            {"linux_fx_version": "NODE|20-lts"},
            "app probe-app runs NODE|20-LTS, not the built-in Python stack (PYTHON|3.x) the probe "
            "needs.",
        ),
        (
            {"tags": {}},
            "app probe-app is not tagged pytest-appservice-fs=probe; deploying the probe replaces "
            "its code, so tag it or pass --allow-existing-app.",
        ),
        (
            {"client_affinity": False},
            "app probe-app has client affinity off, so requests cannot be pinned to an instance; "
            "turn it on (az webapp update --client-affinity-enabled true).",
        ),
    ],
    ids=["windows", "container", "node", "untagged", "no-affinity"],
)
def test_attach_refuses_unsuitable_apps_and_changes_nothing(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, seed: dict[str, Any], message: str
) -> None:
    """An app the probe must not or cannot replace is refused with one sentence, untouched."""
    tags = seed.pop("tags", {TAG_PROJECT: "probe"})
    site = azure_simulator.add_existing_app(GROUP, APP, tags=tags, app_settings={"A": "1"}, **seed)
    backend = make_backend()
    with pytest.raises(BackendError) as excinfo:
        backend.create()
    assert str(excinfo.value) == message
    backend.teardown()
    assert site.app_settings == {"A": "1"}
    assert not [m for m, _ in azure_simulator.arm_calls() if m in ("PUT", "PATCH", "POST")]


def test_allow_existing_app_attaches_to_an_untagged_app(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """--allow-existing-app lifts the tag check, and nothing else."""
    azure_simulator.add_existing_app(GROUP, APP, tags={})
    backend = make_backend(allow_existing_app=True)
    _controller(backend).start()
    assert backend.probe().identity() is not None


def test_attach_to_a_missing_app_is_one_sentence(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """A 404 app names the app, the group and the subscription."""
    backend = make_backend()
    with pytest.raises(BackendError) as excinfo:
        backend.create()
    assert str(excinfo.value) == (
        f"--app-name {APP}: no such app in resource group {GROUP} of subscription {SUBSCRIPTION}."
    )


def test_attach_restores_settings_when_a_later_step_fails(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """Settings written, then the startup command refused: teardown still restores settings."""
    site = azure_simulator.add_existing_app(
        GROUP, APP, tags={TAG_PROJECT: "probe"}, app_settings={"A": "1"}
    )
    azure_simulator.fail_next("PATCH", r"/config/web", status=500)
    backend = make_backend()
    with pytest.raises(BackendError, match="could not write the startup command"):
        backend.create()
    assert "PROBE_TOKEN" in site.app_settings
    backend.teardown()
    assert site.app_settings == {"A": "1"}


# --- reliability ---------------------------------------------------------------------------


def test_throttling_is_retried_after_the_time_arm_asks(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """A 429 with Retry-After: 1 is retried by azure-core after at least a second."""
    azure_simulator.add_existing_app(GROUP, APP, tags={TAG_PROJECT: "probe"})
    azure_simulator.throttle_next("GET", rf"/sites/{APP}\?", retry_after=1)
    backend = make_backend(client={"polling_interval": 0, "retry_backoff_factor": 0.01})
    started = time.monotonic()
    backend.create()
    assert time.monotonic() - started >= 1.0
    gets = [
        s.status
        for s in azure_simulator.requests
        if s.method == "GET" and s.url.split("?")[0].endswith(f"/sites/{APP}")
    ]
    assert gets[:2] == [429, 200]


def test_a_server_error_is_retried(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """A 503 from ARM is retried by azure-core and the call succeeds."""
    azure_simulator.add_existing_app(GROUP, APP, tags={TAG_PROJECT: "probe"})
    azure_simulator.fail_next("POST", r"/restart", status=503)
    backend = make_backend(client={"polling_interval": 0, "retry_backoff_factor": 0.01})
    _controller(backend).start()
    backend.restart()
    restarts = [
        s.status for s in azure_simulator.requests if s.url.split("?")[0].endswith("/restart")
    ]
    assert restarts == [503, 200]


def test_deploy_waits_out_a_deployment_in_progress(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """409 (another deployment in progress) is retried; then the deploy succeeds."""
    azure_simulator.add_existing_app(GROUP, APP, tags={TAG_PROJECT: "probe"})
    azure_simulator.deploy_conflicts(2)
    backend = make_backend()
    _controller(backend).start()
    publishes = [
        s.status for s in azure_simulator.requests if s.url.split("?")[0].endswith("/api/publish")
    ]
    assert publishes == [409, 409, 202]


def test_a_failed_deployment_names_its_log(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """Kudu status 3 ends the deploy with a message that carries the log URL."""
    azure_simulator.add_existing_app(GROUP, APP, tags={TAG_PROJECT: "probe"})
    azure_simulator.deploy_fails_next()
    backend = make_backend()
    backend.create()
    with pytest.raises(DeployError) as excinfo:
        backend.deploy(build_package(default_probe_dir()))
    message = str(excinfo.value)
    assert "the deployment failed (status 3" in message
    assert f"https://{APP}.scm.azurewebsites.net/api/deployments/" in message
    assert message.rstrip().endswith("/log")


def test_missing_credentials_are_one_sentence(
    azure_simulator: AzureSimulator, tmp_path: Path
) -> None:
    """No usable identity: one sentence that says how to log in, and nothing is called."""

    class NoCredential:
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

    backend = AzureBackend(
        AzureTarget(subscription_id=SUBSCRIPTION, app_name=APP, resource_group=GROUP),
        run_id="run-1",
        credential=NoCredential(),
        client_options=CLIENT,
    )
    with pytest.raises(BackendError) as excinfo:
        backend.create()
    assert str(excinfo.value).startswith("no Azure credentials are available: run az login")
    assert azure_simulator.calls == []
    backend.teardown()


def test_the_probe_token_never_reaches_a_log(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, caplog: pytest.LogCaptureFixture
) -> None:
    """Neither the probe token nor the Entra token appears in any log record."""
    caplog.set_level("DEBUG")
    backend = make_backend(provision=True, region="koreacentral")
    controller = _controller(backend)
    controller.start()
    controller.observe(Event.RESTART)
    token = azure_simulator.site(APP).app_settings["PROBE_TOKEN"]
    logged = caplog.text
    assert token not in logged
    assert "fake-token" not in logged
    assert token not in repr(backend)
    assert token not in repr(backend.probe())


PROVISION_STEPS = {
    "group": ("PUT", r"/resourcegroups/rg-probe\?"),
    "plan": ("PUT", r"/serverfarms/probe-app-plan\?"),
    "site": ("PUT", r"/sites/probe-app\?"),
    "instances": ("GET", r"/sites/probe-app/instances\?"),
}


@pytest.mark.parametrize("step", [*PROVISION_STEPS, "deploy"])
def test_provision_failing_at_any_step_leaves_no_group(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, step: str
) -> None:
    """Whichever step fails, the start fails with a reason and teardown leaves no group."""
    if step == "deploy":
        azure_simulator.deploy_fails_next()
    else:
        azure_simulator.fail_next(*PROVISION_STEPS[step], status=500)
    backend = make_backend(provision=True, region="koreacentral")
    with pytest.raises(BackendError, match=_INJECTED):
        _controller(backend).start()
    backend.teardown()
    group = azure_simulator.group(GROUP)
    assert group is None or group.deleting


ATTACH_STEPS = {
    "read-settings": ("POST", r"/config/appsettings/list\?"),
    "write-settings": ("PUT", r"/config/appsettings\?"),
    "write-startup": ("PATCH", r"/config/web\?"),
    "instances": ("GET", r"/sites/probe-app/instances\?"),
}


@pytest.mark.parametrize("step", [*ATTACH_STEPS, "deploy"])
def test_attach_failing_at_any_step_leaves_the_app_as_it_was(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, step: str
) -> None:
    """Whichever step fails, teardown puts settings and startup command back as they were."""
    site = azure_simulator.add_existing_app(
        GROUP,
        APP,
        tags={TAG_PROJECT: "probe"},
        app_settings={"A": "1"},
        app_command_line="python app.py",
    )
    if step == "deploy":
        azure_simulator.deploy_fails_next()
    else:
        azure_simulator.fail_next(*ATTACH_STEPS[step], status=500)
    backend = make_backend()
    with pytest.raises(BackendError, match=_INJECTED):
        _controller(backend).start()
    backend.teardown()
    assert site.app_settings == {"A": "1"}
    assert site.site_config["appCommandLine"] == "python app.py"


def test_a_shared_plan_marks_the_plan_wide_events_unsupported(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """Attached to an app whose plan hosts another app: a SKU change would move that app and a
    plan restart would restart it, so both events are unsupported, saying so."""
    _attached(azure_simulator, plan="shared-plan")
    azure_simulator.add_existing_app(GROUP, "someone-elses-app", plan="shared-plan")
    backend = make_backend()
    backend.create()
    assert backend.unsupported == {
        Event.SKU_CHANGE: "the plan hosts 1 other app(s), which it would move to other workers too",
        Event.PLAN_RESTART: "the plan hosts 1 other app(s), which it would restart too",
    }
