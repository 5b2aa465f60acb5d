"""Mount facts: mountinfo parsing, the covering mount per path, and /mount-info."""

from __future__ import annotations

import os
import subprocess
from typing import TYPE_CHECKING, Any

import pytest

from .conftest import HOSTNAME, INSTANCE_ID, MOUNTINFO, probe, probe_app

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from flask.testing import FlaskClient

KERNEL_EXAMPLE = "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"


def test_parse_the_kernel_documentation_example() -> None:
    (entry,) = probe.mounts.parse_mountinfo(KERNEL_EXAMPLE + "\n")
    assert entry == probe.mounts.MountEntry(
        mount_id=36,
        parent_id=35,
        major_minor="98:0",
        root="/mnt1",
        mount_point="/mnt2",
        options="rw,noatime",
        optional_fields=("master:1",),
        fstype="ext3",
        source="/dev/root",
        super_options="rw,errors=continue",
    )


def test_parse_optional_fields_escapes_and_junk() -> None:
    entries = probe.mounts.parse_mountinfo(MOUNTINFO)
    assert [entry.mount_point for entry in entries] == ["/", "/home", "/var/local", "/hom"]
    root, home = entries[0], entries[1]
    assert root.optional_fields == ()
    assert (root.fstype, root.source) == ("overlay", "overlay")
    assert home.optional_fields == ("shared:5", "master:2")
    assert home.source == "//acct.file.core.windows.net/my share"
    assert home.super_options == "rw,vers=3.1.1,nobrl"


def test_parse_unescapes_paths() -> None:
    line = r"40 1 8:1 /a\134b /mnt/with\040space\011tab rw - ext4 /dev/sda\0401 rw"
    (entry,) = probe.mounts.parse_mountinfo(line)
    assert entry.root == "/a\\b"
    assert entry.mount_point == "/mnt/with space\ttab"
    assert entry.source == "/dev/sda 1"


@pytest.mark.parametrize(
    "line",
    [
        "",
        "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw",  # no separator
        "36 35 98:0 /mnt1 /mnt2 rw - ext3",  # no source
        "x 35 98:0 /mnt1 /mnt2 rw - ext3 /dev/root rw",  # id is not a number
        "36 35 98:0 /mnt1 - rw ext3 /dev/root rw",  # too few fields before '-'
    ],
)
def test_parse_skips_lines_that_are_not_mounts(line: str) -> None:
    assert probe.mounts.parse_mountinfo(line + "\n" + KERNEL_EXAMPLE)[0].mount_id == 36
    assert len(probe.mounts.parse_mountinfo(line)) == 0


def test_parse_keeps_a_missing_super_options_field_empty() -> None:
    (entry,) = probe.mounts.parse_mountinfo("1 0 0:1 / / rw - rootfs rootfs")
    assert entry.super_options == ""


@pytest.mark.parametrize(
    ("path", "mount_point"),
    [
        ("/home/data", "/home"),
        ("/home", "/home"),
        ("/homework", "/"),
        ("/tmp/data", "/"),
        ("/var/local/data", "/var/local"),
        ("/var/localdata", "/"),
    ],
)
def test_find_mount_takes_the_longest_whole_component_prefix(path: str, mount_point: str) -> None:
    entry = probe.mounts.find_mount(probe.mounts.parse_mountinfo(MOUNTINFO), path)
    assert entry is not None
    assert entry.mount_point == mount_point


def test_find_mount_prefers_the_latest_of_stacked_mounts() -> None:
    text = MOUNTINFO + "30 22 0:70 / /home rw - tmpfs on-top rw\n"
    entry = probe.mounts.find_mount(probe.mounts.parse_mountinfo(text), "/home/data")
    assert entry is not None
    assert (entry.fstype, entry.source) == ("tmpfs", "on-top")


def test_find_mount_without_mounts_is_none() -> None:
    assert probe.mounts.find_mount([], "/home/data") is None


def test_mount_info_reports_facts_per_path(client: FlaskClient) -> None:
    response = client.get("/mount-info")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert (body["instance_id"], body["hostname"]) == (INSTANCE_ID, HOSTNAME)
    assert body["mount"] == MOUNTINFO
    facts = body["paths"]
    assert list(facts) == ["/home/data", "/tmp/data", "/var/local/data"]
    home = facts["/home/data"]
    assert {key: home[key] for key in ("path", "mount_point", "fstype", "source")} == {
        "path": "/home/data",
        "mount_point": "/home",
        "fstype": "cifs",
        "source": "//acct.file.core.windows.net/my share",
    }
    assert home["options"] == "rw,relatime"
    assert home["super_options"] == "rw,vers=3.1.1,nobrl"
    assert (facts["/tmp/data"]["mount_point"], facts["/tmp/data"]["fstype"]) == ("/", "overlay")
    assert facts["/var/local/data"]["fstype"] == "tmpfs"
    for fact in facts.values():
        assert isinstance(fact["total_bytes"], int)
        assert 0 <= fact["free_bytes"] <= fact["total_bytes"]
        assert fact["total_bytes"] > 0


def test_mount_info_sizes_come_from_the_physical_folder(
    client: FlaskClient, tmp_path: Path
) -> None:
    usage = os.statvfs(tmp_path)
    fact = client.get("/mount-info?path=/tmp/data").json["paths"]["/tmp/data"]
    assert fact["total_bytes"] == usage.f_blocks * usage.f_frsize


def test_mount_info_df_has_a_header_and_one_line_per_path(client: FlaskClient) -> None:
    df = client.get("/mount-info").json["df"]
    header, *lines = df.rstrip("\n").split("\n")
    assert header.split() == [
        "Filesystem",
        "1K-blocks",
        "Used",
        "Available",
        "Use%",
        "Mounted",
        "on",
        "Path",
    ]
    assert [line.split()[-1] for line in lines] == ["/home/data", "/tmp/data", "/var/local/data"]
    assert lines[0].split()[0] == "//acct.file.core.windows.net/my"
    assert lines[1].split()[-2] == "/"
    assert lines[1].split()[4].endswith("%")


def test_mount_info_selects_paths(client: FlaskClient) -> None:
    body = client.get("/mount-info?path=/var/local/data").json
    assert list(body["paths"]) == ["/var/local/data"]
    assert len(body["df"].splitlines()) == 2


def test_missing_mountinfo_gives_null_facts_but_sizes(
    make_config: Callable[..., Any], tmp_path: Path
) -> None:
    config = make_config(mountinfo_path=str(tmp_path / "absent"))
    body = probe_app.create_app(config).test_client().get("/mount-info").json
    assert body["mount"] == ""
    for fact in body["paths"].values():
        assert [fact[key] for key in ("mount_point", "fstype", "source", "options")] == [None] * 4
        assert fact["super_options"] is None
        assert fact["total_bytes"] > 0
    for line in body["df"].splitlines()[1:]:
        filesystem, *_, mounted_on, _ = line.split()
        assert (filesystem, mounted_on) == ("-", "-")


def test_unparseable_mountinfo_gives_null_facts(
    make_config: Callable[..., Any], tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage"
    garbage.write_bytes(b"\x00\xff not a mount table\n")
    body = (
        probe_app.create_app(make_config(mountinfo_path=str(garbage)))
        .test_client()
        .get("/mount-info")
        .json
    )
    assert body["paths"]["/home/data"]["fstype"] is None
    assert body["mount"].startswith("\x00\ufffd not a mount")


def test_mountinfo_is_capped_at_256_kib_on_a_line_boundary(
    make_config: Callable[..., Any], tmp_path: Path
) -> None:
    big = tmp_path / "big"
    filler = "".join(f"{100 + i} 21 0:1 / /mnt/m{i} rw - tmpfs tmpfs rw\n" for i in range(8000))
    big.write_text(MOUNTINFO + filler)
    body = (
        probe_app.create_app(make_config(mountinfo_path=str(big)))
        .test_client()
        .get("/mount-info")
        .json
    )
    assert 256 * 1024 - 64 < len(body["mount"]) <= 256 * 1024
    assert body["mount"].endswith("\n")
    assert body["paths"]["/home/data"]["fstype"] == "cifs"


def test_the_probe_runs_no_commands(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the probe ran a command")

    monkeypatch.setattr(subprocess, "Popen", forbidden)
    monkeypatch.setattr(os, "system", forbidden)
    monkeypatch.setattr(os, "popen", forbidden)
    for url in [
        "/health",
        "/identity",
        "/write",
        "/read",
        "/mount-info",
        "/io-latency?iterations=2",
    ]:
        assert client.get(url).status_code == 200, url
