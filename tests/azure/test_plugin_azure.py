"""The live suite on the Azure backend through pytester, App Service simulated at the transport."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("azure.mgmt.web")

from pytest_appservice_fs.engine.expectations import AZURE_MATRIX, CONTAINER
from pytest_appservice_fs.engine.model import Event
from tests.junit_cases import copy_live_suite, live_outcomes, read_junit

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
#: A whole run against the simulated Azure: every event can be fired there.
AZURE_RUN = live_outcomes(matrix=AZURE_MATRIX, unsupported={})

#: The pytester folder's conftest: the simulator behind `responses`, a fake credential, fast
#: timings; at the end it writes what it saw to simulator.json for the test to check.
CONFTEST = """
import json
from pathlib import Path

import pytest
import responses

from pytest_appservice_fs.backends.azure import AzureBackend
from pytest_appservice_fs.backends.azure.kudu import KuduTiming
from pytest_appservice_fs.backends.protocol import BackendTiming
from pytest_appservice_fs.engine.probe_client import ProbeTiming
from tests.azure.conftest import FakeCredential
from tests.azure.simulator import AzureSimulator

SEED = {seed!r}
INTERRUPT = {interrupt!r}


@pytest.fixture(scope="session")
def appservice_azure_options(tmp_path_factory):
    # restart_soft is fired and must restart: something is pending on this app.
    # Realistic: a soft restart with nothing pending keeps the process (the run's
    # soft-restart window, 1 s in the ini, proves the no-op).
    simulator = AzureSimulator(tmp_path_factory.mktemp("azure"))
    mock = responses.RequestsMock(assert_all_requests_are_fired=False)
    mock.start()
    simulator.install(mock)
    if SEED:
        simulator.add_existing_app(**SEED)
    credential = FakeCredential(token="entra-token-zz7")
    with pytest.MonkeyPatch.context() as patch:
        if INTERRUPT:
            stop = AzureBackend.stop

            def interrupted(self):
                stop(self)
                raise KeyboardInterrupt

            patch.setattr(AzureBackend, "stop", interrupted)
        yield {{
            "credential": credential,
            "client_options": {{"polling_interval": 0, "retry_backoff_factor": 0.01}},
            "timing": BackendTiming(
                default_ready_timeout=5.0,
                poll_interval=0.01,
                probe=ProbeTiming(
                    request_timeout=5, retry_deadline=2, wait_initial=0.01, wait_max=0.05
                ),
            ),
            "kudu_timing": KuduTiming(poll_interval=0.01, wait_initial=0.01),
        }}
    sites = {{}}
    for name in ("probe-app", "{provisioned}"):
        try:
            site = simulator.site(name)
        except KeyError:
            continue
        sites[name] = {{
            "settings": site.app_settings,
            "startup": site.site_config.get("appCommandLine"),
            "capacity": site.plan.capacity,
            "sku": site.plan.sku,
        }}
    Path("simulator.json").write_text(json.dumps({{
        "groups": [g for g in ("rg-probe", "{provisioned}") if simulator.group(g) is not None],
        "sites": sites,
        "restarts": [r.query for r in simulator.restarts],
        "plan_restarts": [r.query for r in simulator.plan_restarts],
        "arm_calls": simulator.arm_calls(),
        "kudu_calls": simulator.kudu_calls(),
    }}))
    mock.stop()
    mock.reset()
    simulator.teardown()
"""

ATTACH_SEED = {
    "resource_group": "rg-probe",
    "name": "probe-app",
    "tags": {"pytest-appservice-fs": "probe"},
    "app_settings": {"CUSTOMER": "value"},
    "app_command_line": "python app.py",
}


def _suite(
    pytester: pytest.Pytester, *, seed: dict[str, Any] | None, run_id: str, interrupt: bool = False
) -> None:
    copy_live_suite(pytester)
    pytester.makeini("[pytest]\njunit_family = xunit1\nappservice_fs_soft_restart_timeout = 1\n")
    provisioned = f"appservice-fs-{run_id}"
    pytester.makeconftest(CONFTEST.format(seed=seed, interrupt=interrupt, provisioned=provisioned))


def _seen(pytester: pytest.Pytester) -> dict[str, Any]:
    seen: dict[str, Any] = json.loads((pytester.path / "simulator.json").read_text())
    return seen


def test_attach_mode_runs_the_suite_and_restores_the_app(pytester: pytest.Pytester) -> None:
    """--app-name/--resource-group: the lab matrix with region and SKU; the app is put back."""
    _suite(pytester, seed=ATTACH_SEED, run_id="attach1")
    junit = pytester.path / "out.xml"
    result = pytester.runpytest(
        "-m",
        "live",
        "--app-name",
        "probe-app",
        "--resource-group",
        "rg-probe",
        "--subscription-id",
        SUBSCRIPTION,
        "--run-id",
        "attach1",
        f"--junitxml={junit}",
    )
    result.assert_outcomes(**AZURE_RUN)
    cases = read_junit(junit)
    for case in cases:
        assert case["backend"] == "azure"
        # sku_change is read on the next size (B2); teardown puts B1 back.
        sku = "B2" if case["event"] == "sku_change" else "B1"
        assert (case["region"], case["sku"]) == ("koreacentral", sku)
        assert float(case["ready_seconds"]) >= float(case["event_seconds"]) >= 0
        if case["expected"] != "observe":  # exploratory cells record, they expect nothing
            assert case["observed"] == case["expected"]
    assert {(c["event"], c["path"]) for c in cases} == {
        *((cell.event.value, cell.path) for cell in AZURE_MATRIX.paths),
        *((cell.event.value, CONTAINER) for cell in AZURE_MATRIX.containers),
    }
    seen = _seen(pytester)
    site = seen["sites"]["probe-app"]
    assert site == {
        "settings": {"CUSTOMER": "value"},
        "startup": "python app.py",
        "capacity": 1,
        "sku": "B1",
    }
    assert seen["restarts"] == [
        {"api-version": "2025-05-01"},
        {"api-version": "2025-05-01", "softRestart": "true"},
    ]
    assert seen["plan_restarts"] == [{"api-version": "2025-05-01"}]
    assert seen["groups"] == ["rg-probe"]
    text = junit.read_text() + result.stdout.str()
    assert "entra-token-zz7" not in text


def test_provision_mode_runs_the_suite_and_deletes_the_group(pytester: pytest.Pytester) -> None:
    """--provision --region: the lab matrix, then the run's resource group is gone."""
    _suite(pytester, seed=None, run_id="prov1")
    junit = pytester.path / "out.xml"
    result = pytester.runpytest(
        "-m",
        "live",
        "--provision",
        "--region",
        "koreacentral",
        "--subscription-id",
        SUBSCRIPTION,
        "--run-id",
        "prov1",
        f"--junitxml={junit}",
    )
    result.assert_outcomes(**AZURE_RUN)
    cases = read_junit(junit)
    assert {(c["backend"], c["region"], c["sku"]) for c in cases} == {
        ("azure", "koreacentral", "B1"),
        ("azure", "koreacentral", "B2"),  # sku_change's cases, read on the next size
    }
    seen = _seen(pytester)
    assert seen["groups"] == []
    deletes = [call for call in seen["arm_calls"] if call[0] == "DELETE"]
    assert len(deletes) == 1
    assert "/resourcegroups/appservice-fs-prov1" in deletes[0][1].lower()


def test_the_probe_token_stays_out_of_output_and_evidence(pytester: pytest.Pytester) -> None:
    """The generated PROBE_TOKEN is used, and appears in no output, log or JUnit file."""
    _suite(pytester, seed=ATTACH_SEED, run_id="secret1")
    junit = pytester.path / "out.xml"
    result = pytester.runpytest(
        "-m",
        "live",
        "--app-name",
        "probe-app",
        "--resource-group",
        "rg-probe",
        "--subscription-id",
        SUBSCRIPTION,
        "--events",
        "restart",
        "-rA",
        "--log-level=DEBUG",
        f"--junitxml={junit}",
    )
    result.assert_outcomes(**live_outcomes([Event.RESTART], matrix=AZURE_MATRIX, unsupported={}))
    seen = _seen(pytester)
    # Teardown restored the settings; the token the run used is in the Kudu-facing record.
    assert "PROBE_TOKEN" not in seen["sites"]["probe-app"]["settings"]
    text = junit.read_text() + result.stdout.str() + result.stderr.str()
    assert "X-Probe-Token" not in text
    assert "entra-token-zz7" not in text


@pytest.mark.parametrize("mode", ["attach", "provision"])
def test_an_interrupt_during_an_event_still_cleans_up(pytester: pytest.Pytester, mode: str) -> None:
    """Ctrl-C during stop/start: the provisioned group is deleted, the attached app restored."""
    run_id = f"int{mode}"
    _suite(pytester, seed=ATTACH_SEED if mode == "attach" else None, run_id=run_id, interrupt=True)
    target = (
        ["--app-name", "probe-app", "--resource-group", "rg-probe"]
        if mode == "attach"
        else ["--provision", "--region", "koreacentral"]
    )
    result = pytester.runpytest(
        "-m",
        "live",
        *target,
        "--subscription-id",
        SUBSCRIPTION,
        "--run-id",
        run_id,
        "--events",
        "stop_start",
        no_reraise_ctrlc=True,  # the inner run's Ctrl-C is the subject, not the outer run's
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    seen = _seen(pytester)
    if mode == "attach":
        assert seen["sites"]["probe-app"]["settings"] == {"CUSTOMER": "value"}
        assert seen["sites"]["probe-app"]["startup"] == "python app.py"
    else:
        assert seen["groups"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--app-name", "probe-app", "--subscription-id", SUBSCRIPTION],
            "--app-name needs --resource-group, the resource group of the app.",
        ),
        (
            ["--app-name", "probe-app", "--resource-group", "rg"],
            "the azure backend needs --subscription-id or the AZURE_SUBSCRIPTION_ID variable.",
        ),
        (
            ["--app-name=-probe-", "--resource-group", "rg", "--subscription-id", SUBSCRIPTION],
            "--app-name got '-probe-'; valid is 2 to 60 letters, digits and hyphens, not starting "
            "or ending with a hyphen.",
        ),
        (
            ["--provision", "--subscription-id", SUBSCRIPTION],
            "--provision needs --region, an Azure region such as westeurope.",
        ),
    ],
    ids=["no-group", "no-subscription", "bad-name", "no-region"],
)
def test_bad_azure_input_exits_4(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    """Bad Azure input: exit 4, one sentence, no traceback, nothing called."""
    monkeypatch.delenv("AZURE_SUBSCRIPTION_ID", raising=False)
    _suite(pytester, seed=None, run_id="bad")
    result = pytester.runpytest_subprocess("-m", "live", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / "simulator.json").exists()


def test_readme_names_the_sweep_command() -> None:
    """The README's Azure section gives the sweep command as the installed command runs it."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "appservice-fs sweep --subscription-id" in readme


#: A credential that fails as DefaultAzureCredential does with no login at all.
NO_LOGIN = """
from azure.identity import CredentialUnavailableError


class NoLogin:
    def get_token(self, *scopes, **kwargs):
        raise CredentialUnavailableError(
            "DefaultAzureCredential failed to retrieve a token from the included credentials.\\n"
            "Attempted credentials:\\n\\tEnvironmentCredential: not configured"
        )
"""


@pytest.mark.parametrize("mode", ["attach", "provision"])
def test_missing_credentials_stop_the_session_in_one_sentence(
    pytester: pytest.Pytester, mode: str
) -> None:
    """No Azure login: exit 4 before the first live test, one sentence, no ARM write."""
    _suite(pytester, seed=ATTACH_SEED, run_id="nologin")
    conftest = pytester.path / "conftest.py"
    text = conftest.read_text().replace(
        'credential = FakeCredential(token="entra-token-zz7")', "credential = NoLogin()"
    )
    conftest.write_text(NO_LOGIN + text)
    target = (
        ["--app-name", "probe-app", "--resource-group", "rg-probe"]
        if mode == "attach"
        else ["--provision", "--region", "koreacentral"]
    )
    result = pytester.runpytest("-m", "live", *target, "--subscription-id", SUBSCRIPTION)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    assert "no Azure credentials are available: run az login" in output
    assert " error" not in output.lower()  # no test reported as an error
    assert [call for call in _seen(pytester)["arm_calls"] if call[0] != "GET"] == []


@pytest.mark.parametrize("sku", ["X9", "F1", "D1"])
def test_an_unsupported_sku_is_refused_before_the_group(
    pytester: pytest.Pytester, sku: str
) -> None:
    """--sku the harness cannot run on: exit 4, one sentence with the valid SKUs, no ARM call."""
    _suite(pytester, seed=None, run_id="badsku")
    result = pytester.runpytest(
        "-m", "live", "--provision", "--region", "koreacentral", "--sku", sku,
        "--subscription-id", SUBSCRIPTION,
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --sku got {sku!r}; valid SKUs are B1, B2, B3, S1, *."])
    assert not (pytester.path / "simulator.json").exists()  # no session fixture ever ran
