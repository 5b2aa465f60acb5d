"""How long App Service takes to carry out each operation: a timing profile for the
simulator, so a benchmark can tell the platform's time from the harness's own.

While an operation is being carried out, the app's front end answers 503 (as App Service's
does while an app restarts); ARM and Kudu keep answering. The seconds are the model's, scaled
down by ``scale`` for a benchmark:

- restart about 60 s, stop/start about 90 s, a deploy with a build several minutes, a
  scale-out a few minutes: the figures issue 13 gives from observed runs;
- an app setting change restarts the app (Microsoft's "Configure an App Service app":
  "app settings ... changes ... restart the app"): a restart's 60 s;
- scale-in, SKU change, plan restart and creating the plan and site: assumptions of this
  model, not measured (60, 120, 60 and 60 s);
- a soft restart with nothing pending does nothing (``softRestart``: "restarts the app only
  if necessary"); its cost is the harness's window, not the platform's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

#: Unscaled seconds per operation; see the module docstring for where each comes from.
REALISTIC_SECONDS: Mapping[str, float] = {
    "create": 60.0,
    "deploy": 240.0,
    "restart": 60.0,
    "stop": 30.0,
    "start": 60.0,
    "settings": 60.0,
    "scale": 180.0,
    "sku": 120.0,
    "plan_restart": 60.0,
}

#: (method, URL pattern) -> operation; the first match wins. Scale and SKU changes are both
#: plan updates: the body decides (see ``operation``).
_OPERATIONS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern, re.IGNORECASE), name)
    for method, pattern, name in (
        ("POST", r"/sites/[^/?]+/restart\b", "restart"),
        ("POST", r"/sites/[^/?]+/stop\b", "stop"),
        ("POST", r"/sites/[^/?]+/start\b", "start"),
        ("PUT", r"/sites/[^/?]+/config/appsettings\b", "settings"),
        ("POST", r"/serverfarms/[^/?]+/restartSites\b", "plan_restart"),
        ("PUT", r"/serverfarms/[^/?]+\?", "plan"),
        ("PATCH", r"/serverfarms/[^/?]+\?", "plan"),
        ("PUT", r"/sites/[^/?]+\?", "create"),
        ("POST", r"\.scm\.[^/]+/api/publish\b", "deploy"),
    )
)


@dataclass
class PlatformTiming:
    """The profile in use: seconds per operation (unscaled) times ``scale``; what was spent."""

    seconds: Mapping[str, float] = field(default_factory=lambda: dict(REALISTIC_SECONDS))
    scale: float = 0.0
    #: Each operation carried out, with its scaled seconds, in order.
    spent: list[tuple[str, float]] = field(default_factory=list)
    _busy_until: float = 0.0

    def operation(self, method: str, url: str, *, sku_changed: bool = False) -> str | None:
        """The operation a request starts, or None."""
        for want, pattern, name in _OPERATIONS:
            if want == method and pattern.search(url):
                if name == "plan":
                    return "sku" if sku_changed else "scale"
                return name
        return None

    def begin(self, name: str) -> None:
        """The platform starts ``name``: the app is busy for its scaled seconds."""
        seconds = self.seconds.get(name, 0.0) * self.scale
        if seconds <= 0:
            return
        self.spent.append((name, seconds))
        self._busy_until = max(self._busy_until, time.monotonic()) + seconds

    @property
    def busy(self) -> bool:
        """Whether the platform is still carrying out an operation."""
        return time.monotonic() < self._busy_until
