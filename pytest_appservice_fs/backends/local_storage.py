"""Where the local emulator keeps an app's files, for each configuration under test.

The named volumes of an app, and where each container mounts them:

- App Service storage on: the app's /home volume is mounted at /home on every instance (and
  on the deployer, which unpacks code runtime packages into /home/site/wwwroot). It is
  mounted without copying the image's /home into it (``no_copy``): Docker would fill an empty
  named volume from the image, while App Service mounts its share over /home and so hides
  whatever the image had there.
- App Service storage off: /home is the image's own folder in each container's writable
  layer. A code runtime app still has the volume, for the deployed code only: the deployer
  unpacks into it and instances mount it read-only at ``DEPLOYED_CODE_MOUNT``. A container
  runtime app has no /home volume at all (its code is in the image).
- Each Azure Storage mount is one more volume of the app, shared by every instance, mounted
  at its path without copying, read-only for a Blob mount (App Service mounts Blob
  containers read-only: learn.microsoft.com/azure/app-service/configure-connect-to-azure-storage).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

from docker.types import Mount as DockerMount

from pytest_appservice_fs.engine.configuration import Configuration, Mount, Runtime

HOME = "/home"
#: Where the deployed code is reachable (read-only) when /home is not App Service storage.
DEPLOYED_CODE_MOUNT = "/opt/appservice-deployed"
#: Where a code runtime package is unpacked, relative to the app's /home volume.
WWWROOT = "site/wwwroot"


@dataclass(frozen=True)
class AppVolume:
    """One named volume of the app: its Docker name, its role label (``home`` or ``mount``)
    and, for a mount's volume, the mount's path (else an empty string)."""

    name: str
    role: str
    mount_path: str = ""

    @property
    def labels(self) -> dict[str, str]:
        """Its labels beyond the app's (unprefixed): ``mount`` names a mount's path."""
        return {"mount": self.mount_path} if self.mount_path else {}


@dataclass(frozen=True)
class AppStorage:
    """The volumes of the app named by ``prefix`` (``appservice-fs-<run>-<app>``, lowercase)
    under ``configuration``, and the Docker mounts of its containers."""

    prefix: str
    configuration: Configuration

    @property
    def home_volume(self) -> str | None:
        """The /home volume's name; None for a container runtime app with storage off."""
        storage_off = not self.configuration.app_service_storage
        if storage_off and self.configuration.runtime is Runtime.CONTAINER:
            return None
        return f"{self.prefix}-home"

    def mount_volume(self, mount: Mount) -> AppVolume:
        """The volume that stands for ``mount``, named by a hash of its path (a path's
        characters need not be valid in a volume name)."""
        digest = hashlib.sha256(mount.path.encode()).hexdigest()[:12]
        return AppVolume(f"{self.prefix}-mount-{digest}", "mount", mount.path)

    def volumes(self) -> list[AppVolume]:
        """Every volume the app needs, /home's first."""
        home = [AppVolume(self.home_volume, "home")] if self.home_volume else []
        return home + [self.mount_volume(mount) for mount in self.configuration.mounts]

    def with_mount(self, mount: Mount) -> AppStorage:
        """This storage with ``mount`` added to the configuration."""
        mounts = (*self.configuration.mounts, mount)
        return replace(self, configuration=replace(self.configuration, mounts=mounts))

    @property
    def code_dir(self) -> str:
        """Where an instance finds the deployed code of a code runtime app."""
        root = HOME if self.configuration.app_service_storage else DEPLOYED_CODE_MOUNT
        return f"{root}/{WWWROOT}"

    def instance_mounts(self) -> list[DockerMount]:
        """The mounts of one instance's container."""
        mounts = [
            _volume(self.mount_volume(mount).name, mount.path, read_only=mount.kind.read_only)
            for mount in self.configuration.mounts
        ]
        if self.home_volume is None:
            return mounts
        if self.configuration.app_service_storage:
            return [_volume(self.home_volume, HOME, read_only=False), *mounts]
        return [_volume(self.home_volume, DEPLOYED_CODE_MOUNT, read_only=True), *mounts]

    def deployer_mounts(self) -> list[DockerMount]:
        """The mounts of the container that unpacks a code runtime package into /home."""
        if self.home_volume is None:
            return []
        return [_volume(self.home_volume, HOME, read_only=False)]


def _volume(name: str, target: str, *, read_only: bool) -> DockerMount:
    # no_copy: an empty volume stays empty, as a share mounted over the image's folder.
    return DockerMount(target=target, source=name, type="volume", read_only=read_only, no_copy=True)
