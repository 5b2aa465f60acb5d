"""The backend's readers on real ARM bodies, recorded by azure-sdk-for-python's own tests.

Each file under tests/data/azure/ holds one recorded response (its ``_source`` names the
repository, path and commit of the recording). The bodies are served with ``responses`` at the
URL the real SDK asks, so the SDK's deserialization runs as it does against Azure. No recorded
instance list (``GET .../sites/{name}/instances``) exists in those recordings: the instance
reader is checked against the spec's shape in test_arm_conformance.py only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("responses")
pytest.importorskip("azure.mgmt.web")

import responses
from azure.mgmt.web import WebSiteManagementClient

from pytest_appservice_fs.backends.azure.arm import (
    arm_call,
    error_of,
    plan_of,
    refuse_unsuitable,
    scm_host,
)
from pytest_appservice_fs.backends.azure.plans import Plan, sku_tier
from pytest_appservice_fs.backends.protocol import BackendError
from tests.azure.conftest import FakeCredential

DATA = Path(__file__).resolve().parent.parent / "data" / "azure"
SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
ARM = f"https://management.azure.com/subscriptions/{SUBSCRIPTION}/resourceGroups"
CLIENT = {"polling_interval": 0, "retry_total": 0}


def recorded(name: str) -> dict[str, Any]:
    """One recorded response: its status, its body and where it was recorded."""
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    assert {"repository", "path", "commit"} <= set(data["_source"])
    return data


@pytest.fixture
def arm() -> Iterator[Any]:
    """``responses`` answering for ARM; any request not registered fails."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def web() -> WebSiteManagementClient:
    """The real Microsoft.Web client, with no retries and no polling delay."""
    return WebSiteManagementClient(FakeCredential(), SUBSCRIPTION, **CLIENT)


def serve(mock: Any, method: str, path: str, name: str) -> dict[str, Any]:
    """Answer ``method`` on ARM ``path`` (any query) with the recorded response ``name``."""
    data = recorded(name)
    url = re.compile(re.escape(f"{ARM}/{path}") + r"\?.*")
    mock.add(method, url, json=data["body"], status=data["status"])
    return data


def test_the_plan_reader_reads_a_recorded_plan(arm: Any, web: WebSiteManagementClient) -> None:
    """SKU name and workers from a recorded S1 plan; its tier is the one az names for S1."""
    plan = Plan(web, "rgname", "myappserviceplan")
    path = "rgname/providers/Microsoft.Web/serverfarms/myappserviceplan"
    body = serve(arm, "GET", path, "plan_put_s1.json")["body"]  # answers every read

    assert (plan.sku(), plan.capacity()) == ("S1", 1)
    assert sku_tier("S1") == body["sku"]["tier"].upper()


def test_the_site_readers_read_a_recorded_site(arm: Any, web: WebSiteManagementClient) -> None:
    """Host names and the plan from a recorded site; a Windows (kind app) site is refused."""
    serve(arm, "GET", "rgname/providers/Microsoft.Web/sites/mysitexxyzz", "site_put.json")

    site = web.web_apps.get("rgname", "mysitexxyzz")

    assert site.default_host_name == "mysitexxyzz.azurewebsites.net"
    assert scm_host(site) == "mysitexxyzz.scm.azurewebsites.net"
    assert plan_of(site.server_farm_id) == ("rgname", "myappserviceplan")
    assert site.client_affinity_enabled is True
    config = type("Config", (), {"linux_fx_version": site.site_config.linux_fx_version})()
    with pytest.raises(BackendError, match=r"^app mysitexxyzz runs on Windows \(kind 'app'\)"):
        refuse_unsuitable(site, config, name="mysitexxyzz", allow_existing_app=True)


def test_a_recorded_microsoft_web_error_reaches_the_user_with_code_and_message(
    arm: Any, web: WebSiteManagementClient
) -> None:
    """The recorded PascalCase 404 of a site PUT: its Code and Message, not the status text."""
    serve(
        arm,
        "PUT",
        "rgname/providers/Microsoft.Web/sites/myname",
        "error_cannot_find_serverfarm.json",
    )
    site = {"location": "eastus", "properties": {"serverFarmId": "/subscriptions/x"}}

    with pytest.raises(BackendError) as raised:
        arm_call(
            lambda: web.web_apps.begin_create_or_update("rgname", "myname", site).result(),
            "create the app",
        )

    assert str(raised.value) == (
        "could not create the app: not found "
        "(NotFound: Cannot find ServerFarm with name myappserviceplan.)"
    )


def test_a_recorded_arm_error_reaches_the_user_with_code_and_message(
    arm: Any, web: WebSiteManagementClient
) -> None:
    """The recorded gateway 404 in ARM's {"error": {...}} shape."""
    serve(
        arm, "GET", "rgname/providers/Microsoft.Web/serverfarms/my", "error_resource_not_found.json"
    )

    with pytest.raises(BackendError) as raised:
        Plan(web, "rgname", "my").read()

    assert str(raised.value) == (
        "could not read the plan: not found (ResourceNotFound: The Resource "
        "'Microsoft.Web/serverFarms/my' under resource group "
        "'test_cli_mgmt_web_test_web90230a94' was not found.)"
    )


NOT_FOUND_MESSAGE = (
    "The Resource 'Microsoft.Web/serverFarms/my' under resource group "
    "'test_cli_mgmt_web_test_web90230a94' was not found."
)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "error_cannot_find_serverfarm.json",
            ("NotFound", "Cannot find ServerFarm with name myappserviceplan."),
        ),
        ("error_resource_not_found.json", ("ResourceNotFound", NOT_FOUND_MESSAGE)),
        ("site_put.json", None),
    ],
)
def test_error_of_reads_both_recorded_shapes_and_nothing_else(
    name: str, expected: tuple[str, str] | None
) -> None:
    """A resource body is no error; either error shape gives its code and message."""
    assert error_of(recorded(name)["body"]) == expected
