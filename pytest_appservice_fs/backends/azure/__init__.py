"""The Azure backend: the only place the Azure SDK is imported.

`backend.py` drives an App Service app through ARM, `lifecycle.py` provisions or attaches
it and puts things back at teardown, `sites.py` and `plans.py` read and write the app's
configuration and its plan, `kudu.py` deploys through Kudu OneDeploy, and `groups.py` knows
the tags of provisioned resource groups and sweeps the expired ones.
"""

from __future__ import annotations

from pytest_appservice_fs.backends.azure.backend import AZURE_TIMING, AzureBackend, AzureTarget

__all__ = ["AZURE_TIMING", "AzureBackend", "AzureTarget"]
