"""Backends: one module per place an app can run, all satisfying ``Backend``."""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pytest_appservice_fs.backends.protocol import Backend, BackendError, BackendTiming
from pytest_appservice_fs.engine.configuration import STORAGE_SETTING, Runtime

log = logging.getLogger(__name__)


class PreconditionError(BackendError):
    """What a backend needs is missing, found before anything was created (the plugin stops
    the session with a usage error: every live test would fail the same way)."""


if TYPE_CHECKING:
    from pathlib import Path

    from pytest_appservice_fs.config import Settings


def _labels(settings: Settings) -> dict[str, str]:
    # --region/--sku label an emulated run, so reports can tell runs apart.
    return {k: v for k, v in (("region", settings.region), ("sku", settings.sku)) if v}


def _app_settings(settings: Settings) -> dict[str, str]:
    # The probe allowlists exactly the matrix's paths, --path and --mount ones included; the
    # storage axis of the configuration is an app setting (--app-service-storage).
    return {
        **settings.app_settings,
        "PROBE_PATHS": ",".join(settings.expectations.all_paths),
        STORAGE_SETTING: settings.configuration.storage_setting,
    }


def _app_name(settings: Settings, prefix: str) -> str:
    # Under xdist every worker has an app of its own: the worker id tells them apart.
    suffix = f"-{settings.worker}" if settings.worker else ""
    base = settings.app_name or f"{prefix}-{settings.run_id}".lower().replace("_", "-")
    return (base[: 60 - len(suffix)].rstrip("-") + suffix).lower()


def cleanup_run(settings: Settings) -> None:
    """Remove whatever the run left on a backend that can tell: the local Docker resources of
    every worker of the run (a crashed worker cannot tear down its own)."""
    if settings.backend != "local":
        return
    from pytest_appservice_fs.backends.local import (  # noqa: PLC0415
        docker_client,
        label,
        remove_resources,
    )

    try:
        removed = remove_resources(docker_client(), {label("run"): settings.run_id})
    except BackendError as exc:
        log.warning("could not sweep the run's Docker resources: %s", exc)
        return
    if removed:
        log.warning(
            "removed %d Docker resources that workers of run %s left", removed, settings.run_id
        )


def _require(module: str, extra: str) -> None:
    # Backends are imported on demand, each pulling in only its own SDK; a missing one is
    # named with the extra that brings it.
    try:
        found = importlib.util.find_spec(module)
    except ModuleNotFoundError:  # a parent package is missing too
        found = None
    if found is None:
        raise BackendError(
            f"the {extra} backend needs the {module} package: "
            f"pip install 'pytest-appservice-fs[{extra}]'."
        )


def preflight(settings: Settings) -> None:
    """Check what a backend needs before anything is created; BackendError says what is off."""
    if settings.backend == "azure":
        for module in ("azure.mgmt.web", "azure.mgmt.resource", "azure.identity"):
            _require(module, "azure")
        configuration = settings.configuration
        if configuration.runtime is Runtime.CONTAINER and settings.provision:
            # The probe image is built with ACR Tasks and pulled with AcrPull (registry.py).
            for module in ("azure.mgmt.containerregistry", "azure.mgmt.authorization"):
                _require(module, "azure")
            _require("azure.storage.blob", "azure")
        if configuration.mounts and settings.provision:
            _require("azure.mgmt.storage", "azure")
        from pytest_appservice_fs.backends.azure.plans import (  # noqa: PLC0415
            SUPPORTED_SKUS,
            supported_sku,
        )

        if settings.sku is not None and supported_sku(settings.sku) is None:
            # Before the resource group: ARM would take the group and fail only at the plan.
            raise BackendError(
                f"--sku got {settings.sku!r}; valid SKUs are {', '.join(SUPPORTED_SKUS)} (the "
                "plans whose workers and size the harness can change)."
            )
    if settings.backend == "local":
        _require("docker", "local")
        from pytest_appservice_fs.backends.local import preflight as local_preflight  # noqa: PLC0415

        local_preflight(settings.local_base_image)


def create_backend(
    settings: Settings, workdir: Path, *, azure_options: Mapping[str, Any] | None = None
) -> Backend:
    """The backend the settings name; its SDK is imported only when chosen.

    ``azure_options`` may carry ``credential`` (a TokenCredential), ``client_options``
    (keyword arguments for the SDK clients), ``timing`` and ``kudu_timing``; without a
    credential, DefaultAzureCredential.
    """
    if settings.backend == "azure":
        _require("azure.mgmt.web", "azure")
        from pytest_appservice_fs.backends.azure import AzureBackend, AzureTarget  # noqa: PLC0415

        options = dict(azure_options or {})
        app_name = _app_name(settings, "appservice-fs")
        group = settings.resource_group or app_name
        if settings.provision and settings.worker and settings.resource_group:
            group = f"{settings.resource_group}-{settings.worker}"
        target = AzureTarget(
            subscription_id=settings.subscription_id or "",
            app_name=app_name,
            resource_group=group,
            provision=settings.provision,
            region=settings.region,
            sku=settings.sku or "B1",
            allow_existing_app=settings.allow_existing_app,
            soft_restart=settings.restart_mode == "soft",
            keep=settings.keep_resources,
        )
        backend = AzureBackend(
            target,
            run_id=settings.run_id,
            app_settings=_app_settings(settings),
            credential=options.get("credential"),
            client_options=options.get("client_options"),
            **{key: options[key] for key in ("timing", "kudu_timing") if key in options},
            configuration=settings.configuration,
            image=settings.image,
        )
        try:
            # Before the first live test: without credentials every test would fail alike.
            backend.connect()
        except BackendError as exc:
            raise PreconditionError(str(exc)) from None
        return backend
    if settings.backend == "local":
        _require("docker", "local")
        from pytest_appservice_fs.backends.local import LocalBackend  # noqa: PLC0415

        return LocalBackend(
            app_name=_app_name(settings, "local"),
            run_id=settings.run_id,
            app_settings=_app_settings(settings),
            base_image=settings.local_base_image,
            keep=settings.keep_resources,
            labels=_labels(settings),
            configuration=settings.configuration,
        )
    if settings.backend == "fake":
        from pytest_appservice_fs.backends.fake import FakeBackend, FakeFaults  # noqa: PLC0415

        return FakeBackend(
            workdir,
            app_name=_app_name(settings, "fake"),
            app_settings=_app_settings(settings),
            faults=FakeFaults.from_names(settings.fake_faults),
            labels=_labels(settings),
            configuration=settings.configuration,
        )
    raise BackendError(f"the {settings.backend} backend is not available in this version.")


__all__ = [
    "Backend",
    "BackendError",
    "BackendTiming",
    "PreconditionError",
    "create_backend",
    "preflight",
]
