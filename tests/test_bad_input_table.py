"""Bad input to the plugin, one row each: exit 4, one sentence naming the option, the value and
what is valid, no traceback, and nothing created (the fake backend makes no work folder).

Each row runs the packaged live suite through pytester; Azure's preconditions (credentials,
SKU) have their rows in tests/azure/test_plugin_azure.py, where the simulator can tell that
ARM saw nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import pytest

from tests.junit_cases import copy_live_suite

SUB = "00000000-0000-0000-0000-000000000000"
EVENTS = "restart, stop_start, deploy, scale_out, scale_in, app_setting_change"
EXPECT = "appservice_fs_expect =\n    "
MIB_128 = "from 1 to 128 (the probe's PROBE_MAX_THROUGHPUT_MIB default"


@dataclass(frozen=True)
class Bad:
    """One bad input and the parts its sentence must hold."""

    args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    ini: str = ""
    #: The option as the sentence names it, the value as it shows it, and what is valid.
    option: str = ""
    value: str = ""
    valid: str = ""


ROWS: dict[str, Bad] = {
    # numbers on the command line
    "latency-size-0": Bad(("--latency-size", "0"), option="--latency-size", value="'0'",
                          valid="from 1 to 1048576"),
    "latency-size-big": Bad(("--latency-size", "1048577"), option="--latency-size",
                            value="'1048577'", valid="from 1 to 1048576"),
    "latency-size-superscript": Bad(("--latency-size", "\u00b2"), option="--latency-size",
                                    value="'\u00b2'", valid="whole number from 1"),
    "latency-iterations-101": Bad(("--latency-iterations", "101"), option="--latency-iterations",
                                  value="'101'", valid="from 1 to 100"),
    "latency-iterations-fraction": Bad(("--latency-iterations", "1.5"),
                                       option="--latency-iterations", value="'1.5'",
                                       valid="from 1 to 100"),
    "throughput-size-above-probe": Bad(("--throughput-sizes", "256"), option="--throughput-sizes",
                                       value="'256'", valid=MIB_128),
    "throughput-size-0": Bad(("--throughput-sizes", "0"), option="--throughput-sizes",
                             value="'0'", valid=MIB_128),
    "throughput-sizes-too-many": Bad(("--throughput-sizes", "1,2,3,4,5,6,7,8,9"),
                                     option="--throughput-sizes", value="9 sizes",
                                     valid="at most 8"),
    "throughput-iterations-6": Bad(("--throughput-iterations", "6"),
                                   option="--throughput-iterations", value="'6'",
                                   valid="from 1 to 5"),
    "append-records-big": Bad(("--append-records", "10001"), option="--append-records",
                              value="'10001'", valid="from 1 to 10000"),
    "append-records-negative": Bad(("--append-records=-1",), option="--append-records",
                                   value="'-1'", valid="from 1 to 10000"),
    "soft-restart-timeout-big": Bad(("--soft-restart-timeout", "7201"),
                                    option="--soft-restart-timeout", value="'7201'",
                                    valid="from 1 to 7200"),
    "ready-timeout-0": Bad(("--ready-timeout", "0"), option="--ready-timeout", value="'0'",
                           valid="at most 7200"),
    "ready-timeout-exponent": Bad(("--ready-timeout", "deploy=1e3"), option="--ready-timeout",
                                  value="'1e3'", valid="ASCII digits"),
    "ready-timeout-nan": Bad(("--ready-timeout=nan",), option="--ready-timeout", value="'nan'",
                             valid="at most 7200"),
    "ready-timeout-unknown-event": Bad(("--ready-timeout", "reboot=5"), option="--ready-timeout",
                                       value="'reboot=5'", valid="SECONDS or EVENT=SECONDS"),
    # the environment
    "env-latency-size-arabic": Bad(env={"APPSERVICE_FS_LATENCY_SIZE": "\u0663"},
                                   option="--latency-size (from environment "
                                   "APPSERVICE_FS_LATENCY_SIZE)", value="'\u0663'",
                                   valid="whole number from 1 to 1048576"),
    "env-throughput-size-512": Bad(env={"APPSERVICE_FS_THROUGHPUT_SIZES": "512"},
                                   option="--throughput-sizes (from environment",
                                   value="'512'", valid=MIB_128),
    "env-append-records-underscore": Bad(env={"APPSERVICE_FS_APPEND_RECORDS": "1_000"},
                                         option="--append-records (from environment",
                                         value="'1_000'", valid="from 1 to 10000"),
    "env-ready-timeout-inf": Bad(env={"APPSERVICE_FS_READY_TIMEOUT": "inf"},
                                 option="--ready-timeout (from environment", value="'inf'",
                                 valid="at most 7200"),
    "env-events-blank-list": Bad(env={"APPSERVICE_FS_EVENTS": " , "},
                                 option="--events (from environment APPSERVICE_FS_EVENTS)",
                                 value="'', an empty list", valid=EVENTS),
    "env-backend-unknown": Bad(env={"APPSERVICE_FS_BACKEND": "cloud"},
                               option="--backend (from environment", value="'cloud'",
                               valid="fake, local, azure"),
    "env-flag-word": Bad(env={"APPSERVICE_FS_KEEP_RESOURCES": "maybe"},
                         option="--keep-resources (from environment", value="'maybe'",
                         valid="true or false"),
    # the ini file
    "ini-latency-iterations-0": Bad(ini="appservice_fs_latency_iterations = 0",
                                    option="--latency-iterations (from ini "
                                    "appservice_fs_latency_iterations)", value="'0'",
                                    valid="from 1 to 100"),
    "ini-throughput-iterations-word": Bad(ini="appservice_fs_throughput_iterations = five",
                                          option="--throughput-iterations (from ini",
                                          value="'five'", valid="from 1 to 5"),
    "ini-events-blank-list": Bad(ini="appservice_fs_events = ,",
                                 option="--events (from ini appservice_fs_events)",
                                 value="',', an empty list", valid=EVENTS),
    "ini-soft-restart-minutes": Bad(ini="appservice_fs_soft_restart_timeout = 2m",
                                    option="--soft-restart-timeout (from ini", value="'2m'",
                                    valid="from 1 to 7200"),
    "ini-run-id-space": Bad(ini="appservice_fs_run_id = has space", option="--run-id (from ini",
                            value="'has space'", valid="1 to 40 of"),
    # app settings the probe reads
    "probe-max-throughput-big": Bad(("--app-setting", "PROBE_MAX_THROUGHPUT_MIB=2048"),
                                    option="--app-setting PROBE_MAX_THROUGHPUT_MIB",
                                    value="'2048'", valid="from 1 to 1024"),
    "probe-max-throughput-0": Bad(("--app-setting", "PROBE_MAX_THROUGHPUT_MIB=0"),
                                  option="--app-setting PROBE_MAX_THROUGHPUT_MIB", value="'0'",
                                  valid="from 1 to 1024"),
    "size-above-lowered-maximum": Bad(("--app-setting", "PROBE_MAX_THROUGHPUT_MIB=64",
                                       "--throughput-sizes", "128"),
                                      option="--throughput-sizes", value="'128'",
                                      valid="from 1 to 64 (PROBE_MAX_THROUGHPUT_MIB"),
    "probe-paths-reserved": Bad(("--app-setting", "PROBE_PATHS=/x"),
                                option="--app-setting PROBE_PATHS", value="cannot be given",
                                valid="give extra paths with --path"),
    "settings-mark-reserved": Bad(("--app-setting", "PROBE_SETTINGS_MARK=x"),
                                  option="--app-setting PROBE_SETTINGS_MARK",
                                  value="cannot be given", valid="app_setting_change"),
    "deployment-id-reserved": Bad(("--app-setting", "PROBE_DEPLOYMENT_ID=x"),
                                  option="--app-setting PROBE_DEPLOYMENT_ID",
                                  value="cannot be given", valid="deployment id"),
    "probe-token-space": Bad(("--app-setting", "PROBE_TOKEN=a b"),
                             option="--app-setting PROBE_TOKEN", value="a value that cannot",
                             valid="visible ASCII characters"),
    "app-setting-no-equals": Bad(("--app-setting", "novalue"), option="--app-setting",
                                 value="not KEY=VALUE", valid="a KEY is letters"),
    # lists that name nothing
    "events-empty": Bad(("--events", ""), option="--events", value="'', an empty list",
                        valid=EVENTS),
    "events-blank": Bad(("--events", " , "), option="--events", value="' , ', an empty list",
                        valid=EVENTS),
    "ready-timeout-empty": Bad(("--ready-timeout", ""), option="--ready-timeout",
                               value="an empty list", valid="SECONDS or EVENT=SECONDS"),
    "throughput-sizes-comma": Bad(("--throughput-sizes", ","), option="--throughput-sizes",
                                  value="an empty list", valid="size in MiB"),
    "path-empty": Bad(("--path", ""), option="--path", value="an empty list",
                      valid="absolute path"),
    "fake-fault-empty": Bad(("--fake-fault", ""), option="--fake-fault", value="an empty list",
                            valid="noop-restart"),
    # options that do not fit together
    "app-name-on-fake": Bad(("--app-name", "my-app"), option="--app-name",
                            value="--backend azure", valid="not fake"),
    "resource-group-on-fake": Bad(("--resource-group", "rg"), option="--resource-group",
                                  value="--backend azure", valid="not fake"),
    "subscription-on-fake": Bad(("--subscription-id", SUB), option="--subscription-id",
                                value="--backend azure", valid="not fake"),
    "provision-on-fake": Bad(("--provision", "--region", "westeurope"), option="--provision",
                             value="--backend azure", valid="not fake"),
    "allow-existing-on-fake": Bad(("--allow-existing-app",), option="--allow-existing-app",
                                  value="--backend azure", valid="not fake"),
    "soft-restart-mode-on-fake": Bad(("--restart-mode", "soft"), option="--restart-mode soft",
                                     value="--backend azure", valid="not fake"),
    "fake-fault-on-local": Bad(("--backend", "local", "--fake-fault", "noop-restart"),
                               option="--fake-fault", value="--backend fake", valid="not local"),
    "app-name-on-local": Bad(("--backend", "local", "--app-name", "my-app"), option="--app-name",
                             value="--backend azure", valid="not local"),
    # the configuration under test (issue 15): nothing is created before these are refused
    "runtime-unknown": Bad(("--runtime", "vm"), option="--runtime", value="'vm'",
                           valid="code, container"),
    "storage-word": Bad(("--app-service-storage", "maybe"), option="--app-service-storage",
                        value="'maybe'", valid="on, off"),
    "storage-as-app-setting": Bad(("--app-setting", "WEBSITES_ENABLE_APP_SERVICE_STORAGE=false"),
                                  option="--app-setting WEBSITES_ENABLE_APP_SERVICE_STORAGE",
                                  value="cannot be given", valid="--app-service-storage on|off"),
    "mount-at-root": Bad(("--mount", "/=files"), option="--mount", value="'/'",
                         valid="outside /home and /tmp"),
    "mount-at-home": Bad(("--mount", "/home=files"), option="--mount", value="'/home'",
                         valid="outside /home and /tmp"),
    "mount-under-home": Bad(("--mount", "/home/site/uploads=files"), option="--mount",
                            value="'/home/site/uploads'", valid="outside /home and /tmp"),
    "mount-at-tmp": Bad(("--mount", "/tmp/cache=blob"), option="--mount", value="'/tmp/cache'",
                        valid="outside /home and /tmp"),
    "mount-on-matrix-path": Bad(("--mount", "/var/local/data=files"), option="--mount",
                                value="'/var/local/data'", valid="a path the matrix tests"),
    "mount-on-user-path": Bad(("--path", "/srv/x", "--mount", "/srv/x=files"), option="--mount",
                              value="'/srv/x'", valid="given with --path as well"),
    "mount-above-matrix-path": Bad(("--mount", "/var/local=files"), option="--mount",
                                   value="'/var/local'", valid="holds or is inside a path"),
    "mount-over-the-system": Bad(("--mount", "/usr=blob"), option="--mount", value="'/usr'",
                                 valid="a folder of the operating system"),
    "mount-over-the-image-code": Bad(("--mount", "/opt/probe=files"), option="--mount",
                                     value="'/opt/probe'", valid="of the probe's image"),
    "path-inside-mount": Bad(("--path", "/srv/x", "--mount", "/srv=blob"), option="--mount",
                             value="'/srv'", valid="holds the --path /srv/x"),
    "runtime-empty": Bad(("--runtime", ""), option="--runtime", value="''",
                         valid="code, container"),
    "restart-mode-empty": Bad(("--restart-mode", ""), option="--restart-mode", value="''",
                              valid="platform, soft"),
    "storage-empty": Bad(("--app-service-storage", " "), option="--app-service-storage",
                         value="' '", valid="on, off"),
    "storage-as-app-setting-lowercase": Bad(("--app-setting",
                                             "websites_enable_app_service_storage=false"),
                                            option="--app-setting "
                                            "websites_enable_app_service_storage",
                                            value="cannot be given",
                                            valid="--app-service-storage on|off"),
    "storage-on-h4-not-shared": Bad(ini=EXPECT + "H4 none = not_shared",
                                    option="appservice_fs_expect", value="H4 not_shared",
                                    valid="intact, damaged or observe"),
    "container-attach-without-image": Bad(("--backend", "azure", "--app-name", "a1",
                                           "--resource-group", "rg", "--subscription-id", SUB,
                                           "--runtime", "container"),
                                          option="--runtime container", value="attach mode",
                                          valid="--image"),
    "mount-unknown-kind": Bad(("--mount", "/mnt/s=smb"), option="--mount", value="'/mnt/s=smb'",
                              valid="files, files-nfs, blob"),
    "mount-inside-mount": Bad(("--mount", "/mnt/a=files", "--mount", "/mnt/a/b=blob"),
                              option="--mount", value="'/mnt/a/b' and '/mnt/a'",
                              valid="mounts side by side"),
    "mount-twice": Bad(("--mount", "/mnt/s=files", "--mount", "/mnt/s=blob"), option="--mount",
                       value="'/mnt/s' twice", valid="each path once"),
    "env-mount-relative": Bad(env={"APPSERVICE_FS_MOUNTS": "mnt/s=files"},
                              option="--mount (from environment APPSERVICE_FS_MOUNTS)",
                              value="'mnt/s'", valid="absolute"),
    "blob-mount-expected-writable": Bad(("--mount", "/mnt/ro=blob"),
                                        ini=EXPECT + "restart /mnt/ro = persists",
                                        option="appservice_fs_expect",
                                        value="restart /mnt/ro = persists",
                                        valid="write_refused or observe"),
    "storage-off-home-shared": Bad(("--app-service-storage", "off"),
                                   ini=EXPECT + "scale_out /home/data = visible",
                                   option="appservice_fs_expect", value="/home/data = visible",
                                   valid="not_visible or observe"),
    "storage-off-h4-intact": Bad(("--app-service-storage", "off"),
                                 ini=EXPECT + "H4 flock = intact",
                                 option="appservice_fs_expect", value="H4", valid="not_shared"),
    "image-without-container": Bad(("--backend", "azure", "--app-name", "a1", "--resource-group",
                                    "rg", "--subscription-id", SUB, "--image", "r.io/probe:1"),
                                   option="--image", value="needs --runtime container",
                                   valid="container app pulls"),
    "image-on-local": Bad(("--backend", "local", "--runtime", "container", "--image",
                           "r.io/probe:1"), option="--image", value="--backend azure",
                          valid="not local"),
    "image-with-provision": Bad(("--backend", "azure", "--provision", "--region", "westeurope",
                                 "--subscription-id", SUB, "--runtime", "container",
                                 "--image", "r.io/probe:1"),
                                option="--image", value="attach mode",
                                valid="leave out --image or --provision"),
    "image-without-build-id": Bad(("--backend", "azure", "--app-name", "a1", "--resource-group",
                                   "rg", "--subscription-id", SUB, "--runtime", "container",
                                   "--image", "r.io/probe:latest"), option="--image",
                                  value="'r.io/probe:latest'", valid="16-hex build id"),
    "container-with-probe-dir": Bad(("--runtime", "container", "--probe-dir",
                                     "{folder}"),
                                    option="--runtime container", value="--probe-dir",
                                    valid="--runtime code"),
    # the evidence report
    "evidence-report-folder": Bad(("--evidence-report", "{folder}"), option="--evidence-report",
                                  value="which is a folder", valid="a file path in a folder"),
    "evidence-report-below-a-file": Bad(("--evidence-report", "{file}/sub/r.md"),
                                        option="--evidence-report",
                                        value="needs a folder where the file",
                                        valid="a file path in a folder"),
    # names
    "unknown-event": Bad(("--events", "reboot"), option="--events", value="'reboot'",
                         valid=EVENTS),
    "relative-path": Bad(("--path", "relative"), option="--path", value="'relative'",
                         valid="an absolute, normalised path"),
    "unknown-fault": Bad(("--fake-fault", "typo"), option="--fake-fault", value="'typo'",
                         valid="noop-restart"),
    "region-with-space": Bad(("--region", "West Europe"), option="--region",
                             value="'West Europe'", valid="an Azure region"),
    "probe-dir-missing": Bad(("--probe-dir", "/nonexistent"), option="--probe-dir",
                             value="'/nonexistent'", valid="app.py and requirements.txt"),
}  # fmt: skip


def test_the_table_is_long_enough() -> None:
    """Issue 14 asks for at least 40 kinds of bad input."""
    assert len(ROWS) >= 40


@pytest.mark.parametrize("bad", ROWS.values(), ids=ROWS.keys())
def test_bad_input_exits_4_in_one_sentence(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, bad: Bad
) -> None:
    """Exit 4; one ERROR line of one sentence naming option, value and what is valid; no
    traceback; no work folder."""
    for name in os.environ:
        if name.startswith("APPSERVICE_FS_") or name == "AZURE_SUBSCRIPTION_ID":
            monkeypatch.delenv(name)
    for name, value in bad.env.items():
        monkeypatch.setenv(name, value)
    copy_live_suite(pytester)
    pytester.makeini(f"[pytest]\njunit_family = xunit1\n{bad.ini}\n")
    blocker = pytester.path / "a-file"
    blocker.write_text("x")
    args = [arg.format(folder=pytester.path, file=blocker) for arg in bad.args]
    if not any(arg.startswith("--backend") for arg in args) and not bad.env.get(
        "APPSERVICE_FS_BACKEND"
    ):
        args = ["--backend", "fake", *args]
    # A basetemp of this test's own: pytester's default is shared by the worker's tests.
    basetemp = pytester.path / "inner-basetemp"
    result = pytester.runpytest("-m", "live", f"--basetemp={basetemp}", *args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = [line for line in result.stderr.lines if line.startswith("ERROR: ")]
    assert len(errors) == 1, result.stderr.str()
    message = errors[0].removeprefix("ERROR: ")
    assert message.endswith(".")
    assert ". " not in message.replace("e.g. ", ""), message  # one sentence
    assert message.startswith(bad.option), message
    assert bad.value in message, message
    assert bad.valid in message, message
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    made = list(basetemp.glob("appservice-fs*")) if basetemp.exists() else []
    assert made == []
