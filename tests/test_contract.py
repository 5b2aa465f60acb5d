"""The harness's wire contract (``contract.py``) and the probe's own copy say the same.

The probe is deployed alone and keeps its copy in ``probe/fsprobe/contract.py``; the probe is
loaded here from its file, as the probe tests load it, and the two copies are compared value
by value, the path rule on shared paths, and the bounds as the probe's endpoints enforce them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from pytest_appservice_fs import contract
from pytest_appservice_fs.engine.expectations import DEFAULT_PATHS
from pytest_appservice_fs.options import USER_PATHS_MAX
from tests.probe.conftest import MOUNTINFO, TOKEN, probe, probe_app

if TYPE_CHECKING:
    from pathlib import Path

    from flask.testing import FlaskClient

#: The contract's values: its public upper-case names.
VALUES = sorted(name for name in vars(contract) if name.isupper())

# "/" is absolute and normalised: the probe takes it (the harness's --path refuses it for
# reasons of its own, beyond the contract).
GOOD_PATHS = ["/", "/home/data", "/tmp/data", "/dev/shm", "/a.b/c_d-e", "/a/.hidden", "/a/b..c"]
BAD_PATHS = [
    "",
    "data",
    "./data",
    "//a",
    "///a",
    "/a/",
    "/a//b",
    "/a/./b",
    "/a/.",
    "/a/..",
    "/a/../b",
    "/..",
    "/a\0b",
]


def test_the_probe_holds_the_same_names() -> None:
    """The probe's copy has exactly the harness's names: none missing, none extra."""
    probe_names = sorted(name for name in vars(probe.contract) if name.isupper())
    assert probe_names == VALUES
    assert len(VALUES) >= 18  # guards against an empty comparison


@pytest.mark.parametrize("name", VALUES)
def test_each_value_is_equal_on_both_sides(name: str) -> None:
    """Each name, bound and pattern is the probe's too."""
    assert getattr(probe.contract, name) == getattr(contract, name)


@pytest.mark.parametrize("path", GOOD_PATHS + BAD_PATHS)
def test_both_sides_accept_and_refuse_the_same_paths(path: str) -> None:
    """The path rule gives the same answer on both sides, and the probe's configuration
    follows its rule."""
    harness, probe_side = contract.path_problem(path), probe.contract.path_problem(path)
    assert (harness is None) == (probe_side is None)
    assert harness == probe_side
    if harness is not None:
        with pytest.raises(ValueError, match="PROBE_PATHS"):
            probe.config.validate_paths([path], "PROBE_PATHS")
    else:
        assert probe.config.validate_paths([path], "PROBE_PATHS") == (path,)


def test_shared_paths_cover_each_refusal() -> None:
    """The bad paths exercise every reason the rule gives, and the good ones pass."""
    assert GOOD_PATHS
    assert all(contract.path_problem(path) is None for path in GOOD_PATHS)
    reasons = {contract.path_problem(path) for path in BAD_PATHS}
    assert None not in reasons
    assert len(reasons) == 3


def test_user_paths_fit_in_the_probe_allowlist() -> None:
    """The matrix's paths and the most --path paths stay within the probe's allowlist."""
    assert len(DEFAULT_PATHS) + USER_PATHS_MAX <= contract.ALLOWLIST_MAX


@pytest.fixture
def probe_client(tmp_path: Path) -> FlaskClient:
    """A probe with a token on temporary folders; its requests carry the token under the
    contract's header."""
    (tmp_path / "mountinfo").write_text(MOUNTINFO)
    config = probe_app.ProbeConfig(
        token=TOKEN,
        mounts={"/": str(tmp_path / "layer"), "/home": str(tmp_path / "home")},
        mountinfo_path=str(tmp_path / "mountinfo"),
    )
    client = probe_app.create_app(config).test_client()
    client.environ_base[f"HTTP_{contract.TOKEN_HEADER.upper().replace('-', '_')}"] = TOKEN
    return client


def test_the_probe_reads_its_token_from_the_contract_header(probe_client: FlaskClient) -> None:
    """With the token under TOKEN_HEADER the probe answers; without it, 401."""
    assert probe_client.get("/identity").status_code == 200
    assert probe_client.get("/identity", environ_base={"HTTP_X_PROBE_TOKEN": ""}).status_code == 401


@pytest.mark.parametrize(
    ("query", "most"),
    [
        ("/io-latency?size={}", contract.LATENCY_SIZE_MAX),
        ("/io-latency?iterations={}", contract.LATENCY_ITERATIONS_MAX),
        ("/throughput?path=/home/data&sizes={}", contract.DEFAULT_MAX_THROUGHPUT_MIB),
        ("/throughput?path=/home/data&iterations={}", contract.THROUGHPUT_ITERATIONS_MAX),
        ("/append?path=/home/data&writer=w&records={}", contract.APPEND_RECORDS_MAX),
    ],
)
def test_the_probe_refuses_one_past_each_bound(
    probe_client: FlaskClient, query: str, most: int
) -> None:
    """One past a bound is refused with 400, naming the bound: the probe enforces the value."""
    response = probe_client.get(query.format(most + 1))
    assert response.status_code == 400
    assert response.json["error"].endswith(f"must be an integer from 1 to {most}.")


def test_the_probe_takes_the_lock_modes_and_counts(probe_client: FlaskClient) -> None:
    """Every lock mode is accepted; the most sizes and paths are taken, one more refused."""
    for lock in contract.LOCK_MODES:
        response = probe_client.get(f"/append?path=/home/data&writer=w&records=1&lock={lock}")
        assert response.status_code == 200
        assert response.json["lock"] == lock
    sizes = ",".join(["1"] * contract.THROUGHPUT_SIZES_MAX)
    assert probe_client.get(f"/throughput?path=/tmp/data&sizes={sizes}").status_code == 200
    too_many = probe_client.get(f"/throughput?path=/tmp/data&sizes={sizes},1")
    assert too_many.status_code == 400
    paths = "&".join(["path=/home/data"] * contract.PATH_PARAMS_MAX)
    assert probe_client.get(f"/mount-info?{paths}").status_code == 200
    assert probe_client.get(f"/mount-info?{paths}&path=/home/data").status_code == 400


def test_the_probe_writes_the_contract_marker_names(
    probe_client: FlaskClient, tmp_path: Path
) -> None:
    """/write leaves MARKER_NAME and CHECKSUM_NAME, the files the harness plants and reads."""
    assert probe_client.get("/write?path=/home/data").status_code == 200
    names = {path.name for path in (tmp_path / "home" / "data").iterdir()}
    assert names == {contract.MARKER_NAME, contract.CHECKSUM_NAME}


def test_the_probe_configuration_keeps_the_bounds() -> None:
    """The throughput maximum, the allowlist size and the deployment id length are enforced."""
    mib = probe_app.ProbeConfig(max_throughput_mib=contract.THROUGHPUT_MIB_MAX).max_throughput_mib
    assert mib == contract.THROUGHPUT_MIB_MAX
    with pytest.raises(ValueError, match=f"from 1 to {contract.THROUGHPUT_MIB_MAX}"):
        probe_app.ProbeConfig(max_throughput_mib=contract.THROUGHPUT_MIB_MAX + 1)
    paths = [f"/p{index}" for index in range(contract.ALLOWLIST_MAX + 1)]
    assert len(probe.config.validate_paths(paths[:-1], "PROBE_PATHS")) == contract.ALLOWLIST_MAX
    with pytest.raises(ValueError, match=f"give 1 to {contract.ALLOWLIST_MAX}"):
        probe.config.validate_paths(paths, "PROBE_PATHS")
    environ = {"PROBE_DEPLOYMENT_ID": "d" * (contract.DEPLOYMENT_ID_MAX + 1)}
    config = probe_app.ProbeConfig.from_environ(environ, app_dir="/nonexistent")
    assert config.deployment_id == "d" * contract.DEPLOYMENT_ID_MAX
