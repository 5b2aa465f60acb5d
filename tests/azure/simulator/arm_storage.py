"""Microsoft.Storage: storage accounts, their keys, file shares and blob containers.

Answers for ``.../providers/Microsoft.Storage/storageAccounts/{name}`` (PUT as a long-running
operation, GET), ``listKeys``, ``fileServices/default/shares/{share}`` PUT and
``blobServices/default/containers/{container}`` PUT. Follows Azure/azure-rest-api-specs,
specification/storage/resource-manager/Microsoft.Storage/stable/2023-05-01: storage.json
(StorageAccounts_Create: 200 or 202 with ``Location``; StorageAccounts_ListKeys: ``keys`` of
``keyName``, ``value``, ``permissions``), file.json (FileShares_Create: 200 or 201;
``enabledProtocols`` SMB or NFS) and blob.json (BlobContainers_Create: 200 or 201).

Modelling choices worth knowing when a test fails:

- An NFS share is refused (400 FeatureNotSupportedForAccount) on an account that is not
  FileStorage Premium_LRS: NFS shares exist on premium file shares only.
- Each share or container is one folder (``folder``), which the sites that mount it share.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.azure.simulator.arm import (
    RESOURCE_GROUP,
    arm_error,
    arm_routes,
    find_in_group,
    group_not_found,
    json_body,
    new_operation,
    reply_with,
)
from tests.azure.simulator.state import (
    ARM_ENDPOINT,
    AppServiceState,
    Reply,
    Route,
    json_reply,
    request_query,
    short_location,
)

_ACCOUNT = RESOURCE_GROUP + r"/providers/Microsoft\.Storage/storageAccounts/(?P<acct>[^/?#]+)"
_SHARE = _ACCOUNT + r"/fileServices/default/shares/(?P<share>[^/?#]+)"
_CONTAINER = _ACCOUNT + r"/blobServices/default/containers/(?P<share>[^/?#]+)"


@dataclass
class SimulatedStorageAccount:
    """A storage account: its shape, its key, and its shares and containers (name -> NFS?)."""

    resource_group: str
    name: str
    location: str
    kind: str
    sku: str
    https_only: bool
    key: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    shares: dict[str, bool] = field(default_factory=dict)
    containers: set[str] = field(default_factory=set)

    def folder(self, root: Path, share: str) -> Path:
        """The folder that holds a share's or container's files."""
        path = root / "storage" / self.name / share
        path.mkdir(parents=True, exist_ok=True)
        return path


class ArmStorage:
    """Storage accounts and what they hold, in the shared state."""

    def __init__(self, state: AppServiceState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """The storage account, key, share and container URLs, with their handlers."""
        return arm_routes(
            self.state,
            [
                ("PUT", _ACCOUNT, self._put_account),
                ("GET", _ACCOUNT, self._get_account),
                ("POST", _ACCOUNT + "/listKeys", self._list_keys),
                ("PUT", _SHARE, self._put_share),
                ("PUT", _CONTAINER, self._put_container),
            ],
        )

    def _find(self, match: re.Match[str]) -> SimulatedStorageAccount | Reply:
        accounts = self.state.storage_accounts
        return find_in_group(
            self.state, match, accounts, "acct", "Microsoft.Storage/storageAccounts"
        )

    def _account_json(self, account: SimulatedStorageAccount) -> dict[str, Any]:
        return {
            "id": self.state.storage_account_id(account),
            "name": account.name,
            "type": "Microsoft.Storage/storageAccounts",
            "location": account.location,
            "kind": account.kind,
            "sku": {"name": account.sku, "tier": account.sku.split("_")[0]},
            "properties": {
                "provisioningState": "Succeeded",
                "supportsHttpsTrafficOnly": account.https_only,
                "primaryEndpoints": {
                    "file": f"https://{account.name}.file.core.windows.net/",
                    "blob": f"https://{account.name}.blob.core.windows.net/",
                },
            },
        }

    def _put_account(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        group = self.state.groups.get(match["rg"].lower())
        if group is None:
            return group_not_found(match["rg"])
        body = json_body(request)
        if not isinstance(body, dict):
            return body
        name = match["acct"]
        if not re.fullmatch(r"[a-z0-9]{3,24}", name):
            message = (
                f"{name} is not a valid storage account name (3-24 lower-case letters, digits)."
            )
            return arm_error(400, "AccountNameInvalid", message)
        sku, kind = (body.get("sku") or {}).get("name"), body.get("kind")
        if not sku or not kind or not body.get("location"):
            return arm_error(400, "InvalidRequestContent", "sku, kind and location are required.")
        properties = body.get("properties") or {}
        account = SimulatedStorageAccount(
            group.name,
            name,
            short_location(body["location"]),
            kind,
            sku,
            bool(properties.get("supportsHttpsTrafficOnly", True)),
        )

        def finish() -> None:
            self.state.storage_accounts.setdefault(name.lower(), account)

        op = new_operation(self.state, finish)
        url = (
            f"{ARM_ENDPOINT}/subscriptions/{self.state.subscription_id}/operationresults/{op}"
            f"?api-version={request_version(request)}"
        )
        return 202, [("Location", url)], b""

    def _get_account(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        return reply_with(self._find(match), self._account_json)

    def _list_keys(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        account = self._find(match)
        if isinstance(account, tuple):
            return account
        keys = [{"keyName": "key1", "value": account.key, "permissions": "FULL"}]
        return json_reply(200, {"keys": keys})

    def _put_share(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        account = self._find(match)
        if isinstance(account, tuple):
            return account
        body = json_body(request)
        if not isinstance(body, dict):
            return body
        nfs = str((body.get("properties") or {}).get("enabledProtocols", "SMB")).upper() == "NFS"
        if nfs and (account.kind, account.sku) != ("FileStorage", "Premium_LRS"):
            message = "NFS shares need a FileStorage account with Premium_LRS."
            return arm_error(400, "FeatureNotSupportedForAccount", message)
        account.shares[match["share"]] = nfs
        return json_reply(201, self._child_json(request, match, "fileServices/shares"))

    def _put_container(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        account = self._find(match)
        if isinstance(account, tuple):
            return account
        account.containers.add(match["share"])
        return json_reply(201, self._child_json(request, match, "blobServices/containers"))

    def _child_json(
        self, request: requests.PreparedRequest, match: re.Match[str], kind: str
    ) -> dict[str, Any]:
        return {
            "id": urlsplit(request.url or "").path,
            "name": match["share"],
            "type": f"Microsoft.Storage/storageAccounts/{kind}",
            "properties": {},
        }


def request_version(request: requests.PreparedRequest) -> str:
    """The api-version the request was sent with."""
    return request_query(request).get("api-version", "")
