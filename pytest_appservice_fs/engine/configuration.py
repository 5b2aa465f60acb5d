"""The configuration under test: the runtime, App Service storage and Azure Storage mounts.

A verdict holds only for the configuration it was observed under: every testcase carries it
as properties (``facts``), the expectation matrix is chosen by it, and reports never compare
runs of different configurations. Sources of the platform facts used here:

- App Service storage (``WEBSITES_ENABLE_APP_SERVICE_STORAGE``): with it off, "the /home
  directory isn't shared across scale instances, and files written to it don't persist across
  restarts" (learn.microsoft.com/azure/app-service/configure-custom-container,
  "Use persistent shared storage").
- Azure Storage mounts (``azureStorageAccounts`` in the site config, "path mappings" in the
  portal; learn.microsoft.com/azure/app-service/configure-connect-to-azure-storage, Linux):
  Azure Files shares over SMB or NFS are read-write; Azure Blob mounts are read-only; adding,
  changing or removing a mount restarts the app; NFS keeps Unix owners and modes.
  In the Microsoft.Web REST spec: ``AzureStorageInfoValue`` with ``type`` AzureFiles or
  AzureBlob, ``protocol`` Smb, Http or Nfs, ``accountName``, ``shareName``, ``accessKey``
  and ``mountPath``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

#: The app setting behind the App Service storage axis.
STORAGE_SETTING = "WEBSITES_ENABLE_APP_SERVICE_STORAGE"
#: The configuration's properties on every testcase (among the run's facts), in this order.
FACT_NAMES = ("runtime", "app_service_storage", "mounts")
#: ``mounts`` of a configuration without any.
NO_MOUNTS = "none"


class Runtime(str, enum.Enum):
    """How the app runs: code on App Service's built-in Python stack, or a custom container
    (Web App for Containers) with the probe baked into the image."""

    CODE = "code"
    CONTAINER = "container"

    def __str__(self) -> str:
        return self.value


class MountKind(str, enum.Enum):
    """An Azure Storage mount's kind, as ``--mount PATH=KIND`` names it."""

    #: An Azure Files share over SMB (``type=AzureFiles, protocol=Smb``).
    FILES = "files"
    #: An Azure Files share over NFS (``type=AzureFiles, protocol=Nfs``; Premium file shares).
    FILES_NFS = "files-nfs"
    #: An Azure Blob container (``type=AzureBlob``), mounted read-only.
    BLOB = "blob"

    def __str__(self) -> str:
        return self.value

    @property
    def read_only(self) -> bool:
        """Whether the app can write to the mount: Blob mounts are read-only."""
        return self is MountKind.BLOB

    @property
    def keeps_unix_owners(self) -> bool:
        """Whether chown and chmod stick (numeric uid/gid and mode): NFS yes, SMB no."""
        return self is MountKind.FILES_NFS

    @property
    def storage_type(self) -> str:
        """``AzureStorageInfoValue.type`` in the Microsoft.Web spec."""
        return "AzureBlob" if self is MountKind.BLOB else "AzureFiles"

    @property
    def protocol(self) -> str:
        """``AzureStorageInfoValue.protocol`` in the Microsoft.Web spec."""
        return {MountKind.FILES: "Smb", MountKind.FILES_NFS: "Nfs", MountKind.BLOB: "Http"}[self]


@dataclass(frozen=True, order=True)
class Mount:
    """One Azure Storage mount: the path the app sees it at, and its kind."""

    path: str
    kind: MountKind

    def __str__(self) -> str:
        return f"{self.path}={self.kind.value}"


@dataclass(frozen=True)
class Configuration:
    """The configuration a run tests: runtime, App Service storage on or off, and mounts
    (sorted by path, at most one per path)."""

    runtime: Runtime = Runtime.CODE
    app_service_storage: bool = True
    mounts: tuple[Mount, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "mounts", tuple(sorted(set(self.mounts))))

    @property
    def storage_setting(self) -> str:
        """The value of WEBSITES_ENABLE_APP_SERVICE_STORAGE: ``true`` or ``false``."""
        return "true" if self.app_service_storage else "false"

    @property
    def home_shared(self) -> bool:
        """Whether /home is the app's persistent share, the same on every instance."""
        return self.app_service_storage

    def mount_at(self, path: str) -> Mount | None:
        """The mount at exactly ``path``, or None."""
        return next((mount for mount in self.mounts if mount.path == path), None)

    def facts(self) -> dict[str, str]:
        """The configuration as testcase properties: ``runtime`` (code|container),
        ``app_service_storage`` (on|off) and ``mounts`` (``PATH=KIND`` items joined by ``,``,
        or ``none``)."""
        return {
            "runtime": self.runtime.value,
            "app_service_storage": "on" if self.app_service_storage else "off",
            "mounts": ",".join(str(mount) for mount in self.mounts) or NO_MOUNTS,
        }

    @property
    def label(self) -> str:
        """A short human name: ``code, storage on`` or ``container, storage off, /mnt/s=files``."""
        facts = self.facts()
        parts = [facts["runtime"], f"storage {facts['app_service_storage']}"]
        if self.mounts:
            parts.append(facts["mounts"])
        return ", ".join(parts)


def configuration_key(facts: Mapping[str, str]) -> tuple[str, str, str]:
    """The configuration a testcase's facts name, as a comparable key: (runtime, storage,
    mounts). Evidence written before configurations existed lacks them; it was always code
    with storage on and no mounts, so those are the defaults."""
    default = Configuration().facts()
    runtime, storage, mounts = (facts.get(name) or default[name] for name in FACT_NAMES)
    return runtime, storage, mounts


def configuration_label(facts: Mapping[str, str]) -> str:
    """``configuration_key`` as a short human name, as ``Configuration.label`` writes it."""
    runtime, storage, mounts = configuration_key(facts)
    parts = [runtime, f"storage {storage}"]
    if mounts != NO_MOUNTS:
        parts.append(mounts)
    return ", ".join(parts)
