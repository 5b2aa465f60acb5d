"""Fixtures for tests that drive App Service through the simulator, with no network."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.azure.simulator import SCOPE_MARK, AzureSimulator

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken

#: Far enough ahead that azure-core never asks for a fresh token during a test.
TOKEN_LIFETIME = 365 * 24 * 3600


class FakeCredential:
    """A ``TokenCredential`` that hands out one fixed token and records the scopes asked for.

    With ``mark_scope`` the token names its scope, and the simulator refuses a token issued
    for another audience (an ARM token sent to Kudu), as Azure does.
    """

    def __init__(self, token: str = "fake-token", *, mark_scope: bool = False) -> None:
        self.token = token
        self.mark_scope = mark_scope
        self.scopes: list[tuple[str, ...]] = []

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        """Record ``scopes`` and return the token, valid for a year."""
        from azure.core.credentials import AccessToken  # noqa: PLC0415 - tests/ runs without it

        self.scopes.append(scopes)
        token = f"{self.token}{SCOPE_MARK}{' '.join(scopes)}" if self.mark_scope else self.token
        return AccessToken(token, int(time.time()) + TOKEN_LIFETIME)


@pytest.fixture
def credential() -> FakeCredential:
    """A credential for the SDK clients and Kudu; never a real Azure identity."""
    return FakeCredential()


@pytest.fixture
def azure_simulator(tmp_path: Path) -> Iterator[AzureSimulator]:
    """App Service simulated behind ``responses``; every other HTTP request fails."""
    responses = pytest.importorskip("responses")
    simulator = AzureSimulator(tmp_path / "azure")
    # Not every registered URL is called by every test, and that is no failure.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        simulator.install(rsps)
        try:
            yield simulator
        finally:
            simulator.teardown()
