"""What every backend offers: the same operations, whatever runs the app."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from pytest_appservice_fs.engine.model import Event
from pytest_appservice_fs.engine.probe_client import ProbeTiming

if TYPE_CHECKING:
    from pytest_appservice_fs.engine.probe_client import ProbeClient
    from pytest_appservice_fs.engine.probe_package import ProbePackage


class BackendError(RuntimeError):
    """A backend could not do what it was asked; the message says what and why."""


@dataclass(frozen=True)
class BackendTiming:
    """How long to wait for an event's proof, how often to look, and the probe's patience."""

    ready_timeouts: Mapping[Event, float] = field(default_factory=dict)
    default_ready_timeout: float = 300.0
    poll_interval: float = 2.0
    probe: ProbeTiming = field(default_factory=ProbeTiming)
    #: H5's default file sizes (MiB) on this backend; --throughput-sizes overrides them.
    throughput_sizes: tuple[int, ...] = (1, 16, 128)

    def ready_timeout(self, event: Event) -> float:
        """The backend's default deadline for proof that ``event`` took effect."""
        return self.ready_timeouts.get(event, self.default_ready_timeout)


class Backend(Protocol):
    """An App Service app (real or emulated) that the harness can deploy to and disturb.

    Every operation returns once the platform has accepted it; proving that it took effect
    is the trigger controller's job, through the probe.
    """

    name: str
    timing: BackendTiming

    @property
    def unsupported(self) -> Mapping[Event, str]:
        """Events this backend cannot fire, each with the reason shown when its tests skip."""
        ...

    @property
    def facts(self) -> Mapping[str, str]:
        """Run-level facts for the evidence, such as ``region`` and ``sku``, where known."""
        ...

    def create(self) -> None:
        """Create (or attach to) the app; the probe is not deployed yet."""
        ...

    def deploy(self, package: ProbePackage) -> None:
        """Deploy the probe package to the app's /home/site/wwwroot."""
        ...

    def restart(self, *, soft: bool | None = None) -> None:
        """Restart the app as ``az webapp restart`` does; ``soft=True`` sets softRestart
        (None: the backend's configured default)."""
        ...

    def set_app_setting(self, name: str, value: str) -> None:
        """Change one app setting, keeping the others, as a user does in the portal."""
        ...

    def change_sku(self) -> str:
        """Move the app's plan one size up (B1 -> B2); return what changed, as 'B1 -> B2'."""
        ...

    def restore_sku(self) -> None:
        """Put the plan back on its SKU from before change_sku; nothing when unchanged."""
        ...

    def restart_plan(self) -> None:
        """Restart every app of the app's plan (ARM restartSites)."""
        ...

    def stop(self) -> None:
        """Stop the app."""
        ...

    def start(self) -> None:
        """Start the stopped app."""
        ...

    def scale(self, count: int) -> None:
        """Run the app on ``count`` instances."""
        ...

    def instances(self) -> list[str]:
        """The instance ids serving the app now, oldest first."""
        ...

    def probe(self, instance_id: str | None = None) -> ProbeClient:
        """A probe client, pinned to ``instance_id`` when given."""
        ...

    def kept_resources(self) -> str:
        """For --keep-resources: what was kept and the command that removes it."""
        ...

    def teardown(self) -> None:
        """Remove everything this backend created; safe to call twice and after failures."""
        ...


#: What an object must have to serve as a Backend: its attributes and operations.
BACKEND_MEMBERS = (
    "name",
    "timing",
    "unsupported",
    "facts",
    "create",
    "deploy",
    "restart",
    "set_app_setting",
    "change_sku",
    "restore_sku",
    "restart_plan",
    "stop",
    "start",
    "scale",
    "instances",
    "probe",
    "kept_resources",
    "teardown",
)


def backend_problem(candidate: object) -> str | None:
    """Why ``candidate`` cannot serve as a Backend (the members it lacks), or None."""
    missing = [name for name in BACKEND_MEMBERS if not hasattr(candidate, name)]
    if not missing:
        return None
    return f"a {type(candidate).__name__} lacks {', '.join(missing)}"


class WithoutPlan:
    """For backends that have no App Service plan: the plan-wide events are refused with the
    reason their tests skip with (``unsupported``, which the backend defines)."""

    unsupported: Mapping[Event, str]

    def change_sku(self) -> str:
        """Refused: there is no plan, so no SKU to change."""
        raise BackendError(self.unsupported[Event.SKU_CHANGE] + ".")

    def restore_sku(self) -> None:
        """Nothing to restore: the SKU never changes here."""

    def restart_plan(self) -> None:
        """Refused: there is no plan to restart."""
        raise BackendError(self.unsupported[Event.PLAN_RESTART] + ".")
