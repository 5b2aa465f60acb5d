"""Settings resolution: precedence, defaults and one-sentence errors (config.resolve)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from pytest_appservice_fs import config
from pytest_appservice_fs.config import MAX_READY_TIMEOUT, OPTIONS, SettingsError, resolve
from pytest_appservice_fs.engine.expectations import (
    AZURE_MATRIX,
    EMULATOR_MATRIX,
    LAB_MATRIX,
    PATHS,
    TMP,
)
from pytest_appservice_fs.engine.model import Event, Outcome
from pytest_appservice_fs.options import header

_LIST_KEYS = {spec.ini for spec in OPTIONS if spec.kind == "list"}

SUB_A = "11111111-2222-3333-4444-555555555555"
SUB_B = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def _ini(values: Mapping[str, Any] | None = None):
    """An ini getter like pytest's getini: '' for unset text and flag keys, [] for lists."""
    values = dict(values or {})

    def getini(name: str) -> Any:
        if name in values:
            return values[name]
        return [] if name in _LIST_KEYS else ""

    return getini


def _resolve(
    cli: Mapping[str, Any] | None = None,
    ini: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> config.Settings:
    return resolve(dict(cli or {}), _ini(ini), dict(env or {}), **kwargs)


def _error(
    cli: Mapping[str, Any] | None = None,
    ini: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> str:
    with pytest.raises(SettingsError) as excinfo:
        _resolve(cli, ini, env, **kwargs)
    return str(excinfo.value)


def _assert_one_sentence(message: str) -> None:
    assert "\n" not in message
    assert message.endswith(".")
    # A second sentence would start after '. ' with a capital letter.
    assert re.search(r"\.\s+[A-Z]", message) is None, message


# --- precedence --------------------------------------------------------------------------


def test_text_option_cli_wins_over_ini_and_environment() -> None:
    """A text option from the command line beats the ini file and the environment."""
    settings = _resolve(
        {"run_id": "from-cli"},
        {"appservice_fs_run_id": "from-ini"},
        {"APPSERVICE_FS_RUN_ID": "from-env"},
    )
    assert settings.run_id == "from-cli"


def test_text_option_environment_wins_over_ini() -> None:
    """Without a command-line value, the environment beats the ini file (CI overrides it)."""
    settings = _resolve({}, {"appservice_fs_run_id": "from-ini"}, {"APPSERVICE_FS_RUN_ID": "env"})
    assert settings.run_id == "env"


def test_text_option_from_ini_without_environment() -> None:
    """The ini file is the last source: it counts when neither other source has a value."""
    settings = _resolve({}, {"appservice_fs_run_id": "from-ini"}, {})
    assert settings.run_id == "from-ini"


def test_text_option_from_environment_is_stripped() -> None:
    """A value from the environment is stripped."""
    settings = _resolve(env={"APPSERVICE_FS_RUN_ID": "  from-env \n"})
    assert settings.run_id == "from-env"


def test_blank_environment_value_counts_as_unset() -> None:
    """An environment variable of only spaces does not set anything."""
    settings = _resolve(env={"APPSERVICE_FS_SKU": "   "})
    assert settings.sku is None


def test_flag_cli_wins_over_ini_and_environment() -> None:
    """A flag given on the command line is on, whatever the ini file and environment say."""
    settings = _resolve(
        {"keep_resources": True},
        {"appservice_fs_keep_resources": "false"},
        {"APPSERVICE_FS_KEEP_RESOURCES": "false"},
    )
    assert settings.keep_resources is True


def test_flag_environment_wins_over_ini() -> None:
    """An environment 'false' beats an ini 'true' when the flag is not on the command line."""
    settings = _resolve(
        {"keep_resources": False},
        {"appservice_fs_keep_resources": "true"},
        {"APPSERVICE_FS_KEEP_RESOURCES": "false"},
    )
    assert settings.keep_resources is False


def test_flag_from_environment() -> None:
    """With no command line and no ini value, the environment sets the flag."""
    settings = _resolve(env={"APPSERVICE_FS_KEEP_RESOURCES": "true"})
    assert settings.keep_resources is True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("1", True),
        ("yes", True),
        ("on", True),
        ("false", False),
        ("0", False),
        ("no", False),
        ("off", False),
    ],
)
def test_flag_strings_from_ini(text: str, expected: bool) -> None:
    """Flags from the ini file are strings: the usual true and false words are understood."""
    settings = _resolve(ini={"appservice_fs_keep_resources": text})
    assert settings.keep_resources is expected


@pytest.mark.parametrize(
    ("ini", "env", "source"),
    [
        ({"appservice_fs_keep_resources": "maybe"}, {}, "ini appservice_fs_keep_resources"),
        ({}, {"APPSERVICE_FS_KEEP_RESOURCES": "maybe"}, "environment APPSERVICE_FS_KEEP_RESOURCES"),
    ],
)
def test_flag_with_a_bad_word_is_refused(
    ini: dict[str, str], env: dict[str, str], source: str
) -> None:
    """A flag that is neither true nor false fails with one sentence naming the option and
    where the value came from."""
    message = _error(ini=ini, env=env)
    assert message == (
        f"--keep-resources (from {source}) got 'maybe'; valid values are true or false."
    )


def test_bad_value_from_the_command_line_names_only_the_option() -> None:
    """A bad value typed on the command line needs no source: the option is what was typed."""
    assert _error({"latency_size": "0"}) == (
        "--latency-size got '0'; valid is a whole number from 1 to 1048576."
    )


def test_header_names_each_setting_given_and_its_source() -> None:
    """The report header lists every setting that is not the default, with its source, and
    never an app setting's value."""
    lines = header(
        {"backend": "fake"},
        _ini({"appservice_fs_latency_iterations": "5"}),
        {"APPSERVICE_FS_EVENTS": "restart", "APPSERVICE_FS_APP_SETTINGS": "PROBE_TOKEN=s3cret"},
    )
    assert lines == [
        "appservice-fs: --backend fake (from command line)",
        "appservice-fs: --events restart (from environment APPSERVICE_FS_EVENTS)",
        "appservice-fs: --app-setting PROBE_TOKEN=*** "
        "(from environment APPSERVICE_FS_APP_SETTINGS)",
        "appservice-fs: --latency-iterations 5 (from ini appservice_fs_latency_iterations)",
    ]


def test_header_is_empty_when_nothing_is_set() -> None:
    """With every setting at its default, the header says nothing."""
    assert header({}, _ini(None), {}) == []


def test_list_option_cli_wins_whole() -> None:
    """A list from the command line replaces the ini list entirely, not merged."""
    settings = _resolve(
        {"events": ["deploy"]},
        {"appservice_fs_events": ["restart", "stop_start"]},
        {"APPSERVICE_FS_EVENTS": "scale_out"},
    )
    assert settings.events == (Event.DEPLOY,)


def test_list_option_environment_wins_whole_over_ini() -> None:
    """The environment's list replaces the ini list entirely."""
    settings = _resolve(
        {"events": []},
        {"appservice_fs_events": ["restart", "stop_start"]},
        {"APPSERVICE_FS_EVENTS": "scale_out,deploy"},
    )
    assert settings.events == (Event.SCALE_OUT, Event.DEPLOY)


def test_list_option_from_environment_is_comma_separated() -> None:
    """The environment gives a list as comma-separated text."""
    settings = _resolve(env={"APPSERVICE_FS_EVENTS": "scale_out, deploy"})
    assert settings.events == (Event.SCALE_OUT, Event.DEPLOY)


def test_app_settings_from_environment_are_one_per_line() -> None:
    """App settings in the environment are separated by newlines, so values may hold commas."""
    settings = _resolve(env={"APPSERVICE_FS_APP_SETTINGS": "A=1,2\nB=x=y\n"})
    assert dict(settings.app_settings) == {"A": "1,2", "B": "x=y"}


def test_subscription_id_falls_back_to_azure_subscription_id() -> None:
    """AZURE_SUBSCRIPTION_ID is read when the plugin's own variable is not set."""
    settings = _resolve(env={"AZURE_SUBSCRIPTION_ID": SUB_B})
    assert settings.subscription_id == SUB_B


def test_plugin_subscription_variable_wins_over_azure_one() -> None:
    """APPSERVICE_FS_SUBSCRIPTION_ID comes before AZURE_SUBSCRIPTION_ID."""
    settings = _resolve(
        {"app_name": "my-app", "resource_group": "rg"},
        env={"APPSERVICE_FS_SUBSCRIPTION_ID": SUB_A, "AZURE_SUBSCRIPTION_ID": SUB_B},
    )
    assert settings.subscription_id == SUB_A


# --- defaults ----------------------------------------------------------------------------


def test_defaults_with_nothing_given() -> None:
    """With no option anywhere: the local backend, every event, the lab matrix."""
    settings = _resolve()
    assert settings.backend == "local"
    assert settings.events == tuple(Event)
    assert settings.expectations == EMULATOR_MATRIX
    assert settings.user_paths == ()
    assert settings.append_records == 200
    assert settings.provision is False
    assert settings.keep_resources is False
    assert settings.app_name is None
    assert dict(settings.app_settings) == {}
    assert dict(settings.ready_timeouts) == {}
    assert settings.fake_faults == frozenset()
    assert settings.evidence_report is None


def test_default_run_id_is_fresh_and_valid() -> None:
    """Without --run-id each resolution makes a new id that --run-id itself would accept."""
    first, second = _resolve().run_id, _resolve().run_id
    assert first != second
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", first)
    assert _resolve({"run_id": first}).run_id == first


def test_evidence_report_becomes_a_path() -> None:
    """--evidence-report is resolved to a Path."""
    settings = _resolve({"evidence_report": "out/evidence.md"})
    assert settings.evidence_report == Path("out/evidence.md")


def test_explicit_fake_backend_refuses_app_name() -> None:
    """An explicit --backend fake wins over the azure default that --app-name implies, and
    --app-name, which only Azure reads, is refused rather than ignored."""
    message = _error({"backend": "FAKE", "app_name": "my-app"})
    assert message == "--app-name works only with --backend azure, not fake."


@pytest.mark.parametrize(
    ("cli", "env", "flag"),
    [
        ({"app_name": "my-app"}, {}, "--app-name"),
        ({"resource_group": "rg"}, {}, "--resource-group"),
        ({"subscription_id": SUB_A}, {}, "--subscription-id"),
        ({"provision": True}, {}, "--provision"),
        ({}, {"APPSERVICE_FS_ALLOW_EXISTING_APP": "true"}, "--allow-existing-app"),
        ({"restart_mode": "soft"}, {}, "--restart-mode soft"),
    ],
)
@pytest.mark.parametrize("backend", ["fake", "local"])
def test_azure_only_options_are_refused_on_other_backends(
    backend: str, cli: dict[str, Any], env: dict[str, str], flag: str
) -> None:
    """An option only the azure backend reads is refused with fake or local, naming both."""
    message = _error({"backend": backend, **cli}, env=env)
    _assert_one_sentence(message)
    assert flag in message
    assert message.endswith(f"works only with --backend azure, not {backend}.")


def test_ambient_azure_subscription_and_labels_stay_accepted_off_azure() -> None:
    """AZURE_SUBSCRIPTION_ID (set for every CI job), --region and --sku (labels) and an
    explicit --provision false do not stop a local run."""
    settings = _resolve(
        {"region": "westeurope", "sku": "B1"},
        {"appservice_fs_provision": "false"},
        {"AZURE_SUBSCRIPTION_ID": SUB_B},
    )
    assert (settings.backend, settings.region, settings.sku) == ("local", "westeurope", "B1")


@pytest.mark.parametrize("dest", ["events", "ready_timeout", "throughput_sizes", "paths"])
@pytest.mark.parametrize("given", [[""], [" , "], [",", " "]])
def test_an_empty_list_is_refused(dest: str, given: list[str]) -> None:
    """A list option given but naming nothing is refused, not read as the default or as none."""
    message = _error({dest: given})
    _assert_one_sentence(message)
    assert ", an empty list; valid is at least one " in message


def test_an_empty_list_from_the_environment_or_ini_is_refused() -> None:
    """APPSERVICE_FS_EVENTS=' , ' (which read as every event) and an ini of ',' are refused."""
    assert _error(env={"APPSERVICE_FS_EVENTS": " , "}).startswith(
        "--events (from environment APPSERVICE_FS_EVENTS) got '', an empty list"
    )
    assert _error(ini={"appservice_fs_events": [","]}).startswith(
        "--events (from ini appservice_fs_events) got ',', an empty list"
    )


@pytest.mark.parametrize(
    ("cli", "message"),
    [
        (
            {"backend": "azure", "subscription_id": SUB_A},
            "the azure backend needs --app-name and --resource-group (attach to an app) or "
            "--provision --region REGION (create one).",
        ),
        (
            {"app_name": "my-app", "subscription_id": SUB_A},
            "--app-name needs --resource-group, the resource group of the app.",
        ),
        (
            {"app_name": "my-app", "resource_group": "rg"},
            "the azure backend needs --subscription-id or the AZURE_SUBSCRIPTION_ID variable.",
        ),
        (
            {"provision": True, "region": "westeurope"},
            "the azure backend needs --subscription-id or the AZURE_SUBSCRIPTION_ID variable.",
        ),
        (
            {"app_name": "-bad-", "resource_group": "rg", "subscription_id": SUB_A},
            "--app-name got '-bad-'; valid is 2 to 60 letters, digits and hyphens, not starting "
            "or ending with a hyphen.",
        ),
        (
            {"app_name": "app", "resource_group": "rg", "subscription_id": "not-a-guid"},
            "--subscription-id got 'not-a-guid'; valid is a subscription GUID.",
        ),
        (
            {
                "app_name": "app",
                "resource_group": "rg",
                "subscription_id": SUB_A,
                "restart_mode": "hard",
            },
            "--restart-mode got 'hard'; valid values are platform, soft.",
        ),
    ],
    ids=[
        "no-target",
        "no-group",
        "no-subscription",
        "provision-no-subscription",
        "bad-name",
        "bad-subscription",
        "bad-restart-mode",
    ],
)
def test_azure_target_errors(cli: dict[str, Any], message: str) -> None:
    """An incomplete or malformed Azure target fails with one sentence saying what is needed."""
    assert _error(cli) == message
    _assert_one_sentence(message)


def test_azure_attach_and_provision_targets() -> None:
    """--app-name implies azure attach mode; --provision gets the B1 default SKU."""
    attach = _resolve({"app_name": "my-app", "resource_group": "rg", "subscription_id": SUB_A})
    assert (attach.backend, attach.provision, attach.sku) == ("azure", False, None)
    assert attach.restart_mode == "platform"
    provision = _resolve(
        {"provision": True, "region": "westeurope"}, env={"AZURE_SUBSCRIPTION_ID": SUB_B}
    )
    assert (provision.backend, provision.sku, provision.subscription_id) == ("azure", "B1", SUB_B)


def test_unknown_backend_is_refused() -> None:
    """An unknown backend name fails with one sentence listing the valid backends."""
    message = _error({"backend": "kubernetes"})
    assert message == "--backend got 'kubernetes'; valid backends are fake, local, azure."


def test_provision_without_region_is_refused() -> None:
    """--provision needs --region; the sentence names both."""
    message = _error({"provision": True})
    _assert_one_sentence(message)
    assert message == "--provision needs --region, an Azure region such as westeurope."


def test_bad_region_is_refused() -> None:
    """A region that is not a lowercase Azure name is refused."""
    message = _error({"region": "West Europe"})
    _assert_one_sentence(message)
    assert message.startswith("--region got 'West Europe'")


def test_bad_sku_is_refused() -> None:
    """A SKU with spaces is refused, naming --sku."""
    message = _error({"sku": "B 1"})
    _assert_one_sentence(message)
    assert message.startswith("--sku got 'B 1'")


# --- events ------------------------------------------------------------------------------


def test_events_accept_comma_lists_repeats_and_alias() -> None:
    """Comma lists and repeated options combine, duplicates drop, and stop-start is accepted."""
    settings = _resolve({"events": ["stop-start,restart", " Deploy ", "stop_start", "restart"]})
    assert settings.events == (Event.STOP_START, Event.RESTART, Event.DEPLOY)


@pytest.mark.parametrize("value", [["reboot"], ["restart,reboot"], ["restart", "reboot"]])
def test_unknown_event_is_refused(value: list[str]) -> None:
    """An unknown event fails with one sentence naming it and the valid events."""
    message = _error({"events": value})
    _assert_one_sentence(message)
    assert message == (
        "--events got unknown event 'reboot'; valid events are restart, stop_start, deploy, "
        "scale_out, scale_in, app_setting_change, restart_soft, sku_change, plan_restart."
    )


# --- app settings ------------------------------------------------------------------------


def test_app_settings_are_parsed() -> None:
    """KEY=VALUE pairs become a mapping; the value keeps any '=' it holds."""
    settings = _resolve({"app_settings": ["PROBE_TOKEN=s3cr=t", "WEBSITE.X_1="]})
    assert dict(settings.app_settings) == {"PROBE_TOKEN": "s3cr=t", "WEBSITE.X_1": ""}


@pytest.mark.parametrize(
    ("value", "shown_key"),
    [
        ("hunter2-without-equals", None),
        ("1KEY=hunter2-secret", "1KEY"),
        ("BAD KEY=hunter2-secret", "BAD KEY"),
        ("=hunter2-secret", ""),
    ],
)
def test_malformed_app_setting_never_shows_its_value(value: str, shown_key: str | None) -> None:
    """A malformed app setting names the option and the key rule, never the value."""
    message = _error({"app_settings": [value]})
    _assert_one_sentence(message)
    assert message.startswith("--app-setting got a value that is not KEY=VALUE")
    assert "hunter2" not in message
    if shown_key is not None:
        assert f"(key {shown_key!r})" in message
    else:
        assert "(key" not in message


def test_app_setting_values_stay_out_of_repr() -> None:
    """repr(settings) shows no app setting value."""
    settings = _resolve({"app_settings": ["PROBE_TOKEN=hunter2-secret"]})
    assert settings.app_settings["PROBE_TOKEN"] == "hunter2-secret"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)


# --- ready timeouts ----------------------------------------------------------------------


def test_ready_timeout_seconds_apply_to_every_event() -> None:
    """A bare SECONDS value sets the deadline of every event."""
    settings = _resolve({"ready_timeout": ["90"]})
    assert dict(settings.ready_timeouts) == dict.fromkeys(Event, 90.0)


def test_ready_timeout_per_event() -> None:
    """EVENT=SECONDS sets one event's deadline; the others keep the backend's default."""
    settings = _resolve({"ready_timeout": ["stop-start=12.5", "deploy=600"]})
    assert dict(settings.ready_timeouts) == {Event.STOP_START: 12.5, Event.DEPLOY: 600.0}


def test_ready_timeout_later_entry_wins() -> None:
    """Entries apply in order: a per-event value after a bare one overrides it."""
    settings = _resolve(env={"APPSERVICE_FS_READY_TIMEOUT": "30,restart=5"})
    assert settings.ready_timeouts[Event.RESTART] == 5.0
    assert settings.ready_timeouts[Event.DEPLOY] == 30.0


@pytest.mark.parametrize("value", ["soon", "restart=", "reboot=5", "restart=5=6"])
def test_bad_ready_timeout_is_refused(value: str) -> None:
    """A value that is not SECONDS or EVENT=SECONDS fails with one sentence of the forms."""
    message = _error({"ready_timeout": [value]})
    _assert_one_sentence(message)
    assert message.startswith(f"--ready-timeout got {value!r}; valid is SECONDS or EVENT=SECONDS")
    assert "restart, stop_start, deploy, scale_out" in message


@pytest.mark.parametrize("value", ["0", "-1", "restart=7201", "nan", "inf"])
def test_ready_timeout_out_of_range_is_refused(value: str) -> None:
    """Zero, negative, NaN, infinite and too-large deadlines are refused with the range."""
    message = _error({"ready_timeout": [value]})
    _assert_one_sentence(message)
    assert message.startswith("--ready-timeout got ")
    assert f"at most {MAX_READY_TIMEOUT:.0f}" in message


def test_ready_timeout_at_the_maximum_is_accepted() -> None:
    """The largest valid deadline is accepted."""
    settings = _resolve({"ready_timeout": [f"deploy={MAX_READY_TIMEOUT:.0f}"]})
    assert settings.ready_timeouts == {Event.DEPLOY: MAX_READY_TIMEOUT}


# --- fake faults -------------------------------------------------------------------------


def test_fake_faults_with_fake_backend() -> None:
    """Fake faults are accepted, comma-separated or repeated, with the fake backend."""
    settings = _resolve(
        {"backend": "fake", "fake_faults": ["noop-restart,stale-marker", "transient-503"]}
    )
    assert settings.fake_faults == frozenset({"noop-restart", "stale-marker", "transient-503"})


def test_unknown_fake_fault_is_refused() -> None:
    """An unknown fault fails with one sentence listing the valid ones."""
    message = _error({"fake_faults": ["disk-full"]})
    _assert_one_sentence(message)
    assert message == (
        "--fake-fault got 'disk-full'; valid faults are home-not-persistent, noop-restart, "
        "transient-503, stale-marker."
    )


def test_fake_fault_with_another_backend_is_refused() -> None:
    """A fake fault with a (runnable) non-fake backend fails, naming both options."""
    message = _error({"backend": "local", "fake_faults": ["noop-restart"]})
    _assert_one_sentence(message)
    assert message == "--fake-fault works only with --backend fake, not local."


# --- run id and app name -----------------------------------------------------------------


@pytest.mark.parametrize("value", ["has space", "a" * 41, "semi;colon", "ünïcode"])
def test_bad_run_id_is_refused(value: str) -> None:
    """A run id outside 1 to 40 of A-Z a-z 0-9 _ - fails with one sentence naming --run-id."""
    message = _error({"run_id": value})
    _assert_one_sentence(message)
    assert message.startswith("--run-id got ")
    assert message.endswith("valid is 1 to 40 of A-Z a-z 0-9 _ -.")


def test_run_id_of_forty_characters_is_accepted() -> None:
    """A run id of exactly 40 valid characters is accepted."""
    assert _resolve({"run_id": "A_-9" * 10}).run_id == "A_-9" * 10


def test_bad_app_name_is_refused() -> None:
    """An app name with a dot is refused, naming --app-name."""
    message = _error({"backend": "fake", "app_name": "my.app"})
    _assert_one_sentence(message)
    assert message.startswith("--app-name got 'my.app'")


# --- expectation overrides ---------------------------------------------------------------


def test_expectation_lines_are_applied() -> None:
    """Override lines change the matrix in the settings."""
    settings = _resolve(expectation_lines=["restart /tmp/data = lost"])
    assert settings.expectations.expected(Event.RESTART, TMP) is Outcome.LOST
    assert LAB_MATRIX.expected(Event.RESTART, TMP) is Outcome.PERSISTS


def test_bad_expectation_line_is_a_settings_error() -> None:
    """A bad override line surfaces as a SettingsError with its one sentence."""
    message = _error(expectation_lines=["restart /tmp/data lost"])
    _assert_one_sentence(message)
    assert message.startswith("appservice_fs_expect line 'restart /tmp/data lost'")


# --- paths, H4 and the matrix per backend ------------------------------------------------


def test_matrix_follows_the_backend() -> None:
    """Azure runs are judged against Azure's matrix, local and fake ones against the emulator's."""
    azure = {"backend": "azure", "app_name": "my-app", "resource_group": "rg"}
    env = {"AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000"}
    assert _resolve(azure, env=env).expectations == AZURE_MATRIX
    assert _resolve({"backend": "fake"}).expectations == EMULATOR_MATRIX


def test_user_paths_join_the_matrix_as_observed_cells() -> None:
    """--path adds observe cells on every event; repeats and comma lists are one path each."""
    settings = _resolve({"paths": ["/var/lib/app,/srv/data", "/var/lib/app", "/dev/shm/x"]})
    assert settings.user_paths == ("/var/lib/app", "/srv/data", "/dev/shm/x")
    assert settings.expectations.all_paths[-3:] == settings.user_paths
    cell = settings.expectations.expected(Event.DEPLOY, "/srv/data")
    assert cell is Outcome.OBSERVE
    assert {c.hypothesis for c in settings.expectations.paths if c.path == "/srv/data"} == {PATHS}


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("relative/dir", "is not absolute"),
        ("/var/../etc", "contains a '..' component"),
        ("//var/lib", "is not normalised"),
        ("/var/lib/", "is not normalised"),
        ("/", "is not a directory the probe may write to"),
        ("/var/lib/my app", "is not a directory the probe may write to"),
        ("/proc/self", "is under a kernel or device file system"),
        ("/dev/sda", "is under a kernel or device file system"),
    ],
)
def test_bad_user_path_is_refused_in_one_sentence(path: str, problem: str) -> None:
    """A --path the probe should not write to is refused, naming the path and the rule."""
    message = _error({"paths": [path]})
    _assert_one_sentence(message)
    assert message.startswith(f"--path got {path!r}, which {problem}")
    assert "valid is an absolute, normalised path" in message


def test_too_many_user_paths_are_refused() -> None:
    """At most eight --path paths (the probe's allowlist is bounded)."""
    message = _error({"paths": [f"/srv/p{i}" for i in range(9)]})
    assert message == "--path got 9 paths; valid is at most 8."


@pytest.mark.parametrize("key", ["PROBE_PATHS", "PROBE_SETTINGS_MARK", "PROBE_DEPLOYMENT_ID"])
def test_settings_the_harness_owns_cannot_be_given(key: str) -> None:
    """PROBE_PATHS comes from the matrix and --path; PROBE_SETTINGS_MARK is the event's."""
    message = _error({"app_settings": [f"{key}=/etc"]})
    _assert_one_sentence(message)
    assert message.startswith(f"--app-setting {key} cannot be given: ")
    assert "/etc" not in message


@pytest.mark.parametrize("value", ["0", "10001", "many"])
def test_append_records_are_bounded(value: str) -> None:
    """--append-records takes 1 to 10000 records per writer."""
    message = _error({"append_records": value})
    assert message == (f"--append-records got {value!r}; valid is a whole number from 1 to 10000.")
    assert _resolve({"append_records": "50"}).append_records == 50


@pytest.mark.parametrize("value", ["0", "7201", "2m", "1.5"])
def test_soft_restart_timeout_is_bounded(value: str) -> None:
    """--soft-restart-timeout takes 1 to 7200 whole seconds; 120 by default."""
    message = _error({"soft_restart_timeout": value})
    assert message == (
        f"--soft-restart-timeout got {value!r}; valid is a whole number from 1 to 7200."
    )
    assert _resolve({}).soft_restart_timeout == 120
    assert _resolve({"soft_restart_timeout": "30"}).soft_restart_timeout == 30


_AT_128 = (
    "(the probe's PROBE_MAX_THROUGHPUT_MIB default; --app-setting PROBE_MAX_THROUGHPUT_MIB=N "
    "raises it to at most 1024)."
)


def test_throughput_sizes_follow_the_probes_maximum_in_force() -> None:
    """--app-setting PROBE_MAX_THROUGHPUT_MIB raises the largest size, naming it when refused."""
    raised = ["PROBE_MAX_THROUGHPUT_MIB=512"]
    settings = _resolve({"throughput_sizes": ["512"], "app_settings": raised})
    assert settings.throughput_sizes == (512,)
    assert _error({"throughput_sizes": ["600"], "app_settings": raised}) == (
        "--throughput-sizes got '600'; valid is a whole number from 1 to 512 "
        "(PROBE_MAX_THROUGHPUT_MIB as --app-setting gives it)."
    )


@pytest.mark.parametrize("value", ["0", "1025", "1e3", "\u0661\u0662", "+5"])
def test_probe_max_throughput_setting_is_checked(value: str) -> None:
    """An app setting the probe would refuse at start-up is refused before deploying."""
    message = _error({"app_settings": [f"PROBE_MAX_THROUGHPUT_MIB={value}"]})
    assert message == (
        f"--app-setting PROBE_MAX_THROUGHPUT_MIB got {value!r}; valid is a whole number from 1 "
        "to 1024."
    )


@pytest.mark.parametrize("value", ["", "has space", "tab\there", "\u00e9t\u00e9", "x" * 257])
def test_probe_token_that_cannot_be_a_header_is_refused_unshown(value: str) -> None:
    """PROBE_TOKEN travels in a header: a value that cannot is refused, and never shown."""
    message = _error({"app_settings": [f"PROBE_TOKEN={value}"]})
    _assert_one_sentence(message)
    assert message.startswith("--app-setting PROBE_TOKEN got a value that cannot travel")
    if value:
        assert value not in message


@pytest.mark.parametrize("value", ["\u0661\u0662", "1_0", "1e3", "inf", "5.", ".5", "0x10"])
def test_ready_timeout_takes_ascii_decimals_only(value: str) -> None:
    """float() reads other scripts' digits, underscores and exponents; the option does not."""
    message = _error({"ready_timeout": [f"deploy={value}"]})
    _assert_one_sentence(message)
    assert message.startswith("--ready-timeout got ")
    assert _resolve({"ready_timeout": ["deploy=0.25"]}).ready_timeouts == {Event.DEPLOY: 0.25}


def test_evidence_report_that_cannot_be_written_is_refused(tmp_path: Path) -> None:
    """A folder, or a path below a file, is refused up front; nothing is created."""
    blocker = tmp_path / "file.md"
    blocker.write_text("x")
    assert _error({"evidence_report": str(tmp_path)}) == (
        f"--evidence-report got {str(tmp_path)!r}, which is a folder; valid is a file path in a "
        "folder that exists or can be created."
    )
    message = _error({"evidence_report": str(blocker / "sub" / "report.md")})
    _assert_one_sentence(message)
    assert f"needs a folder where the file {blocker} is" in message
    assert _resolve({"evidence_report": str(tmp_path / "new" / "r.md")}).evidence_report
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.md"]


def test_throughput_sizes_are_read_and_deduplicated() -> None:
    """--throughput-sizes takes comma lists and repeats; a size given twice counts once."""
    settings = _resolve({"throughput_sizes": ["1,16", "16", "128"]})
    assert settings.throughput_sizes == (1, 16, 128)
    assert _resolve().throughput_sizes == ()  # the backend's default


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            ["2048"],
            f"--throughput-sizes got '2048'; valid is a whole number from 1 to 128 {_AT_128}",
        ),
        (["256"], f"--throughput-sizes got '256'; valid is a whole number from 1 to 128 {_AT_128}"),
        (["0"], f"--throughput-sizes got '0'; valid is a whole number from 1 to 128 {_AT_128}"),
        (["1.5"], f"--throughput-sizes got '1.5'; valid is a whole number from 1 to 128 {_AT_128}"),
        (
            [",".join(str(n) for n in range(1, 10))],
            "--throughput-sizes got 9 sizes; valid is at most 8.",
        ),
    ],
)
def test_oversized_or_too_many_throughput_sizes_are_refused(
    values: list[str], message: str
) -> None:
    """H5 sizes are bounded before anything runs: each size, and how many."""
    assert _error({"throughput_sizes": values}) == message


@pytest.mark.parametrize("text", ["\u00b2", "\u0661\u0662", "1_000", " 1 2 ", "+5", "0x10"])
def test_numbers_are_ascii_decimal_only(text: str) -> None:
    """A superscript or another script's digits is refused in one sentence, never a crash and
    never read as a number."""
    assert _error({"latency_size": text}) == (
        f"--latency-size got {text.strip()!r}; valid is a whole number from 1 to 1048576."
    )


def test_a_flag_set_false_is_not_named_in_the_header() -> None:
    """An explicit 'false' is the default: the header does not list it."""
    assert header({}, _ini({"appservice_fs_keep_resources": "false"}), {}) == []


def test_option_names_match_the_model() -> None:
    """options.py names the events and hypotheses without importing the engine: the names are
    the model's and the matrix's, in their order."""
    from pytest_appservice_fs.engine.expectations import HYPOTHESES  # noqa: PLC0415
    from pytest_appservice_fs.engine.model import Event  # noqa: PLC0415
    from pytest_appservice_fs.options import EVENT_NAMES, HYPOTHESIS_NAMES  # noqa: PLC0415

    assert tuple(event.value for event in Event) == EVENT_NAMES
    assert tuple(HYPOTHESES) == HYPOTHESIS_NAMES


def test_header_never_shows_a_malformed_app_setting() -> None:
    """The header is built before values are checked: a malformed app setting (no '=') is
    shown as a placeholder, never echoed (it may be a secret typed whole)."""
    environ = {"APPSERVICE_FS_APP_SETTINGS": "hunter2-is-my-password\nGOOD=x"}
    assert header({}, _ini(None), environ) == [
        "appservice-fs: --app-setting <malformed>=***,GOOD=*** "
        "(from environment APPSERVICE_FS_APP_SETTINGS)"
    ]
