"""The sweep deletes expired groups that carry the project's tags, and nothing else."""

from __future__ import annotations

import datetime as dt

import pytest

pytest.importorskip("azure.mgmt.resource")

from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.resource.resources.models import ResourceGroup

from pytest_appservice_fs.backends.azure.groups import (
    TAG_EXPIRES,
    TAG_PROJECT,
    TAG_RUN,
    judge,
    sweep,
)
from pytest_appservice_fs.reports import sweep as sweep_command
from tests.azure.conftest import FakeCredential
from tests.azure.simulator import AzureSimulator

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
FAST = {"polling_interval": 0, "retry_backoff_factor": 0.01, "retry_total": 0}
# Relative to the real clock: the command line judges against the time it runs at.
NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
PAST = (NOW - dt.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
FUTURE = (NOW + dt.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")

GROUPS = {
    "expired-run": {TAG_PROJECT: "probe", TAG_RUN: "r1", TAG_EXPIRES: PAST},
    "fresh-run": {TAG_PROJECT: "probe", TAG_RUN: "r2", TAG_EXPIRES: FUTURE},
    "no-expiry": {TAG_PROJECT: "probe", TAG_RUN: "r3"},
    "someone-elses": {TAG_EXPIRES: PAST, "owner": "team-x"},
    "project-tag-no-run": {TAG_PROJECT: "probe", TAG_EXPIRES: PAST},
    "untagged": {},
}


@pytest.fixture
def resources(
    azure_simulator: AzureSimulator, credential: FakeCredential
) -> ResourceManagementClient:
    """A resource client on the simulator, with the groups above created."""
    client = ResourceManagementClient(credential, SUBSCRIPTION, **FAST)
    for name, tags in GROUPS.items():
        client.resource_groups.create_or_update(
            name, ResourceGroup(location="koreacentral", tags=tags)
        )
    return client


def _alive(simulator: AzureSimulator, name: str) -> bool:
    """Neither gone nor being deleted (the sweep starts deletions; it does not wait)."""
    group = simulator.group(name)
    return group is not None and not group.deleting


def _left(simulator: AzureSimulator) -> set[str]:
    return {name for name in GROUPS if _alive(simulator, name)}


def test_sweep_deletes_only_expired_groups_of_the_project(
    azure_simulator: AzureSimulator, resources: ResourceManagementClient
) -> None:
    """Only the expired group with both project tags goes; every other group stays."""
    said: list[str] = []
    verdicts = sweep(resources, now=NOW, dry_run=False, say=said.append)
    assert {v.group: v.delete for v in verdicts} == {
        "expired-run": True,
        "fresh-run": False,
        "no-expiry": False,
        "project-tag-no-run": False,
    }
    assert _left(azure_simulator) == set(GROUPS) - {"expired-run"}
    assert f"delete expired-run: expired {PAST} (deletion started)" in said


def test_dry_run_deletes_nothing(
    azure_simulator: AzureSimulator, resources: ResourceManagementClient
) -> None:
    """--dry-run says what would go and deletes nothing."""
    said: list[str] = []
    sweep(resources, now=NOW, dry_run=True, say=said.append)
    assert _left(azure_simulator) == set(GROUPS)
    assert f"would delete expired-run: expired {PAST}" in said
    deletes = [call for call in azure_simulator.arm_calls() if call[0] == "DELETE"]
    assert deletes == []


def test_run_id_deletes_that_runs_groups_even_before_expiry(
    azure_simulator: AzureSimulator, resources: ResourceManagementClient
) -> None:
    """A CI cleanup job names its run: that run's group goes, expired or not, and only it."""
    sweep(resources, now=NOW, dry_run=False, run_id="r2", say=lambda _: None)
    assert _left(azure_simulator) == set(GROUPS) - {"fresh-run"}


@pytest.mark.parametrize(
    ("tags", "delete"),
    [
        ({TAG_PROJECT: "probe", TAG_RUN: "r", TAG_EXPIRES: PAST}, True),
        ({TAG_PROJECT: "probe", TAG_RUN: "r", TAG_EXPIRES: FUTURE}, False),
        ({TAG_PROJECT: "probe", TAG_RUN: "r", TAG_EXPIRES: "tomorrow"}, False),
        ({TAG_PROJECT: "other", TAG_RUN: "r", TAG_EXPIRES: PAST}, False),
        ({TAG_RUN: "r", TAG_EXPIRES: PAST}, False),
    ],
)
def test_judge(tags: dict[str, str], delete: bool) -> None:
    """Both project tags and a past, readable expiry: nothing less is deleted."""
    assert judge(tags, NOW, None)[0] is delete


def test_command_line_runs_the_sweep(
    azure_simulator: AzureSimulator,
    resources: ResourceManagementClient,
    credential: FakeCredential,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """python -m pytest_appservice_fs.reports.sweep with a subscription: the expired group goes."""
    code = sweep_command.main(["--subscription-id", SUBSCRIPTION], credential=credential, **FAST)
    assert code == 0
    assert "delete expired-run" in capsys.readouterr().out
    assert _left(azure_simulator) == set(GROUPS) - {"expired-run"}


def test_run_prefix_deletes_every_cell_of_a_workflow_run(
    azure_simulator: AzureSimulator,
    resources: ResourceManagementClient,
    credential: FakeCredential,
) -> None:
    """--run-prefix takes the groups of every run id that starts with it, and no others."""
    for name, run in (
        ("cell-a", "gh-7-1-koreacentral-B1"),
        ("cell-b", "gh-7-1-westeurope-B1"),
        ("other-wf", "gh-8-1-koreacentral-B1"),
    ):
        resources.resource_groups.create_or_update(
            name,
            ResourceGroup(
                location="koreacentral",
                tags={TAG_PROJECT: "probe", TAG_RUN: run, TAG_EXPIRES: FUTURE},
            ),
        )
    code = sweep_command.main(
        ["--subscription-id", SUBSCRIPTION, "--run-prefix", "gh-7-1-"],
        credential=credential,
        **FAST,
    )
    assert code == 0
    kept = {n for n in ("cell-a", "cell-b", "other-wf") if _alive(azure_simulator, n)}
    assert kept == {"other-wf"}
    assert _left(azure_simulator) == set(GROUPS)


def test_command_line_refuses_a_bad_subscription(capsys: pytest.CaptureFixture[str]) -> None:
    """A subscription that is not a GUID: usage error (exit 2), one line, nothing called."""
    with pytest.raises(SystemExit) as excinfo:
        sweep_command.main(["--subscription-id", "my-sub"], credential=FakeCredential())
    assert excinfo.value.code == 2
    assert "--subscription-id (or AZURE_SUBSCRIPTION_ID) must be a subscription GUID" in (
        capsys.readouterr().err
    )
