"""Azure Storage mounts of the app: storage accounts and shares made for them, or found.

Provision mode makes, per ``--mount``, a storage account and a share or container in the run's
group (azure-mgmt-storage; Azure/azure-rest-api-specs, specification/storage/resource-manager/
Microsoft.Storage/stable/2023-05-01: storage.json StorageAccounts_Create (a long-running
operation) and StorageAccounts_ListKeys, file.json FileShares_Create, blob.json
BlobContainers_Create):

- Azure Files over SMB: a StorageV2 Standard_LRS account and a file share;
- Azure Files over NFS: a FileStorage Premium_LRS account (NFS shares exist on premium file
  shares only) with secure transfer off (``supportsHttpsTrafficOnly: false``: NFS 4.1 has no
  encryption in transit, so an account that requires it refuses the mount) and a share with
  ``enabledProtocols: NFS``;
- Azure Blob: a StorageV2 Standard_LRS account and a blob container.

The account key is read with ``list_keys`` and goes only into the site's
``azureStorageAccounts`` entry (AzureStorageInfoValue: type, accountName, shareName,
accessKey, mountPath, protocol; specification/web/resource-manager/Microsoft.Web/AppService,
WebApps_UpdateAzureStorageAccounts and WebApps_ListAzureStorageAccounts), written as
``az webapp config storage-account add`` writes it (Azure/azure-cli, appservice custom.py
``add_azure_storage_account``: list, add the new entry, update the whole dictionary). It is
never logged, printed or put in an error. Attach mode only reads the app's entries: every
``--mount`` must be one of them (the same path and kind).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_appservice_fs.backends.azure.arm import LRO_SECONDS, arm_call
from pytest_appservice_fs.backends.protocol import BackendError
from pytest_appservice_fs.engine.configuration import Mount, MountKind


@dataclass(frozen=True)
class _AccountShape:
    kind: str
    sku: str
    https_only: bool


_SHAPES = {
    MountKind.FILES: _AccountShape("StorageV2", "Standard_LRS", https_only=True),
    MountKind.FILES_NFS: _AccountShape("FileStorage", "Premium_LRS", https_only=False),
    MountKind.BLOB: _AccountShape("StorageV2", "Standard_LRS", https_only=True),
}


def account_name(app_name: str, index: int) -> str:
    """A storage account name for mount ``index``: 3-24 lower-case letters and digits, unique."""
    letters = "".join(c for c in app_name.lower() if c.isalnum())[:12]
    return f"{letters or 'probe'}{index}{uuid.uuid4().hex[:8]}"[:24]


def share_name(mount: Mount) -> str:
    """The share or container name of a mount: ``probe`` and its path's letters, lower case."""
    letters = "-".join(part for part in mount.path.lower().split("/") if part)
    cleaned = "".join(c if c.isalnum() else "-" for c in letters).strip("-")
    return f"probe-{cleaned}"[:63].rstrip("-")


def create_mount_storage(
    storage: Any,
    *,
    group: str,
    location: str,
    tags: Mapping[str, str],
    mount: Mount,
    account: str,
) -> Any:
    """Create the account and share of ``mount``; its AzureStorageInfoValue, key included."""
    # Typed loosely: the SDK's models take flattened keywords (enable_https_traffic_only, ...)
    # in every supported version, though its stubs name only the nested ones.
    from azure.mgmt.storage import models as storage_models  # noqa: PLC0415 - the extra's SDK

    models: Any = storage_models
    from azure.mgmt.web import models as web_models  # noqa: PLC0415

    shape = _SHAPES[mount.kind]
    parameters = models.StorageAccountCreateParameters(
        sku=models.Sku(name=shape.sku),
        kind=shape.kind,
        location=location,
        tags=dict(tags),
        enable_https_traffic_only=shape.https_only,
    )
    what = f"create storage account {account} for the mount at {mount.path}"
    arm_call(
        lambda: storage.storage_accounts.begin_create(group, account, parameters).result(
            timeout=LRO_SECONDS
        ),
        what,
    )
    share = share_name(mount)
    if mount.kind is MountKind.BLOB:
        arm_call(
            lambda: storage.blob_containers.create(group, account, share, models.BlobContainer()),
            f"create blob container {share} in {account}",
        )
    else:
        protocols = "NFS" if mount.kind is MountKind.FILES_NFS else "SMB"
        arm_call(
            lambda: storage.file_shares.create(
                group, account, share, models.FileShare(enabled_protocols=protocols)
            ),
            f"create file share {share} in {account}",
        )
    keys = arm_call(
        lambda: storage.storage_accounts.list_keys(group, account),
        f"read the keys of storage account {account}",
    )
    # Models made by the newer SDK generator are mappings, whose keys() hides the field.
    listed = getattr(keys, "keys_property", None) if callable(keys.keys) else keys.keys
    key = next((k.value for k in listed or [] if k.value), None)
    if key is None:
        raise BackendError(f"storage account {account} reported no key for the mount.")
    return web_models.AzureStorageInfoValue(
        type=mount.kind.storage_type,
        account_name=account,
        share_name=share,
        access_key=key,
        mount_path=mount.path,
        protocol=mount.kind.protocol,
    )


def read_mounts(web: Any, group: str, app: str) -> dict[str, Any]:
    """The app's azureStorageAccounts entries now, name to AzureStorageInfoValue."""
    listed = arm_call(
        lambda: web.web_apps.list_azure_storage_accounts(group, app),
        "read the app's Azure Storage mounts",
    )
    return dict(listed.properties or {})


def write_mounts(web: Any, group: str, app: str, entries: Mapping[str, Any]) -> None:
    """Make ``entries`` the app's azureStorageAccounts (the call replaces them all)."""
    from azure.mgmt.web import models as web_models  # noqa: PLC0415

    arm_call(
        lambda: web.web_apps.update_azure_storage_accounts(
            group,
            app,
            web_models.AzureStoragePropertyDictionaryResource(properties=dict(entries)),
        ),
        "write the app's Azure Storage mounts",
    )


def kind_of(entry: Any) -> MountKind | None:
    """The MountKind of an AzureStorageInfoValue, from its type and protocol (None: neither)."""
    storage_type = str(getattr(entry.type, "value", entry.type) or "")
    protocol = str(getattr(entry.protocol, "value", entry.protocol) or "")
    if storage_type.lower() == "azureblob":
        return MountKind.BLOB
    if storage_type.lower() == "azurefiles":
        # An entry written before protocols existed is SMB, as the spec's default.
        return MountKind.FILES_NFS if protocol.lower() == "nfs" else MountKind.FILES
    return None


def check_attached(entries: Mapping[str, Any], mounts: Sequence[Mount], app: str) -> None:
    """BackendError unless every mount asked for is one of the app's (path and kind)."""
    has = sorted(
        Mount(str(entry.mount_path), kind)
        for entry in entries.values()
        if entry.mount_path and (kind := kind_of(entry)) is not None
    )
    missing = [mount for mount in mounts if mount not in has]
    if missing:
        named = ", ".join(str(mount) for mount in has) or "none"
        raise BackendError(
            f"app {app} has no mount {', '.join(str(m) for m in missing)}; attach mode tests "
            f"the app's own mounts, and it has: {named}."
        )
