"""The simulator is faithful: the real SDK clients and plain requests get what Azure gives."""

from __future__ import annotations

import re
import time
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import pytest
import requests

from pytest_appservice_fs.engine.expectations import HOME, LAB_PATHS
from pytest_appservice_fs.engine.model import Identity
from pytest_appservice_fs.engine.probe_client import (
    TOKEN_HEADER,
    ProbeClient,
    ProbeTiming,
)
from pytest_appservice_fs.engine.probe_package import ProbePackage, build_package, default_probe_dir
from tests.azure.conftest import FakeCredential
from tests.azure.simulator import (
    KUDU_SCOPE,
    RESOURCES_API_VERSION,
    WEB_API_VERSION,
    AzureSimulator,
    SimulatedSite,
)

pytest.importorskip("azure.mgmt.web")
pytest.importorskip("azure.mgmt.resource")

from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.web import WebSiteManagementClient
from azure.mgmt.web.models import (
    AppServicePlan,
    AppServicePlanProperties,
    NameValuePair,
    Site,
    SiteConfig,
    SiteConfigResource,
    SiteProperties,
    SkuDescription,
    StringDictionary,
)

GROUP = "rg-appservice-fs"
PLAN = "plan-appservice-fs"
APP = "app-appservice-fs"
LOCATION = "Korea Central"
PROBE_TOKEN = "probe-token-for-the-simulator"
HEX64 = re.compile(r"[0-9a-f]{64}")
#: Fast retries and polls: nothing in the simulator needs waiting for.
FAST: dict[str, Any] = {"polling_interval": 0, "retry_backoff_factor": 0.01}
FAST_PROBE = ProbeTiming(request_timeout=5.0, retry_deadline=0.3, wait_initial=0.01, wait_max=0.05)


@pytest.fixture
def web(credential: FakeCredential, azure_simulator: AzureSimulator) -> WebSiteManagementClient:
    """The real Microsoft.Web client, talking to the simulator."""
    return WebSiteManagementClient(credential, azure_simulator.subscription_id, **FAST)


@pytest.fixture
def resources(
    credential: FakeCredential, azure_simulator: AzureSimulator
) -> ResourceManagementClient:
    """The real resource-group client, talking to the simulator."""
    return ResourceManagementClient(credential, azure_simulator.subscription_id, **FAST)


@pytest.fixture
def package() -> ProbePackage:
    """The project's probe as a ZIP with a fresh deployment id."""
    return build_package(default_probe_dir())


def _provision(web: WebSiteManagementClient, resources: ResourceManagementClient) -> Site:
    """Create the group, a Linux B1 plan and a Python app, as the backend's create() would.

    The models are built with ``properties=``: the flattened keywords (``server_farm_id=``)
    work at run time but are not in the SDK's typed signatures, so mypy refuses them.
    """
    resources.resource_groups.create_or_update(
        GROUP, {"location": "koreacentral", "tags": {"project": "appservice-fs", "run": "r1"}}
    )
    plan = web.app_service_plans.begin_create_or_update(
        GROUP,
        PLAN,
        AppServicePlan(
            location=LOCATION,
            kind="linux",
            properties=AppServicePlanProperties(reserved=True),  # without it: a Windows plan
            sku=SkuDescription(name="B1", tier="Basic", capacity=1),
        ),
    ).result()
    envelope = Site(
        location=LOCATION,
        kind="app,linux",
        properties=SiteProperties(
            server_farm_id=plan.id,
            reserved=True,
            https_only=True,
            client_affinity_enabled=True,
            site_config=SiteConfig(
                linux_fx_version="PYTHON|3.11",
                app_command_line="gunicorn --bind=0.0.0.0:8000 app:create_app()",
                app_settings=[NameValuePair(name="PROBE_TOKEN", value=PROBE_TOKEN)],
            ),
        ),
    )
    return web.web_apps.begin_create_or_update(GROUP, APP, envelope).result()


def _publish(scm_host: str, data: bytes, token: str = "fake-token") -> requests.Response:
    """POST a ZIP to Kudu OneDeploy, asynchronously, as the backend does."""
    return requests.post(
        f"https://{scm_host}/api/publish",
        params={"type": "zip", "async": "true"},
        data=data,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/zip"},
        timeout=5,
    )


def _poll_deployment(status_url: str, token: str = "fake-token") -> list[dict[str, Any]]:
    """Every status answer until status 3 or 4, as az reads it (a few polls at most)."""
    seen: list[dict[str, Any]] = []
    for _ in range(5):
        answer = requests.get(status_url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
        assert answer.status_code in (200, 202), answer.text
        seen.append(answer.json())
        if seen[-1]["status"] in (3, 4):
            return seen
    raise AssertionError(f"deployment never ended: {seen}")


def _probe_get(site: SimulatedSite, path: str, instance_id: str = "") -> requests.Response:
    """GET a probe endpoint with the app's token, pinned to ``instance_id`` when given."""
    cookies = {"ARRAffinity": instance_id, "ARRAffinitySameSite": instance_id}
    return requests.get(
        f"https://{site.default_host_name}{path}",
        headers={TOKEN_HEADER: site.app_settings.get("PROBE_TOKEN", "")},
        cookies=cookies if instance_id else None,
        timeout=5,
    )


def _sku(plan: AppServicePlan) -> SkuDescription:
    """The plan's SKU, which ARM always reports."""
    assert plan.sku is not None
    return plan.sku


def _identity(client: ProbeClient) -> Identity:
    """The probe's identity answer, which a running probe always gives."""
    identity = client.identity()
    assert identity is not None
    return identity


def _deploy(site: SimulatedSite, package: ProbePackage) -> None:
    """Deploy through Kudu and poll the deployment to success."""
    answer = _publish(site.scm_host_name, package.data)
    assert answer.status_code == 202, answer.text
    assert _poll_deployment(answer.headers["Location"])[-1]["status"] == 4


# --- provisioning through the SDK's long-running operations ----------------------------


def test_provisioning_creates_group_plan_and_site_through_lros(
    azure_simulator: AzureSimulator,
    web: WebSiteManagementClient,
    resources: ResourceManagementClient,
    credential: FakeCredential,
) -> None:
    site = _provision(web, resources)

    assert site.kind == "app,linux"
    assert site.default_host_name == f"{APP}.azurewebsites.net"
    assert site.server_farm_id.endswith(
        f"/resourceGroups/{GROUP}/providers/Microsoft.Web/serverfarms/{PLAN}"
    )
    assert site.client_affinity_enabled is True
    assert site.reserved is True
    assert site.state == "Running"
    assert [s.host_type for s in site.host_name_ssl_states] == ["Standard", "Repository"]
    assert f"{APP}.scm.azurewebsites.net" in site.enabled_host_names
    # The site PUT was accepted (202) with a Location, polled there (202 once, then 200 with
    # the site): Location polling has no final GET.
    site_path = (
        f"/subscriptions/{azure_simulator.subscription_id}/resourceGroups/{GROUP}"
        f"/providers/Microsoft.Web/sites/{APP}"
    )
    calls = [
        c for c in azure_simulator.arm_calls() if "/sites/" in c[1] or "operationresults" in c[1]
    ]
    assert [method for method, _ in calls[-3:]] == ["PUT", "GET", "GET"]
    assert calls[-3][1] == f"{site_path}?api-version={WEB_API_VERSION}"
    assert all(t.startswith(f"{site_path}/operationresults/") for _, t in calls[-2:])
    assert ("https://management.azure.com/.default",) in credential.scopes
    assert set(azure_simulator.arm_tokens) == {"fake-token"}


def test_a_put_on_an_existing_site_updates_it_and_applies_new_settings(
    azure_simulator: AzureSimulator,
    web: WebSiteManagementClient,
    resources: ResourceManagementClient,
    package: ProbePackage,
) -> None:
    site = _provision(web, resources)
    simulated = azure_simulator.site(APP)
    _deploy(simulated, package)
    instance_id = simulated.backend.instances()[0]
    container = simulated.backend.container_of(instance_id)
    reconfigured = simulated.backend.operations.counts.get("reconfigure", 0)
    site.tags = {"run": "r2"}
    site.site_config = SiteConfig(app_settings=[NameValuePair(name="PROBE_TOKEN", value="t2")])

    updated = web.web_apps.begin_create_or_update(GROUP, APP, site).result()

    assert updated.tags == {"run": "r2"}
    assert web.web_apps.list_application_settings(GROUP, APP).properties == {"PROBE_TOKEN": "t2"}
    assert web.web_apps.get_configuration(GROUP, APP).linux_fx_version == "PYTHON|3.11"
    # New settings, new containers on the same instance (as for a settings PUT).
    assert simulated.backend.operations.counts.get("reconfigure") == reconfigured + 1
    assert simulated.backend.instances() == [instance_id]
    assert simulated.backend.container_of(instance_id) not in (None, container)


def test_site_names_are_global_and_plans_have_a_worker_limit(
    web: WebSiteManagementClient, resources: ResourceManagementClient
) -> None:
    site = _provision(web, resources)
    resources.resource_groups.create_or_update("rg-other", {"location": "koreacentral"})
    plan = web.app_service_plans.get(GROUP, PLAN)
    _sku(plan).capacity = 4  # B1 allows three

    with pytest.raises(
        ResourceExistsError, match="Website with given name app-appservice-fs already exists"
    ):
        web.web_apps.begin_create_or_update("rg-other", APP, site)
    with pytest.raises(HttpResponseError) as too_many:
        web.app_service_plans.begin_create_or_update(GROUP, PLAN, plan)

    assert too_many.value.status_code == 400


def test_lros_done_at_the_first_poll_never_wait_for_the_polling_interval(
    azure_simulator: AzureSimulator, credential: FakeCredential
) -> None:
    azure_simulator.lro_polls = 0
    # Default polling_interval (30 s): only the InProgress answers would make it wait.
    web = WebSiteManagementClient(credential, azure_simulator.subscription_id)
    resources = ResourceManagementClient(credential, azure_simulator.subscription_id)

    started = time.monotonic()
    _provision(web, resources)
    resources.resource_groups.begin_delete(GROUP).result()

    assert time.monotonic() - started < 5


def test_tokens_for_another_audience_are_refused(azure_simulator: AzureSimulator) -> None:
    credential = FakeCredential(mark_scope=True)
    web = WebSiteManagementClient(credential, azure_simulator.subscription_id, **FAST)
    site = azure_simulator.add_existing_app(GROUP, APP)
    data = build_package(default_probe_dir()).data

    assert web.web_apps.get(GROUP, APP).name == APP  # the SDK asked for an ARM token
    arm_token = credential.get_token("https://management.azure.com/.default").token
    kudu_token = credential.get_token(KUDU_SCOPE).token
    assert _publish(site.scm_host_name, data, arm_token).status_code == 401
    assert _publish(site.scm_host_name, data, kudu_token).status_code == 202


def test_site_get_is_sparse_and_config_web_holds_the_full_configuration(
    web: WebSiteManagementClient, resources: ResourceManagementClient
) -> None:
    _provision(web, resources)

    site = web.web_apps.get(GROUP, APP)
    config = web.web_apps.get_configuration(GROUP, APP)

    # As ARM does: GET site leaves most of siteConfig null; config/web has it all.
    assert site.site_config.linux_fx_version == "PYTHON|3.11"
    assert site.site_config.app_command_line is None
    assert config.linux_fx_version == "PYTHON|3.11"
    assert config.app_command_line.startswith("gunicorn")
    assert config.number_of_workers == 1


def test_config_patch_merges_and_keeps_what_it_does_not_name(
    web: WebSiteManagementClient, resources: ResourceManagementClient
) -> None:
    _provision(web, resources)

    answer = web.web_apps.update_configuration(
        GROUP, APP, SiteConfigResource(properties=SiteConfig(app_command_line="gunicorn app:app"))
    )

    assert answer.app_command_line == "gunicorn app:app"
    assert answer.linux_fx_version == "PYTHON|3.11"
    assert web.web_apps.get_configuration(GROUP, APP).app_command_line == "gunicorn app:app"


def test_app_settings_update_replaces_all_and_recreates_the_containers(
    azure_simulator: AzureSimulator,
    web: WebSiteManagementClient,
    resources: ResourceManagementClient,
    package: ProbePackage,
) -> None:
    _provision(web, resources)
    site = azure_simulator.site(APP)
    _deploy(site, package)
    instance_id = site.backend.instances()[0]
    containers = [site.backend.container_of(instance_id)]
    reconfigured = site.backend.operations.counts.get("reconfigure", 0)
    assert web.web_apps.list_application_settings(GROUP, APP).properties == {
        "PROBE_TOKEN": PROBE_TOKEN
    }

    answer = web.web_apps.update_application_settings(
        GROUP, APP, StringDictionary(properties={"OTHER": "1", "PROBE_TOKEN": "t2"})
    )
    containers.append(site.backend.container_of(instance_id))
    replaced = web.web_apps.update_application_settings(
        GROUP, APP, StringDictionary(properties={"PROBE_TOKEN": "t3"})
    )
    containers.append(site.backend.container_of(instance_id))
    removed = web.web_apps.update_application_settings(GROUP, APP, StringDictionary(properties={}))
    containers.append(site.backend.container_of(instance_id))
    unchanged = web.web_apps.update_application_settings(
        GROUP, APP, StringDictionary(properties={})
    )

    assert answer.properties == {"OTHER": "1", "PROBE_TOKEN": "t2"}
    assert replaced.properties == {"PROBE_TOKEN": "t3"}  # OTHER is gone: PUT replaces all
    assert replaced.name == "appsettings"
    assert removed.properties == unchanged.properties == {}
    # Each change (an addition, a removal, all removed) gives the instance a new container
    # once; the same settings again change nothing.
    assert None not in containers
    assert len(set(containers)) == 4
    assert site.backend.container_of(instance_id) == containers[-1]
    assert site.backend.instances() == [instance_id]
    assert site.backend.app_settings == {}
    counts = site.backend.operations.counts
    assert counts.get("reconfigure") == reconfigured + 3
    assert "restart" not in counts


def test_a_settings_change_reaches_the_new_processes(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(
        GROUP, APP, app_settings={"PROBE_TOKEN": PROBE_TOKEN}, package=package
    )

    web.web_apps.update_application_settings(
        GROUP, APP, StringDictionary(properties={"PROBE_TOKEN": "t2"})
    )

    def identity(token: str) -> int:
        url = f"https://{site.default_host_name}/identity"
        return requests.get(url, headers={TOKEN_HEADER: token}, timeout=5).status_code

    assert (identity("t2"), identity(PROBE_TOKEN)) == (200, 401)


def test_the_storage_setting_decides_whether_home_is_the_share(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient, package: ProbePackage
) -> None:
    """WEBSITES_ENABLE_APP_SERVICE_STORAGE=false in a settings update gives the new
    containers a /home of their own, without the share's marker; true brings the share back."""
    site = azure_simulator.add_existing_app(
        GROUP, APP, app_settings={"PROBE_TOKEN": PROBE_TOKEN}, package=package
    )
    _, written = site.backend.probe().write("n1", [HOME])
    assert written[HOME].checksum

    def home_marker(storage: str) -> bool:
        settings = {"PROBE_TOKEN": PROBE_TOKEN, "WEBSITES_ENABLE_APP_SERVICE_STORAGE": storage}
        web.web_apps.update_application_settings(GROUP, APP, StringDictionary(properties=settings))
        _, read = site.backend.probe().read("n1", [HOME])
        return read[HOME].exists

    assert (home_marker("false"), home_marker("true")) == (False, True)


# --- lifecycle calls ---------------------------------------------------------------------


def test_restart_records_exactly_the_query_it_was_sent(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient, package: ProbePackage
) -> None:
    azure_simulator.soft_restart_restarts = True  # something pending: soft restarts too
    site = azure_simulator.add_existing_app(GROUP, APP, package=package)

    web.web_apps.restart(GROUP, APP)
    web.web_apps.restart(GROUP, APP, soft_restart=True)
    web.web_apps.restart(GROUP, APP, soft_restart=False, synchronous=True)

    queries = [record.query for record in azure_simulator.restarts]
    assert queries == [
        {"api-version": WEB_API_VERSION},  # the SDK sends no softRestart unless asked
        {"api-version": WEB_API_VERSION, "softRestart": "true"},
        {"api-version": WEB_API_VERSION, "softRestart": "false", "synchronous": "true"},
    ]
    assert [record.soft for record in azure_simulator.restarts] == [False, True, False]
    counts = site.backend.operations.counts
    assert (counts.get("restart"), counts.get("restart_soft")) == (2, 1)


def test_a_soft_restart_can_find_nothing_to_do(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient, package: ProbePackage
) -> None:
    azure_simulator.soft_restart_restarts = False
    site = azure_simulator.add_existing_app(GROUP, APP, package=package)

    web.web_apps.restart(GROUP, APP, soft_restart=True)

    assert [record.soft for record in azure_simulator.restarts] == [True]
    assert "restart_soft" not in site.backend.operations.counts  # "only if necessary"


def test_stop_and_start_recreate_containers_on_the_same_instance(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(GROUP, APP, package=package)
    instance_id = site.backend.instances()[0]
    before = site.backend.container_of(instance_id)

    web.web_apps.stop(GROUP, APP)
    stopped = web.web_apps.get(GROUP, APP).state
    stopped_answer = _probe_get(site, "/identity").status_code
    web.web_apps.start(GROUP, APP)

    assert stopped == "Stopped"
    assert stopped_answer == 503  # what the fake's front end answers for a stopped app
    assert web.web_apps.get(GROUP, APP).state == "Running"
    assert site.backend.instances() == [instance_id]
    assert site.backend.container_of(instance_id) not in (None, before)


def test_scaling_the_plan_capacity_adds_and_removes_instances(
    azure_simulator: AzureSimulator,
    web: WebSiteManagementClient,
    resources: ResourceManagementClient,
) -> None:
    _provision(web, resources)

    def instances() -> list[str]:
        return [str(i.name) for i in web.web_apps.list_instance_identifiers(GROUP, APP)]

    def scale(capacity: int) -> AppServicePlan:
        plan = web.app_service_plans.get(GROUP, PLAN)
        _sku(plan).capacity = capacity
        return web.app_service_plans.begin_create_or_update(GROUP, PLAN, plan).result()

    first = instances()
    scaled_out = scale(2)
    two = instances()
    scaled_in = scale(1)

    assert len(first) == 1
    assert HEX64.fullmatch(first[0])
    assert (_sku(scaled_out).capacity, scaled_out.number_of_workers) == (2, 2)
    assert two == [first[0], two[1]]
    assert two[1] != first[0]
    assert (_sku(scaled_in).capacity, scaled_in.kind, scaled_in.reserved) == (1, "linux", True)
    assert instances() == first
    assert web.web_apps.get_configuration(GROUP, APP).number_of_workers == 1


def test_a_new_sku_moves_every_instance_to_new_workers_and_keeps_home(
    azure_simulator: AzureSimulator,
    web: WebSiteManagementClient,
    resources: ResourceManagementClient,
    package: ProbePackage,
) -> None:
    _provision(web, resources)
    site = azure_simulator.site(APP)
    _deploy(site, package)
    plan = web.app_service_plans.get(GROUP, PLAN)
    _sku(plan).capacity = 2
    web.app_service_plans.begin_create_or_update(GROUP, PLAN, plan).result()
    before = site.backend.instances()

    plan = web.app_service_plans.get(GROUP, PLAN)
    _sku(plan).name = _sku(plan).size = "B2"
    resized = _sku(web.app_service_plans.begin_create_or_update(GROUP, PLAN, plan).result())
    after = [str(i.name) for i in web.web_apps.list_instance_identifiers(GROUP, APP)]

    assert (resized.name, resized.tier, resized.capacity) == ("B2", "Basic", 2)
    assert azure_simulator.plan(GROUP, PLAN).sku == "B2"
    assert len(after) == 2
    assert not set(after) & set(before)
    assert site.backend.operations.counts.get("replace_instances") == 1
    identity = _probe_get(site, "/identity", after[0])
    assert identity.status_code == 200, identity.text
    assert identity.json()["instance_id"] == after[0]
    # /home kept: the code deployed to wwwroot before the move still runs.
    assert identity.json()["deployment_id"] == package.deployment_id


def test_the_same_sku_again_moves_nothing(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient
) -> None:
    site = azure_simulator.add_existing_app(GROUP, APP, plan=PLAN, capacity=2)
    before = site.backend.instances()

    plan = web.app_service_plans.get(GROUP, PLAN)
    plan.tags = {"touched": "yes"}
    web.app_service_plans.begin_create_or_update(GROUP, PLAN, plan).result()

    assert site.backend.instances() == before
    assert "replace_instances" not in site.backend.operations.counts


def test_restart_sites_restarts_every_app_of_the_plan_and_no_other(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient, package: ProbePackage
) -> None:
    azure_simulator.soft_restart_restarts = True  # something pending: soft restarts too
    first = azure_simulator.add_existing_app(GROUP, APP, plan=PLAN, package=package)
    second = azure_simulator.add_existing_app(GROUP, "second-app", plan=PLAN, package=package)
    elsewhere = azure_simulator.add_existing_app(GROUP, "other-app", package=package)

    web.app_service_plans.restart_web_apps(GROUP, PLAN)
    web.app_service_plans.restart_web_apps(GROUP, PLAN, soft_restart=True)

    records = azure_simulator.plan_restarts
    assert [(r.plan, r.sites) for r in records] == [(PLAN, (APP, "second-app"))] * 2
    assert [r.query for r in records] == [
        {"api-version": WEB_API_VERSION},
        {"api-version": WEB_API_VERSION, "softRestart": "true"},
    ]
    for site in (first, second):
        counts = site.backend.operations.counts
        assert (counts.get("restart"), counts.get("restart_soft")) == (1, 1)
    assert "restart" not in elsewhere.backend.operations.counts
    assert azure_simulator.restarts == []  # no site's own restart was called
    with pytest.raises(
        ResourceNotFoundError,
        match=r"serverFarms/no-such-plan' under resource group 'rg-appservice-fs' was not found",
    ):
        web.app_service_plans.restart_web_apps(GROUP, "no-such-plan")


def test_instance_listing_names_each_instance_by_its_id(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient
) -> None:
    site = azure_simulator.add_existing_app(GROUP, APP, capacity=2)

    listed = list(web.web_apps.list_instance_identifiers(GROUP, APP))

    assert [i.name for i in listed] == site.backend.instances()
    assert listed[0].type == "Microsoft.Web/sites/instances"
    assert str(listed[0].id).endswith(f"/sites/{APP}/instances/{listed[0].name}")
    assert listed[0].state == "READY"


# --- Kudu and the probe ------------------------------------------------------------------


def test_zip_deploy_then_the_probe_answers_with_the_new_deployment(
    azure_simulator: AzureSimulator,
    web: WebSiteManagementClient,
    resources: ResourceManagementClient,
    credential: FakeCredential,
    package: ProbePackage,
) -> None:
    _provision(web, resources)
    site = azure_simulator.site(APP)
    scm = next(
        s.name
        for s in web.web_apps.get(GROUP, APP).host_name_ssl_states
        if s.host_type == "Repository"
    )
    before = _probe_get(site, "/identity")
    token = credential.get_token(KUDU_SCOPE).token

    accepted = _publish(scm, package.data, token)
    statuses = _poll_deployment(accepted.headers["Location"], token)
    instance_id = next(str(i.name) for i in web.web_apps.list_instance_identifiers(GROUP, APP))
    identity = _probe_get(site, "/identity", instance_id)

    assert before.status_code == 404  # no probe yet: the app runs other code
    assert accepted.status_code == 202
    assert accepted.headers["Location"].startswith(f"https://{scm}/api/deployments/latest?")
    # Pending while building (202), Pending while the lock is held though complete, Success.
    assert [(s["status"], s["complete"]) for s in statuses] == [(0, False), (0, True), (4, True)]
    assert statuses[-1]["log_url"] == f"https://{scm}/api/deployments/latest/log"
    assert azure_simulator.kudu_tokens == [token] * 4
    assert identity.status_code == 200, identity.text
    assert identity.json()["instance_id"] == instance_id
    assert identity.json()["deployment_id"] == package.deployment_id


def test_a_synchronous_publish_answers_when_the_deployment_is_done(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(GROUP, APP, app_settings={"PROBE_TOKEN": "t"})
    bearer = {"Authorization": "Bearer fake-token"}
    latest = f"https://{site.scm_host_name}/api/deployments/latest"
    nothing_yet = requests.get(latest, headers=bearer, timeout=5)

    answer = requests.post(
        f"https://{site.scm_host_name}/api/publish?type=zip",
        data=package.data,
        headers=bearer,
        timeout=5,
    )

    assert nothing_yet.status_code == 404
    assert answer.status_code == 200
    assert requests.get(latest, headers=bearer, timeout=5).json()["status"] == 4
    assert _probe_get(site, "/identity").json()["deployment_id"] == package.deployment_id


def test_kudu_wants_a_bearer_token(azure_simulator: AzureSimulator, package: ProbePackage) -> None:
    site = azure_simulator.add_existing_app(GROUP, APP)

    anonymous = requests.post(
        f"https://{site.scm_host_name}/api/publish?type=zip&async=true",
        data=package.data,
        timeout=5,
    )
    basic = requests.post(
        f"https://{site.scm_host_name}/api/publish?type=zip&async=true",
        data=package.data,
        auth=("$app", "password"),
        timeout=5,
    )

    assert (anonymous.status_code, basic.status_code) == (401, 401)
    assert azure_simulator.deployments == []


def test_publish_conflicts_then_accepts(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(GROUP, APP)
    azure_simulator.deploy_conflicts(2)

    answers = [_publish(site.scm_host_name, package.data).status_code for _ in range(3)]

    assert answers == [409, 409, 202]
    assert len(azure_simulator.deployments) == 1


def test_a_failed_deployment_ends_with_status_3_and_a_log(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(GROUP, APP)
    azure_simulator.deploy_fails_next()

    accepted = _publish(site.scm_host_name, package.data)
    final = _poll_deployment(accepted.headers["Location"])[-1]
    latest = requests.get(
        f"https://{site.scm_host_name}/api/deployments/latest",
        headers={"Authorization": "Bearer fake-token"},
        timeout=5,
    ).json()
    log = requests.get(final["log_url"], headers={"Authorization": "Bearer fake-token"}, timeout=5)

    assert (final["status"], final["complete"]) == (3, True)
    assert latest["id"] == final["id"]
    assert final["log_url"] == f"https://{site.scm_host_name}/api/deployments/latest/log"
    assert "failed" in log.json()[-1]["message"]
    assert _probe_get(site, "/identity").status_code == 404  # nothing was deployed


def test_affinity_cookies_pin_each_instance_and_arr_sets_them(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(
        GROUP, APP, capacity=2, app_settings={"PROBE_TOKEN": PROBE_TOKEN}, package=package
    )
    first, second = site.backend.instances()

    pinned = [_probe_get(site, "/identity", i).json()["instance_id"] for i in (second, first)]
    session = requests.Session()
    unpinned = session.get(
        f"https://{site.default_host_name}/identity", headers={TOKEN_HEADER: PROBE_TOKEN}, timeout=5
    )
    served = unpinned.json()["instance_id"]
    again = session.get(
        f"https://{site.default_host_name}/identity", headers={TOKEN_HEADER: PROBE_TOKEN}, timeout=5
    )

    assert pinned == [second, first]
    assert unpinned.cookies["ARRAffinity"] == served
    assert unpinned.cookies["ARRAffinitySameSite"] == served
    assert again.json()["instance_id"] == served  # the session's cookie pins it, as on Azure


def test_probe_client_pins_instances_through_a_session_that_keeps_no_cookies(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(
        GROUP, APP, capacity=2, app_settings={"PROBE_TOKEN": PROBE_TOKEN}, package=package
    )
    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))  # drop ARR's Set-Cookie
    base = f"https://{site.default_host_name}"

    def client(instance_id: str | None = None) -> ProbeClient:
        return ProbeClient(
            base, session=session, token=PROBE_TOKEN, instance_id=instance_id, timing=FAST_PROBE
        )

    client().identity()  # an unpinned call first: ARR answers it with Set-Cookie
    first, second = (i.name for i in web.web_apps.list_instance_identifiers(GROUP, APP))
    identity, _ = client(second).write("n1", LAB_PATHS)
    web.web_apps.restart(GROUP, APP)
    after, read = client(second).read("n1", LAB_PATHS)

    assert identity.instance_id == after.instance_id == second
    assert read
    assert all(marker.exists and marker.nonce_matches for marker in read.values())
    assert _identity(client(first)).instance_id == first
    assert azure_simulator.conflicting_cookies == 0


def test_a_pinned_probe_client_overrides_arr_cookies_a_session_kept(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(
        GROUP, APP, capacity=2, app_settings={"PROBE_TOKEN": PROBE_TOKEN}, package=package
    )
    session = requests.Session()
    base = f"https://{site.default_host_name}"
    served = _identity(ProbeClient(base, session=session, token=PROBE_TOKEN)).instance_id
    other = next(i for i in site.backend.instances() if i != served)
    pinned = ProbeClient(
        base, session=session, token=PROBE_TOKEN, instance_id=other, timing=FAST_PROBE
    )

    # ARR's Set-Cookie was kept in the session's jar; the client's explicit Cookie header
    # replaces the jar's, so the request carries one affinity and reaches the pinned instance.
    assert session.cookies.get("ARRAffinity") == served
    identity = pinned.identity()
    assert identity is not None
    assert identity.instance_id == other
    assert azure_simulator.conflicting_cookies == 0


def test_without_client_affinity_cookies_are_ignored(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(
        GROUP, APP, capacity=2, client_affinity=False, package=package
    )
    first = site.backend.instances()[0]

    answered = {_probe_get(site, "/identity", first).json()["instance_id"] for _ in range(4)}

    assert answered == set(site.backend.instances())


def test_http_to_an_https_only_app_is_redirected(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(GROUP, APP, package=package)

    answer = requests.get(
        f"http://{site.default_host_name}/health", allow_redirects=False, timeout=5
    )

    assert answer.status_code == 301
    assert answer.headers["Location"] == f"https://{site.default_host_name}/health"


# --- seeding attach-mode apps ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "fx", "reserved", "expected_fx"),
    [
        ("app,linux", "PYTHON|3.11", True, "PYTHON|3.11"),
        ("app,linux,container", "DOCKER|nginx", True, "DOCKER|nginx"),
        ("app", "PYTHON|3.11", False, ""),
    ],
)
def test_existing_apps_report_their_kind_and_stack(
    azure_simulator: AzureSimulator,
    web: WebSiteManagementClient,
    kind: str,
    fx: str,
    reserved: bool,
    expected_fx: str,
) -> None:
    azure_simulator.add_existing_app(
        GROUP, APP, kind=kind, linux_fx_version=fx, tags={"owner": "team"}, app_command_line="x"
    )

    site = web.web_apps.get(GROUP, APP)
    plan_group, plan_name = site.server_farm_id.split("/")[4], site.server_farm_id.split("/")[-1]

    assert (site.kind, site.reserved, site.tags) == (kind, reserved, {"owner": "team"})
    assert site.site_config.linux_fx_version == expected_fx
    assert web.web_apps.get_configuration(GROUP, APP).app_command_line == "x"
    assert web.app_service_plans.get(plan_group, plan_name).reserved is reserved


def test_windows_app_reports_its_windows_stack(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient
) -> None:
    azure_simulator.add_existing_app(GROUP, APP, kind="app", windows_fx_version="DOTNETCORE|8.0")

    config = web.web_apps.get_configuration(GROUP, APP)

    assert (config.linux_fx_version, config.windows_fx_version) == ("", "DOTNETCORE|8.0")


def test_unique_default_host_names_put_kudu_on_their_own_scm_host(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient, package: ProbePackage
) -> None:
    azure_simulator.add_existing_app(GROUP, APP, auto_host_name=True)

    site = web.web_apps.get(GROUP, APP)
    scm = next(s.name for s in site.host_name_ssl_states if s.host_type == "Repository")

    assert re.fullmatch(
        rf"{APP}-[0-9a-f]{{16}}\.koreacentral-01\.azurewebsites\.net", site.default_host_name
    )
    assert scm == site.default_host_name.replace(".koreacentral-01.", ".scm.koreacentral-01.")
    assert _publish(scm, package.data).status_code == 202
    with pytest.raises(
        requests.ConnectionError,
        match=r"simulated DNS: no such host 'app-appservice-fs\.scm\.azurewebsites\.net'",
    ):
        _publish(f"{APP}.scm.azurewebsites.net", package.data)


# --- retries, errors and unknown requests ------------------------------------------------


def test_throttling_is_retried_after_the_retry_after_delay(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient
) -> None:
    azure_simulator.add_existing_app(GROUP, APP)
    azure_simulator.throttle_next("GET", rf"/sites/{APP}\?", retry_after=1)

    started = time.monotonic()
    site = web.web_apps.get(GROUP, APP)
    elapsed = time.monotonic() - started

    assert site.name == APP
    assert elapsed >= 1.0  # azure-core slept for Retry-After, not its own backoff
    gets = [
        r for r in azure_simulator.requests if r.method == "GET" and r.url.endswith(WEB_API_VERSION)
    ]
    assert [r.status for r in gets] == [429, 200]


def test_server_errors_are_retried_even_on_post(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient
) -> None:
    azure_simulator.add_existing_app(GROUP, APP)
    azure_simulator.fail_next("GET", rf"/sites/{APP}\?")
    azure_simulator.fail_next("POST", r"/restart", status=503)

    web.web_apps.get(GROUP, APP)
    web.web_apps.restart(GROUP, APP)

    statuses = [(r.method, r.status) for r in azure_simulator.requests]
    assert statuses == [("GET", 500), ("GET", 200), ("POST", 503), ("POST", 200)]
    assert len(azure_simulator.restarts) == 1  # the 503 never reached the app


def test_a_missing_app_is_resource_not_found(
    azure_simulator: AzureSimulator,
    web: WebSiteManagementClient,
    resources: ResourceManagementClient,
) -> None:
    resources.resource_groups.create_or_update(GROUP, {"location": "koreacentral"})

    with pytest.raises(ResourceNotFoundError) as missing_app:
        web.web_apps.get(GROUP, "no-such-app")
    with pytest.raises(ResourceNotFoundError) as missing_group:
        web.web_apps.get("no-such-group", "no-such-app")

    assert missing_app.value.error is not None
    assert missing_group.value.error is not None
    assert missing_app.value.error.code == "ResourceNotFound"
    assert missing_group.value.error.code == "ResourceGroupNotFound"
    assert resources.resource_groups.check_existence(GROUP) is True
    assert resources.resource_groups.check_existence("no-such-group") is False


def test_missing_api_version_or_token_is_refused(azure_simulator: AzureSimulator) -> None:
    azure_simulator.add_existing_app(GROUP, APP)
    url = (
        f"https://management.azure.com/subscriptions/{azure_simulator.subscription_id}"
        f"/resourceGroups/{GROUP}/providers/Microsoft.Web/sites/{APP}"
    )

    no_version = requests.get(url, headers={"Authorization": "Bearer t"}, timeout=5)
    no_token = requests.get(url, params={"api-version": WEB_API_VERSION}, timeout=5)

    assert no_version.status_code == 400
    assert no_version.json()["error"]["code"] == "MissingApiVersionParameter"
    assert no_token.status_code == 401


def test_unknown_requests_fail_loudly(
    azure_simulator: AzureSimulator, credential: FakeCredential
) -> None:
    unretried = WebSiteManagementClient(credential, azure_simulator.subscription_id, retry_total=0)

    with pytest.raises(
        requests.ConnectionError,
        match="Connection refused by Responses - the call doesn't match any registered mock",
    ):
        requests.get(
            "https://management.azure.com/subscriptions/x/providers/Microsoft.Web/sites",
            params={"api-version": WEB_API_VERSION},
            timeout=5,
        )
    with pytest.raises(
        requests.ConnectionError,
        match=r"doesn't match any registered mock\.\n\nRequest: \n- GET https://example\.com/",
    ):
        requests.get("https://example.com/", timeout=5)
    # A host no app owns: no DNS name.
    with pytest.raises(
        requests.ConnectionError, match=r"simulated DNS: no such host 'nobody\.azurewebsites\.net'"
    ):
        requests.get("https://nobody.azurewebsites.net/health", timeout=5)
    # azure-core wraps the ConnectionError
    with pytest.raises(
        ServiceRequestError,
        match=r"registered mock\.\n\nRequest: \n- GET https://management\.azure\.com/subscriptions/0{8}-",
    ):
        list(unretried.web_apps.list())


# --- resource groups ---------------------------------------------------------------------


def test_group_delete_lro_removes_its_plans_and_sites(
    azure_simulator: AzureSimulator,
    web: WebSiteManagementClient,
    resources: ResourceManagementClient,
) -> None:
    _provision(web, resources)
    root = azure_simulator.site(APP).backend.root
    assert root.exists()

    # azure-core polls in a thread of its own as soon as the poller exists; a Retry-After of
    # 1 s makes it wait before its first poll, so that the group is seen while it is deleted.
    azure_simulator.lro_retry_after = 1
    poller = resources.resource_groups.begin_delete(GROUP)
    properties = resources.resource_groups.get(GROUP).properties
    assert properties is not None
    during = properties.provisioning_state
    poller.result()

    assert during == "Deleting"
    assert not root.exists()  # the fake app was torn down
    with pytest.raises(
        ResourceNotFoundError,
        match=r"\(ResourceGroupNotFound\) Resource group 'rg-appservice-fs' could not be found",
    ):
        web.web_apps.get(GROUP, APP)
    with pytest.raises(
        ResourceNotFoundError,
        match=r"\(ResourceGroupNotFound\) Resource group 'rg-appservice-fs' could not be found",
    ):
        resources.resource_groups.get(GROUP)
    polls = [
        t for _, t in azure_simulator.arm_calls() if re.match(r"/subscriptions/[^/]+/operat", t)
    ]
    assert len(polls) == 2  # 202 once, then 200
    assert all(t.endswith(f"?api-version={RESOURCES_API_VERSION}") for t in polls)


def test_groups_are_listed_by_tag_name_and_value(
    azure_simulator: AzureSimulator, resources: ResourceManagementClient
) -> None:
    for name, tags in [
        ("rg-a", {"project": "fs", "run": "1"}),
        ("rg-b", {"project": "fs", "run": "2"}),
        ("rg-c", {}),
    ]:
        resources.resource_groups.create_or_update(name, {"location": "koreacentral", "tags": tags})

    by_name = [g.name for g in resources.resource_groups.list(filter="tagName eq 'project'")]
    by_value = [
        g.name
        for g in resources.resource_groups.list(filter="tagName eq 'run' and tagValue eq '2'")
    ]
    everything = [g.name for g in resources.resource_groups.list()]

    assert by_name == ["rg-a", "rg-b"]
    assert by_value == ["rg-b"]
    assert everything == ["rg-a", "rg-b", "rg-c"]
    with pytest.raises(HttpResponseError, match=r"\(InvalidFilter\) Unsupported \$filter"):
        list(resources.resource_groups.list(filter="substringof('fs', name)"))


def test_call_log_helpers_split_arm_kudu_and_probe(
    azure_simulator: AzureSimulator, web: WebSiteManagementClient, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(GROUP, APP)
    web.web_apps.get(GROUP, APP)
    _deploy(site, package)
    _probe_get(site, "/health")

    assert [m for m, _ in azure_simulator.arm_calls()] == ["GET"]
    assert azure_simulator.kudu_calls()[0] == ("POST", f"{site.scm_host_name}/api/publish")
    assert azure_simulator.probe_calls() == [("GET", f"{site.default_host_name}/health")]
    assert len(azure_simulator.calls) == 1 + len(azure_simulator.kudu_calls()) + 1
