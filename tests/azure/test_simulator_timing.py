"""The simulator's timing profile: the app answers 503 while the platform carries out an
operation, for the profile's seconds times the scale; ARM keeps answering."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from pytest_appservice_fs.engine.probe_package import ProbePackage, build_package, default_probe_dir
from tests.azure.conftest import FakeCredential
from tests.azure.simulator import AzureSimulator, PlatformTiming

pytest.importorskip("azure.mgmt.web")

from azure.mgmt.web import WebSiteManagementClient

GROUP, APP = "rg-timing", "timing-app"
FAST: dict[str, Any] = {"polling_interval": 0, "retry_backoff_factor": 0.01}


@pytest.fixture
def package() -> ProbePackage:
    """The project's probe as a ZIP."""
    return build_package(default_probe_dir())


def test_the_app_is_busy_for_the_operation_s_scaled_seconds(
    azure_simulator: AzureSimulator, credential: FakeCredential, package: ProbePackage
) -> None:
    """A restart of 40 s scaled by 0.01: 503 from the app for 0.4 s, then the probe answers;
    the time spent is recorded by operation."""
    azure_simulator.timing = PlatformTiming(seconds={"restart": 40.0}, scale=0.01)
    site = azure_simulator.add_existing_app(GROUP, APP, package=package)
    web = WebSiteManagementClient(credential, azure_simulator.subscription_id, **FAST)
    health = f"https://{site.default_host_name}/health"
    assert requests.get(health, timeout=5).status_code == 200

    web.web_apps.restart(GROUP, APP)
    started = time.monotonic()
    assert requests.get(health, timeout=5).status_code == 503
    assert web.web_apps.get(GROUP, APP).state == "Running"  # ARM answers meanwhile
    while requests.get(health, timeout=5).status_code == 503:
        assert time.monotonic() - started < 5, "still busy after 5 s"
        time.sleep(0.02)
    assert time.monotonic() - started >= 0.35
    assert azure_simulator.timing.spent == [("restart", 0.4)]


def test_without_a_scale_nothing_waits(
    azure_simulator: AzureSimulator, credential: FakeCredential, package: ProbePackage
) -> None:
    """The default profile has scale 0: every test but a benchmark runs at full speed."""
    site = azure_simulator.add_existing_app(GROUP, APP, package=package)
    web = WebSiteManagementClient(credential, azure_simulator.subscription_id, **FAST)
    web.web_apps.restart(GROUP, APP)
    assert requests.get(f"https://{site.default_host_name}/health", timeout=5).status_code == 200
    assert azure_simulator.timing.spent == []
