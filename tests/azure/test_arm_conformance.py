"""The Azure backend and the simulator against what ARM and Microsoft.Web are documented to do.

Each test names its source: the Microsoft.Web REST spec (Azure/azure-rest-api-specs,
specification/web/resource-manager/Microsoft.Web/AppService/), azure-cli's appservice module,
or recorded real responses (Azure/azure-sdk-for-python, sdk/appservice/azure-mgmt-web/tests/
recordings/). The simulator follows them; the backend is checked through it with the real SDK.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("azure.mgmt.web")

from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import AppServicePlan, SkuDescription

from pytest_appservice_fs.backends.azure import AzureBackend, AzureTarget
from pytest_appservice_fs.backends.protocol import BackendError, BackendTiming
from pytest_appservice_fs.engine.probe_client import ProbeTiming
from pytest_appservice_fs.engine.probe_package import ProbePackage, build_package, default_probe_dir
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
SITES = rf"/providers/Microsoft\.Web/sites/{APP}\?"
PLANS = r"/providers/Microsoft\.Web/serverfarms/[^/?]+\?"

MakeBackend = Callable[..., AzureBackend]


@pytest.fixture
def make_backend(credential: FakeCredential) -> Iterator[MakeBackend]:
    """Build Azure backends on the simulator; tear down those a test left standing."""
    made: list[AzureBackend] = []

    def make(*, credential_: Any = None, **target: Any) -> AzureBackend:
        fields = {"subscription_id": SUBSCRIPTION, "app_name": APP, "resource_group": GROUP}
        backend = AzureBackend(
            AzureTarget(**{**fields, **target}),
            run_id="run-1",
            credential=credential_ or credential,
            client_options=CLIENT,
            timing=TIMING,
        )
        made.append(backend)
        return backend

    yield make
    for backend in made:
        with contextlib.suppress(BackendError):
            backend.teardown()


@pytest.fixture
def web(credential: FakeCredential, azure_simulator: AzureSimulator) -> WebSiteManagementClient:
    """The real Microsoft.Web client, talking to the simulator."""
    return WebSiteManagementClient(credential, SUBSCRIPTION, **CLIENT)


@pytest.fixture(scope="module")
def package() -> ProbePackage:
    """The probe, packaged once for the module."""
    return build_package(default_probe_dir(), deployment_id="conformance")


def _provision(make_backend: MakeBackend) -> AzureBackend:
    backend = make_backend(provision=True, region="koreacentral")
    backend.create()
    return backend


# --- A. Microsoft.Web errors: a top-level PascalCase body ---------------------------------


def test_microsoft_web_answers_its_errors_in_the_recorded_pascal_case_shape(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient
) -> None:
    """A site PUT naming no plan: 404 {"Code": "NotFound", "Message": "Cannot find ServerFarm
    with name ..."}, as recorded (test_cli_mgmt_web_app.test_web_app.yaml); azure-core cannot
    parse that shape, so its error is None."""
    azure_simulator.add_existing_app(GROUP, "other-app")
    farm = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{GROUP}"
        "/providers/Microsoft.Web/serverfarms/gone"
    )
    site = {"location": "koreacentral", "properties": {"serverFarmId": farm}}

    with pytest.raises(HttpResponseError) as raised:
        web.web_apps.begin_create_or_update(GROUP, APP, site).result()

    body = raised.value.response.json()  # type: ignore[union-attr]
    assert (body["Code"], body["Message"]) == ("NotFound", "Cannot find ServerFarm with name gone.")
    assert set(body) == {"Code", "Message", "Target", "Details", "Innererror"}
    assert raised.value.error is None


def test_a_microsoft_web_error_reaches_the_user_with_its_code_and_message(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """Not "Operation returned an invalid status 'Not Found'": the code and message."""
    message = f"Cannot find ServerFarm with name {APP}-plan."
    azure_simulator.web_error_next("PUT", SITES, 404, "NotFound", message)

    with pytest.raises(BackendError) as raised:
        _provision(make_backend)

    assert str(raised.value) == f"could not create the app: not found (NotFound: {message})"


def test_an_arm_error_in_the_standard_shape_still_reaches_the_user(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """ARM's own {"error": {"code", "message"}} (a missing site) keeps its code and message."""
    backend = _provision(make_backend)
    azure_simulator.remove_site(azure_simulator.site(APP))

    with pytest.raises(BackendError, match=r"could not stop: not found \(ResourceNotFound: The"):
        backend.stop()


# --- B. Long-running operations: Location (the spec's) and Azure-AsyncOperation -----------


@pytest.mark.parametrize("header", ["Location", "Azure-AsyncOperation"])
def test_site_and_plan_puts_complete_through_either_polling_header(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, header: str
) -> None:
    """Site.tsp / AppServicePlan.tsp declare ArmLroLocationHeader; the SDK's pollers follow
    whichever header ARM sends, and the backend ends with the app it asked for."""
    azure_simulator.lro_header = header  # type: ignore[assignment]
    azure_simulator.lro_polls = 2

    backend = _provision(make_backend)

    polled = [t for m, t in azure_simulator.arm_calls() if m == "GET" and "operationresults" in t]
    by_location = [t for t in polled if "/sites/" in t or "/serverfarms/" in t]
    assert len(polled) == 2 * 3  # plan and site: two InProgress answers and a done one each
    assert len(by_location) == (6 if header == "Location" else 0)
    assert backend.facts == {"region": "koreacentral", "sku": "B1"}
    assert backend._app.host == f"{APP}.azurewebsites.net"


def test_the_default_lro_answer_is_a_location_header(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient
) -> None:
    """The simulator's plan PUT answers 202 with Location, no Azure-AsyncOperation."""
    azure_simulator.add_existing_app(GROUP, "other-app")
    plan = AppServicePlan(location="koreacentral", sku=SkuDescription(name="B1", capacity=1))

    poller = web.app_service_plans.begin_create_or_update(GROUP, "new-plan", plan)
    first = poller.polling_method()._initial_response.http_response  # type: ignore[attr-defined]
    result = poller.result()

    assert first.status_code == 202
    assert "Location" in first.headers
    assert "Azure-AsyncOperation" not in first.headers
    assert (result.sku.name, result.sku.capacity) == ("B1", 1)


# --- C. A SKU change sets the new size's tier -----------------------------------------------


def test_a_p0v3_plan_reports_its_own_tier(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient
) -> None:
    """azure-cli's get_sku_tier: P0V3 -> PREMIUM0V3, P1V3 -> PREMIUMV3."""
    azure_simulator.add_existing_app(GROUP, APP, sku="P0v3", plan="p0")
    azure_simulator.add_existing_app(GROUP, "other-app", sku="P1v3", plan="p1")

    tiers = [web.app_service_plans.get(GROUP, plan).sku.tier for plan in ("p0", "p1")]

    assert tiers == ["Premium0V3", "PremiumV3"]


def test_a_sku_change_sends_the_tier_of_the_new_size(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """P0v3 -> P1v3 moves to PREMIUMV3, as az's update_app_service_plan sets sku_def.tier."""
    azure_simulator.add_existing_app(GROUP, APP, sku="P0v3", tags={"pytest-appservice-fs": "probe"})
    backend = make_backend()
    backend.create()

    assert backend.change_sku() == "P0v3 -> P1v3"

    sku = azure_simulator.plan_puts[-1]["sku"]
    assert (sku["name"], sku["tier"].upper()) == ("P1v3", "PREMIUMV3")


# --- D. Instance state: only READY instances are used ---------------------------------------


def test_only_ready_instances_are_pinned_and_counted(
    azure_simulator: AzureSimulator, make_backend: MakeBackend, web: WebSiteManagementClient
) -> None:
    """WebSiteInstanceStatus.properties.state is READY, STOPPED or UNKNOWN (SiteRuntimeState)."""
    site = azure_simulator.add_existing_app(
        GROUP, APP, capacity=3, tags={"pytest-appservice-fs": "probe"}
    )
    backend = make_backend()
    backend.create()
    ready, stopped, unknown = site.backend.instances()
    azure_simulator.set_instance_state(stopped, "STOPPED")
    azure_simulator.set_instance_state(unknown, "UNKNOWN")

    states = [i.state for i in web.web_apps.list_instance_identifiers(GROUP, APP)]

    assert states == ["READY", "STOPPED", "UNKNOWN"]
    assert backend.instances() == [ready]


# --- E. Failed operations and a sign-in that runs out ---------------------------------------


def test_a_poll_that_answers_failed_is_one_sentence_and_teardown_deletes_the_group(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """Azure-AsyncOperation {"status": "Failed", "error": {...}}: the operation and its cause."""
    azure_simulator.lro_header = "Azure-AsyncOperation"
    azure_simulator.fail_next_operation(SITES, "Conflict", "The site could not be placed.")
    backend = make_backend(provision=True, region="koreacentral")

    with pytest.raises(BackendError) as raised:
        backend.create()
    backend.teardown()

    assert str(raised.value) == "could not create the app: Conflict: The site could not be placed."
    assert azure_simulator.group(GROUP) is None


def test_a_plan_left_in_provisioning_state_failed_stops_the_run_and_teardown_cleans_up(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """Location polling ends on 200 whatever the body says: provisioningState Failed is read."""
    azure_simulator.fail_next_operation(PLANS, "Conflict", "No worker is free.")
    backend = make_backend(provision=True, region="koreacentral")

    with pytest.raises(BackendError) as raised:
        backend.create()
    backend.teardown()

    assert str(raised.value) == (
        "could not create the plan: ARM reports its provisioning state as Failed."
    )
    assert azure_simulator.sites == {}
    assert azure_simulator.group(GROUP) is None


def test_a_token_that_expires_mid_run_says_so_and_prints_what_to_delete(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """ARM's 401 ExpiredAuthenticationToken after the run started: one sentence per step, and
    the az command that deletes the group names its subscription."""
    backend = _provision(make_backend)
    azure_simulator.expire_tokens()

    with pytest.raises(BackendError) as restart:
        backend.restart()
    with pytest.raises(BackendError) as teardown:
        backend.teardown()

    assert str(restart.value).startswith(
        "could not restart: the Azure sign-in expired during the run; sign in again (az login) "
        "and rerun (ExpiredAuthenticationToken: The access token expiry UTC time"
    )
    assert str(teardown.value).endswith(
        f"delete it with: az group delete --yes --name {GROUP} --subscription {SUBSCRIPTION}"
    )
    assert "fake-token" not in str(restart.value) + str(teardown.value)


class ExpiringCredential(FakeCredential):
    """Short-lived tokens (azure-core asks again each request); refused after ``allowed`` asks."""

    def __init__(self, allowed: int) -> None:
        super().__init__()
        self.allowed = allowed

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """A token valid for a minute, or ClientAuthenticationError once the sign-in ran out."""
        if len(self.scopes) >= self.allowed:
            raise ClientAuthenticationError("AADSTS700082: The refresh token has expired.")
        self.scopes.append(scopes)
        return AccessToken(self.token, int(time.time()) + 60)


def test_a_credential_that_runs_out_mid_run_names_the_operation(
    azure_simulator: AzureSimulator, make_backend: MakeBackend
) -> None:
    """The credential raises ClientAuthenticationError on a later request: one sentence."""
    credential = ExpiringCredential(allowed=10_000)
    backend = make_backend(credential_=credential, provision=True, region="koreacentral")
    backend.create()
    credential.allowed = 0

    with pytest.raises(BackendError) as raised:
        backend.stop()

    assert str(raised.value) == (
        "could not stop: the Azure sign-in expired during the run; sign in again (az login) and "
        "rerun (AADSTS700082: The refresh token has expired.)"
    )
    assert backend.kept_resources().endswith(f"--subscription {SUBSCRIPTION}")


# --- F. Soft restart: "restarts the app only if necessary" ----------------------------------


def test_a_soft_restart_with_nothing_pending_keeps_the_process(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient, package: ProbePackage
) -> None:
    """WebApps_Restart softRestart: "Specify true to apply the configuration settings and
    restarts the app only if necessary": by default nothing is pending, nothing restarts."""
    site = azure_simulator.add_existing_app(GROUP, APP, package=package)
    before = site.backend.probe().identity()

    web.web_apps.restart(GROUP, APP, soft_restart=True)

    after = site.backend.probe().identity()
    assert before is not None
    assert after is not None
    assert (after.pid, after.process_start) == (before.pid, before.process_start)
    assert "restart_soft" not in site.backend.operations.counts


def test_the_switch_makes_a_soft_restart_restart(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient, package: ProbePackage
) -> None:
    """soft_restart_restarts=True: something is pending, so the soft restart restarts."""
    azure_simulator.soft_restart_restarts = True
    site = azure_simulator.add_existing_app(GROUP, APP, package=package)

    web.web_apps.restart(GROUP, APP, soft_restart=True)

    assert site.backend.operations.counts.get("restart_soft") == 1
