"""Backends: one module per place an app can run, all satisfying ``Backend``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_appservice_fs.backends.protocol import Backend, BackendError, BackendTiming

if TYPE_CHECKING:
    from pathlib import Path

    from pytest_appservice_fs.config import Settings


def create_backend(settings: Settings, workdir: Path) -> Backend:
    """The backend the settings name; its SDK is imported only when chosen."""
    if settings.backend == "fake":
        # Imported on demand: each backend pulls in only its own dependencies.
        from pytest_appservice_fs.backends.fake import FakeBackend, FakeFaults  # noqa: PLC0415

        return FakeBackend(
            workdir,
            app_name=settings.app_name or f"fake-{settings.run_id}".lower()[:59],
            app_settings=settings.app_settings,
            faults=FakeFaults.from_names(settings.fake_faults),
            # --region/--sku label a fake run, so reports can tell runs apart.
            labels={k: v for k, v in (("region", settings.region), ("sku", settings.sku)) if v},
        )
    raise BackendError(f"the {settings.backend} backend is not available in this version.")


__all__ = ["Backend", "BackendError", "BackendTiming", "create_backend"]
