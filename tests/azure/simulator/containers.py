"""What runs a simulated site: the fake backend (``FakeBackend``), under the configuration that
the site's config and app settings give it.

Answers for no Azure component itself: ``arm_sites`` reconfigures the fake whenever the
site's stack, settings or mounts change, and the front end sends it the app's requests. The
platform facts are cited in ``engine/configuration.py``'s docstring:

- ``linuxFxVersion=DOCKER|<image>``: a custom container, running the image's files (its build
  context, as ``arm_registry`` built it), so the deployment id it reports is the image's
  ``DEPLOYMENT_ID``: a deploy that did not change the image is caught. Any other stack runs
  the code in wwwroot.
- ``WEBSITES_ENABLE_APP_SERVICE_STORAGE=false``: ``/home`` is each container's own, lost when
  the container is recreated, never seen by another instance. Without the setting, storage is
  on here (what Azure defaults to for a custom container is not settled by the sources read).
- Each ``azureStorageAccounts`` entry is a mount whose files are its share's or container's
  folder (``SimulatedStorageAccount.folder``), shared by every site that mounts it. A Blob
  mount is read-only: the fake fails every write under it with EROFS.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_appservice_fs.backends.fake import FakeBackend
from pytest_appservice_fs.engine.configuration import (
    STORAGE_SETTING,
    Configuration,
    Mount,
    MountKind,
    Runtime,
)


def site_backend(
    root: Path, name: str, site_config: Mapping[str, Any], app_settings: Mapping[str, str]
) -> FakeBackend:
    """A new site's fake backend, under the configuration its config and settings give."""
    configuration = site_configuration(site_config, app_settings, ())
    return FakeBackend(root, app_name=name, app_settings=app_settings, configuration=configuration)


def site_image(site_config: Mapping[str, Any]) -> str | None:
    """The image a site's ``linuxFxVersion`` names (``DOCKER|<image>``); None: code."""
    stack = str(site_config.get("linuxFxVersion") or "")
    return stack.split("|", 1)[1] if stack.upper().startswith("DOCKER|") else None


def site_configuration(
    site_config: Mapping[str, Any],
    app_settings: Mapping[str, str],
    storage_mounts: Iterable[Mapping[str, Any]],
) -> Configuration:
    """The configuration a site runs under: a custom container when its stack names an image,
    App Service storage as its setting says (on when absent), and its ``azureStorageAccounts``
    entries (AzureStorageInfoValue as JSON) as mounts."""
    return Configuration(
        runtime=Runtime.CONTAINER if site_image(site_config) else Runtime.CODE,
        app_service_storage=app_settings.get(STORAGE_SETTING, "true").lower() != "false",
        mounts=tuple(Mount(entry["mountPath"], _kind(entry)) for entry in storage_mounts),
    )


def _kind(entry: Mapping[str, Any]) -> MountKind:
    if entry.get("type") == "AzureBlob":
        return MountKind.BLOB
    nfs = str(entry.get("protocol") or "Smb").lower() == "nfs"
    return MountKind.FILES_NFS if nfs else MountKind.FILES
