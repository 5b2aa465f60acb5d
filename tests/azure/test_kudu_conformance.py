"""Kudu as KuduLite and `az webapp deploy` say it behaves: the backend's client and the simulator.

Sources, cited where each fact is used (the simulator is never one):

- Azure-App-Service/KuduLite: Kudu.Services/Deployment/PushDeploymentController.cs (OneDeploy's
  202 and its Location, the 409s), Kudu.Services/Deployment/DeploymentController.cs
  (GetResult), Kudu.Services/Resources.resx (the 409 words),
  Kudu.Core/Deployment/FetchDeploymentManager.cs (run-from-package before the lock),
  Kudu.Contracts/Deployment/DeployStatus.cs (0 Pending ... 4 Success).
- Azure/azure-cli 2.91.0, src/azure-cli/azure/cli/command_modules/appservice/custom.py:
  `_warmup_kudu_and_get_cookie_internal`, `_get_instance_id_internal`, `_make_onedeploy_request`,
  `_check_zip_deployment_status`.
- MicrosoftDocs/azure-docs, articles/app-service/resources-kudu.md: Kudu wants
  `Microsoft.Web/sites/publish/Action` (Website Contributor has it).
"""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
import requests

pytest.importorskip("azure.mgmt.web")

from pytest_appservice_fs.backends.azure import AzureBackend, AzureTarget
from pytest_appservice_fs.backends.azure.groups import TAG_PROJECT
from pytest_appservice_fs.backends.azure.kudu import (
    DeployError,
    KuduClient,
    KuduTiming,
    deployment_log_url,
)
from pytest_appservice_fs.backends.protocol import BackendTiming
from pytest_appservice_fs.engine.probe_client import ProbeTiming, probe_session
from pytest_appservice_fs.engine.probe_package import (
    ProbePackage,
    build_package,
    default_probe_dir,
)
from tests.azure.conftest import FakeCredential
from tests.azure.simulator import AzureSimulator
from tests.azure.simulator.kudu import NO_PUBLISH_PERMISSION

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
GROUP = "rg-kudu"
APP = "kudu-app"
ARM_SCOPE = "https://management.azure.com/.default"
#: Deadlines long enough that a retry loop shows as many calls, waits short enough to be fast.
KUDU = KuduTiming(
    warmup_deadline=2.0, start_deadline=2.0, finish_deadline=5.0, poll_interval=0.01,
    wait_initial=0.01, wait_max=0.02,
)  # fmt: skip
KUDU_LOG = "pytest_appservice_fs.backends.azure.kudu"


@pytest.fixture
def package() -> ProbePackage:
    """The probe as a ZIP."""
    return build_package(default_probe_dir())


def _client(
    simulator: AzureSimulator,
    credential: Any,
    *,
    timing: KuduTiming = KUDU,
    settings: dict[str, str] | None = None,
) -> KuduClient:
    site = simulator.add_existing_app(GROUP, APP, app_settings=settings)
    return KuduClient(site.scm_host_name, credential, session=probe_session(), timing=timing)


def _publishes(simulator: AzureSimulator) -> list[int | None]:
    return [r.status for r in simulator.requests if r.url.split("?")[0].endswith("/api/publish")]


def _bearer(token: str = "fake-token") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class _TurningCredential(FakeCredential):
    """Kudu tokens for the first ``good`` calls, then tokens for ARM, which Kudu refuses (401)."""

    def __init__(self, good: int) -> None:
        super().__init__(mark_scope=True)
        self.good = good

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        """A token for ``scopes`` while good calls are left, then one for ARM."""
        if len(self.scopes) >= self.good:
            scopes = (ARM_SCOPE,)
        return super().get_token(*scopes, **kwargs)


# --- A. a 409 has several causes: its body tells which ------------------------------------


def test_a_deployment_in_progress_is_retried_naming_kudu_s_reason(
    azure_simulator: AzureSimulator,
    credential: FakeCredential,
    package: ProbePackage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Resources.resx Error_DeploymentInProgress: "...Please try again when it completes."."""
    client = _client(azure_simulator, credential)
    azure_simulator.deploy_conflicts(2)

    with caplog.at_level(logging.INFO, logger=KUDU_LOG):
        assert client.deploy_zip(package.data)["status"] == 4

    assert _publishes(azure_simulator) == [409, 409, 202]
    retries = [
        r.getMessage() for r in caplog.records if "starting the deployment" in r.getMessage()
    ]
    assert len(retries) == 2
    assert "another deployment holds the deployment lock" in retries[0]
    assert "There is a deployment currently in progress" in retries[0]


@pytest.mark.parametrize("setting", ["WEBSITE_RUN_FROM_PACKAGE", "WEBSITE_USE_ZIP"])
def test_a_run_from_package_url_stops_at_once_naming_the_setting(
    azure_simulator: AzureSimulator, credential: FakeCredential, package: ProbePackage, setting: str
) -> None:
    """FetchDeploymentManager: RunFromRemoteZip() is 409 Error_RunFromRemoteZipConfigured."""
    client = _client(
        azure_simulator, credential, settings={setting: "https://storage.invalid/app.zip"}
    )

    with pytest.raises(DeployError) as excinfo:
        client.deploy_zip(package.data)

    message = str(excinfo.value)
    assert _publishes(azure_simulator) == [409]  # never retried: it does not clear
    assert "WEBSITE_RUN_FROM_PACKAGE (or WEBSITE_USE_ZIP) points at a URL (HTTP 409)" in message
    assert message.endswith(".")
    assert ". " not in message  # one sentence


def test_simulated_kudu_answers_each_409_with_its_resx_words(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    """A held lock and a run-from-package URL: 409 with Kudu's own words (Resources.resx)."""
    site = azure_simulator.add_existing_app(GROUP, APP)
    publish = f"https://{site.scm_host_name}/api/publish?type=zip&async=true"
    first = requests.post(publish, data=package.data, headers=_bearer(), timeout=5)
    locked = requests.post(publish, data=package.data, headers=_bearer(), timeout=5)
    site.app_settings["WEBSITE_RUN_FROM_PACKAGE"] = "https://storage.invalid/app.zip"
    run_from_url = requests.post(publish, data=package.data, headers=_bearer(), timeout=5)

    assert first.status_code == 202
    assert (locked.status_code, locked.text) == (
        409,
        "There is a deployment currently in progress. Please try again when it completes.",
    )
    assert (run_from_url.status_code, run_from_url.text) == (
        409,
        "Run-From-Zip is set to a remote URL using WEBSITE_RUN_FROM_PACKAGE or WEBSITE_USE_ZIP "
        "app setting. Deployment is not supported in this configuration.",
    )


# --- B. 401 and 403 stop at once and name the permission ----------------------------------


def test_403_on_publish_stops_at_once_naming_the_permission(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    """An identity without Microsoft.Web/sites/publish/Action (resources-kudu.md)."""
    client = _client(azure_simulator, FakeCredential(f"fake-token{NO_PUBLISH_PERMISSION}"))

    with pytest.raises(DeployError) as excinfo:
        client.deploy_zip(package.data)

    assert _publishes(azure_simulator) == [403]
    assert str(excinfo.value) == (
        f"Kudu at {APP}.scm.azurewebsites.net refused the deployment (HTTP 403): the identity "
        "needs Microsoft.Web/sites/publish/Action on the app, for example through the Website "
        "Contributor role."
    )


def test_401_while_polling_stops_at_once_naming_the_permission(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    """The publish is taken; the first poll's token is refused: no more polls, one sentence."""
    client = _client(azure_simulator, _TurningCredential(good=1))

    with pytest.raises(DeployError) as excinfo:
        client.deploy_zip(package.data)

    polls = [c for c in azure_simulator.kudu_calls() if c[0] == "GET"]
    assert len(polls) == 1
    message = str(excinfo.value)
    assert (
        "refused the Microsoft Entra token for https://appservice.azure.com/.default on the "
        "deployment status poll (HTTP 401)"
    ) in message
    assert "the deployment status poll (HTTP 401)" in message
    assert "Microsoft.Web/sites/publish/Action" in message


def test_simulated_kudu_refuses_an_identity_without_the_permission(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    site = azure_simulator.add_existing_app(GROUP, APP)
    answer = requests.post(
        f"https://{site.scm_host_name}/api/publish?type=zip&async=true",
        data=package.data,
        headers=_bearer(f"fake-token{NO_PUBLISH_PERMISSION}"),
        timeout=5,
    )

    assert answer.status_code == 403
    assert azure_simulator.deployments == []


# --- C. status, not complete; the log URL from a Location with a query --------------------


def test_a_poll_that_says_complete_with_status_0_keeps_polling(
    azure_simulator: AzureSimulator, credential: FakeCredential, package: ProbePackage
) -> None:
    """DeploymentController.GetResult says Pending while the lock is held, complete or not."""
    client = _client(azure_simulator, credential)

    body = client.deploy_zip(package.data)

    polls = [c for c in azure_simulator.kudu_calls() if c[0] == "GET"]
    assert (body["status"], body["complete"]) == (4, True)
    assert len(polls) == 3  # 202 Pending; 200 Pending though complete; 200 Success


def test_simulated_onedeploy_answers_kudu_s_location_and_polls(
    azure_simulator: AzureSimulator, package: ProbePackage
) -> None:
    """OneDeploy's Location is `latest` with deployer and time; GetResult's answers in turn."""
    site = azure_simulator.add_existing_app(GROUP, APP)
    scm = site.scm_host_name
    accepted = requests.post(
        f"https://{scm}/api/publish?type=zip&async=true",
        data=package.data,
        headers=_bearer(),
        timeout=5,
    )
    location = accepted.headers["Location"]
    polls = [requests.get(location, headers=_bearer(), timeout=5) for _ in range(3)]

    assert accepted.status_code == 202
    pattern = rf"https://{re.escape(scm)}/api/deployments/latest\?deployer=OneDeploy&time="
    assert re.fullmatch(pattern + r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\dZ", location)
    seen = [(p.status_code, p.json()["status"], p.json()["complete"]) for p in polls]
    assert seen == [(202, 0, False), (200, 0, True), (200, 4, True)]
    assert polls[0].headers["Location"] == location
    assert polls[-1].json()["log_url"] == f"https://{scm}/api/deployments/latest/log"


def test_the_deployment_log_url_is_the_location_s_path_and_log() -> None:
    """UriHelper.MakeRelative: "We don't care about the query string"."""
    location = "https://a.scm.azurewebsites.net/api/deployments/latest?deployer=OneDeploy&time=t"

    assert (
        deployment_log_url(location) == "https://a.scm.azurewebsites.net/api/deployments/latest/log"
    )


def test_a_deployment_past_its_deadline_names_its_log(
    azure_simulator: AzureSimulator, credential: FakeCredential, package: ProbePackage
) -> None:
    """No finish within the deadline: one sentence with the log URL built from the Location."""
    timing = KuduTiming(finish_deadline=0.0, poll_interval=0.01, wait_initial=0.01)
    client = _client(azure_simulator, credential, timing=timing)

    with pytest.raises(DeployError) as excinfo:
        client.deploy_zip(package.data)

    message = str(excinfo.value)
    assert "the deployment did not finish within 0 s (last answer: status 0 (Pending)" in message
    assert message.endswith(
        f"its log: https://{APP}.scm.azurewebsites.net/api/deployments/latest/log"
    )


# --- D. Kudu pinned to one instance, as az does on Linux ----------------------------------


def test_deploy_warms_up_kudu_and_pins_publish_and_polls_to_one_instance(
    azure_simulator: AzureSimulator, credential: FakeCredential, package: ProbePackage
) -> None:
    """az: the first ARM instance by name, warmed up, its ARRAffinity cookies on the publish."""
    site = azure_simulator.add_existing_app(GROUP, APP, capacity=3, tags={TAG_PROJECT: "probe"})
    backend = AzureBackend(
        AzureTarget(subscription_id=SUBSCRIPTION, app_name=APP, resource_group=GROUP),
        run_id="run-1",
        credential=credential,
        client_options={"polling_interval": 0, "retry_backoff_factor": 0.01, "retry_total": 0},
        timing=BackendTiming(poll_interval=0.01, probe=ProbeTiming(retry_deadline=2.0)),
        kudu_timing=KUDU,
    )
    backend.create()
    try:
        backend.deploy(package)
    finally:
        backend.teardown()

    first = sorted(site.backend.instances())[0]
    kudu = [(m, t.split(".net", 1)[1]) for m, t in azure_simulator.kudu_calls()]
    assert kudu[:2] == [("GET", "/api/deployments"), ("POST", "/api/publish")]
    deployment = azure_simulator.deployments[-1]
    assert deployment.served_by == [first] * 4  # the publish and its three polls
    assert azure_simulator.conflicting_cookies == 0


def test_simulated_scm_host_honours_and_sets_the_affinity_cookie(
    azure_simulator: AzureSimulator,
) -> None:
    """Unpinned requests go round the instances and are told their cookie; pinned ones stay."""
    site = azure_simulator.add_existing_app(GROUP, APP, capacity=2)
    url = f"https://{site.scm_host_name}/api/deployments?warmup=true"
    second = site.backend.instances()[1]

    unpinned = [requests.get(url, headers=_bearer(), timeout=5) for _ in range(2)]
    pinned = requests.get(
        url,
        headers={**_bearer(), "Cookie": f"ARRAffinity={second}; ARRAffinitySameSite={second}"},
        timeout=5,
    )

    told = [re.findall(r"\bARRAffinity=([^;]+)", a.headers["Set-Cookie"]) for a in unpinned]
    assert sorted(i for (i,) in told) == sorted(site.backend.instances())
    assert all(f"Domain={site.scm_host_name}" in a.headers["Set-Cookie"] for a in unpinned)
    assert [a.status_code for a in (*unpinned, pinned)] == [200, 200, 200]
    assert "Set-Cookie" not in pinned.headers


def test_a_warm_up_that_fails_leaves_the_deploy_unpinned_as_az_does(
    azure_simulator: AzureSimulator,
    credential: FakeCredential,
    package: ProbePackage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """az: "the deployment will proceed without pre-warmup"; no cookie is sent then."""
    site = azure_simulator.add_existing_app(GROUP, APP, capacity=2)
    azure_simulator.fail_next("GET", r"/api/deployments\?warmup=true", 503)
    timing = KuduTiming(warmup_deadline=0.0, poll_interval=0.01, wait_initial=0.01)
    first = sorted(site.backend.instances())[0]
    client = KuduClient(
        site.scm_host_name, credential, session=probe_session(), timing=timing, instance_id=first
    )

    with caplog.at_level(logging.WARNING, logger=KUDU_LOG):
        assert client.deploy_zip(package.data)["status"] == 4

    assert f"Kudu instance {first} did not warm up within 0 s (HTTP 503)" in caplog.text
    # As the backend's session, this one keeps no cookie: unpinned, ARR goes round the instances.
    assert set(azure_simulator.deployments[-1].served_by) == set(site.backend.instances())
