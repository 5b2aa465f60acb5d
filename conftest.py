"""Repository-wide test settings: no test may reach the network beyond loopback."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import pytest

pytest_plugins = ["pytester"]

_real_connect = socket.socket.connect


def _loopback_only(self: socket.socket, address: Any) -> Any:
    """Refuse any connection that is not to loopback or a local socket file."""
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = host == "localhost"
        if not allowed:
            raise ConnectionRefusedError(f"tests may not reach {host!r}: mock it at the transport")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs with outbound connections limited to loopback."""
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)
    try:
        import azure.identity  # noqa: PLC0415 - the azure extra may be absent
    except ImportError:
        return
    # Its managed-identity probe would contact a non-loopback address: tests inject credentials.
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", _no_default_credential)


def _no_default_credential(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("tests must inject a credential, never build DefaultAzureCredential")
