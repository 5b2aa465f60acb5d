"""An offline simulator of Azure App Service for the Azure backend's tests.

Installed into a ``responses.RequestsMock``, it answers what the real ``azure-mgmt-web`` and
``azure-mgmt-resource`` clients (whose azure-core transport is ``requests``) and plain
``requests`` send, so the backend's tests run the real SDK code and open no socket.

Simulated, with Microsoft.Web / Microsoft.Resources REST shapes, one module per part:

- ARM (``https://management.azure.com``; a Bearer token and ``api-version`` are required):
  ``arm`` (resource groups, long-running operations and their polling, ARM's errors),
  ``arm_sites`` (Microsoft.Web sites, their config, settings, mounts, restart, stop, start,
  instances), ``arm_plans`` (App Service plans: SKU, scale, ``restartSites``),
  ``arm_registry`` (container registries, ACR Tasks builds, role assignments) and
  ``arm_storage`` (storage accounts, file shares, blob containers).
- Kudu on the site's SCM host: ``kudu`` (OneDeploy and deployment status).
- The app's front end on its default host: ``frontend``; each site is a ``FakeBackend``
  (``containers``) running what Kudu deployed or the image its stack names, under the
  configuration its settings and mounts give, and ARRAffinity cookies pick the instance.
- ``state`` holds what all of them read and change; ``app_service`` wires them to
  ``responses`` and is what a test holds (``AzureSimulator``): seeding, faults, inspection.

Each module's docstring says which public source it follows and the modelling choices worth
knowing when a test fails.

Not simulated: other ARM resources and operations (they fail as unmatched requests with
``requests.ConnectionError``), slots, managed identity tokens (a site only gets a principal
id), the ARM provider registration dance, paging beyond one page, HTTP on ARM and Kudu, Oryx
builds, Kudu basic auth, DNS (an unknown app host raises ``requests.ConnectionError``).
"""

from tests.azure.simulator.app_service import AzureSimulator
from tests.azure.simulator.state import (
    KUDU_SCOPE,
    RESOURCES_API_VERSION,
    SCOPE_MARK,
    WEB_API_VERSION,
    SimulatedSite,
)
from tests.azure.simulator.timing import REALISTIC_SECONDS, PlatformTiming

__all__ = [
    "KUDU_SCOPE",
    "REALISTIC_SECONDS",
    "RESOURCES_API_VERSION",
    "SCOPE_MARK",
    "WEB_API_VERSION",
    "AzureSimulator",
    "PlatformTiming",
    "SimulatedSite",
]
