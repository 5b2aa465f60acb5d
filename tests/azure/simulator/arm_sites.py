"""ARM's Microsoft.Web sites: the app as a resource, its configuration, settings and lifecycle.

Answers for ``.../providers/Microsoft.Web/sites/{name}``: GET, PUT as a long-running operation,
DELETE, ``config/web`` GET/PATCH/PUT, app settings list and replace, restart, stop, start and
instances. Follows the Microsoft.Web REST spec (Azure/azure-rest-api-specs,
``specification/web/resource-manager/Microsoft.Web/AppService/stable/2025-05-01``, WebApps).

Modelling choices worth knowing when a test fails:

- GET site returns a sparse ``siteConfig`` (``appCommandLine`` and ``appSettings`` null), as
  ARM does; the full configuration is at ``config/web``. A site's ``reserved`` is its plan's.
- A restart restarts every probe process. ``softRestart=true`` "applies the configuration
  settings and restarts the app only if necessary" (WebApps_Restart's softRestart parameter):
  by default nothing is pending, so it restarts nothing (same processes, same start times);
  with ``soft_restart_restarts`` true it restarts them too (the fake counts ``restart_soft``).
- ``GET .../instances`` reports each instance's ``properties.state`` (SiteRuntimeState: READY,
  STOPPED, UNKNOWN); READY unless a test set another with ``set_instance_state``.
- Changing app settings (settings PUT, or a site PUT that carries them) recreates every
  container on the same instances, as on Linux a container's environment is fixed when it
  starts; changing site config restarts the processes.
- A site PUT with ``identity.type`` SystemAssigned gives the site a principal (``principalId``,
  ``tenantId``), as ManagedServiceIdentity in the spec.
- ``config/azurestorageaccounts`` (WebApps_UpdateAzureStorageAccounts, a PUT of the whole
  dictionary of AzureStorageInfoValue; WebApps_ListAzureStorageAccounts, a POST to ``/list``):
  each entry must name an existing account, its key, and a share (AzureFiles; an NFS share for
  protocol Nfs, and then an account without secure transfer) or a container (AzureBlob). A
  change recreates the containers: adding, changing or removing a mount restarts the app
  (configure-connect-to-azure-storage).
- ``linuxFxVersion=DOCKER|<image>`` runs the image (``arm_registry.pullable``) on new
  containers; an image the site may not pull leaves it serving nothing of ours (404).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

import requests

from tests.azure.simulator.arm import (
    RESOURCE_GROUP,
    accepted,
    arm_error,
    arm_routes,
    find_in_group,
    group_not_found,
    json_body,
    reply_with,
    web_error,
)
from tests.azure.simulator.arm_registry import pullable
from tests.azure.simulator.containers import site_configuration, site_image
from tests.azure.simulator.state import (
    AppServiceState,
    Reply,
    RestartRecord,
    Route,
    SimulatedGroup,
    SimulatedPlan,
    SimulatedSite,
    json_reply,
    now,
    request_query,
)

_SITE = RESOURCE_GROUP + r"/providers/Microsoft\.Web/sites/(?P<site>[^/?#]+)"
_FARM_ID = re.compile(
    r"^/subscriptions/[^/]+/resourceGroups/(?P<rg>[^/]+)/providers/Microsoft\.Web/serverfarms/"
    r"(?P<plan>[^/]+)$",
    re.IGNORECASE,
)
#: What config/web holds on a new Linux app, before anything is set.
_CONFIG_DEFAULTS: dict[str, Any] = {
    "numberOfWorkers": 1,
    "defaultDocuments": ["Default.htm", "Default.html", "index.html", "hostingstart.html"],
    "netFrameworkVersion": "v4.0",
    "phpVersion": "",
    "pythonVersion": "",
    "nodeVersion": "",
    "powerShellVersion": "",
    "linuxFxVersion": "",
    "windowsFxVersion": None,
    "requestTracingEnabled": False,
    "remoteDebuggingEnabled": False,
    "httpLoggingEnabled": False,
    "acrUseManagedIdentityCreds": False,
    "logsDirectorySizeLimit": 35,
    "detailedErrorLoggingEnabled": False,
    "scmType": "None",
    "use32BitWorkerProcess": True,
    "webSocketsEnabled": False,
    "alwaysOn": False,
    "appCommandLine": "",
    "managedPipelineMode": "Integrated",
    "virtualApplications": [
        {"virtualPath": "/", "physicalPath": "site\\wwwroot", "preloadEnabled": False}
    ],
    "loadBalancing": "LeastRequests",
    "autoHealEnabled": False,
    "vnetRouteAllEnabled": False,
    "http20Enabled": False,
    "minTlsVersion": "1.2",
    "scmMinTlsVersion": "1.2",
    "ftpsState": "FtpsOnly",
    "healthCheckPath": None,
    "functionAppScaleLimit": 0,
    "minimumElasticInstanceCount": 0,
    "azureStorageAccounts": {},
}
#: The only siteConfig values that GET site fills in; the rest is read from config/web.
_SITE_CONFIG_SUMMARY = (
    "numberOfWorkers",
    "linuxFxVersion",
    "windowsFxVersion",
    "acrUseManagedIdentityCreds",
    "alwaysOn",
    "http20Enabled",
    "functionAppScaleLimit",
    "minimumElasticInstanceCount",
)


class ArmSites:
    """The Microsoft.Web/sites routes, answering from and changing the shared state."""

    def __init__(self, state: AppServiceState) -> None:
        self.state = state

    def routes(self) -> list[Route]:
        """The site URLs and their handlers."""
        return arm_routes(
            self.state,
            [
                ("GET", _SITE, self._get_site),
                ("PUT", _SITE, self._put_site),
                ("DELETE", _SITE, self._delete_site),
                ("GET", _SITE + "/config/web", self._get_config),
                ("PATCH", _SITE + "/config/web", self._update_config),
                ("PUT", _SITE + "/config/web", self._update_config),
                ("POST", _SITE + "/config/appsettings/list", self._list_settings),
                ("PUT", _SITE + "/config/appsettings", self._put_settings),
                ("POST", _SITE + "/restart", self._restart),
                ("POST", _SITE + "/stop", self._stop),
                ("POST", _SITE + "/start", self._start),
                ("GET", _SITE + "/instances", self._instances),
                ("PUT", _SITE + "/config/azurestorageaccounts", self._put_mounts),
                ("POST", _SITE + "/config/azurestorageaccounts/list", self._list_mounts),
            ],
        )

    # --- sites ------------------------------------------------------------------------

    def _find_site(self, match: re.Match[str]) -> SimulatedSite | Reply:
        return find_in_group(self.state, match, self.state.sites, "site", "Microsoft.Web/sites")

    def _get_site(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        return reply_with(self._find_site(match), self._site_json)

    def _put_site(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        rg, name = match["rg"], match["site"]
        group = self.state.groups.get(rg.lower())
        if group is None:
            return group_not_found(rg)
        body = json_body(request)
        if not isinstance(body, dict):
            return body
        existing = self.state.sites.get(name.lower())
        if existing is not None and existing.resource_group.lower() != rg.lower():
            return web_error(409, "Conflict", f"Website with given name {name} already exists.")
        if not body.get("location"):
            return arm_error(400, "LocationRequired", "The location property is required.")
        properties = body.get("properties") or {}
        farm_id = properties.get("serverFarmId") or (existing and self.state.plan_id(existing.plan))
        farm = _FARM_ID.match(farm_id or "")
        plan = farm and self.state.plans.get((farm["rg"].lower(), farm["plan"].lower()))
        if not plan:
            plan_name = farm["plan"] if farm else farm_id
            return web_error(404, "NotFound", f"Cannot find ServerFarm with name {plan_name}.")

        def result() -> dict[str, Any]:
            return self._site_json(self.state.sites[name.lower()])

        return accepted(
            self.state, request, lambda: self._apply_site(group, name, body, plan), result
        )

    def _apply_site(
        self, group: SimulatedGroup, name: str, body: dict[str, Any], plan: SimulatedPlan
    ) -> None:
        properties = body.get("properties") or {}
        config = dict(properties.get("siteConfig") or {})
        pairs = config.pop("appSettings", None)
        settings = None if pairs is None else {p["name"]: p["value"] for p in pairs}
        site = self.state.sites.get(name.lower())
        if site is None:
            site = self.state.create_site(
                group=group,
                name=name,
                location=body["location"],
                kind=body.get("kind") or "app",
                plan=plan,
                tags=dict(body.get("tags") or {}),
                site_config={k: v for k, v in config.items() if v is not None},
                app_settings=settings or {},
                client_affinity=properties.get("clientAffinityEnabled", True),
                https_only=properties.get("httpsOnly", False),
                auto_host_name=bool(properties.get("autoGeneratedDomainNameLabelScope")),
            )
            if (body.get("identity") or {}).get("type") == "SystemAssigned":
                site.principal_id = str(uuid.uuid4())
            self.apply_runtime(site)
            return
        site.tags = dict(body.get("tags") or {})
        site.kind = body.get("kind") or site.kind
        site.client_affinity = properties.get("clientAffinityEnabled", site.client_affinity)
        site.https_only = properties.get("httpsOnly", site.https_only)
        site.plan = plan
        self.state.match_capacity(site)
        image = site_image(site.site_config)
        changed = self._merge_config(site, config)
        if settings is not None and settings != site.app_settings:
            self._set_settings(site, settings)
        elif site_image(site.site_config) != image:
            self.apply_runtime(site)
        elif changed:
            self.state.restart_processes(site)

    def _delete_site(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        self.state.remove_site(site)
        return 200, [], b""

    def _site_json(self, site: SimulatedSite) -> dict[str, Any]:
        config = self._full_config(site)
        summary = {key: config[key] for key in _SITE_CONFIG_SUMMARY}
        summary.update(appCommandLine=None, appSettings=None)
        identity = None
        if site.principal_id is not None:
            tenant = "00000000-0000-0000-0000-00000000000a"
            identity = {
                "type": "SystemAssigned",
                "principalId": site.principal_id,
                "tenantId": tenant,
            }
        return {
            "identity": identity,
            "id": self.state.site_id(site),
            "name": site.name,
            "type": "Microsoft.Web/sites",
            "kind": site.kind,
            "location": site.location,
            "tags": dict(site.tags),
            "properties": {
                "state": site.state,
                "hostNames": [site.default_host_name],
                "repositorySiteName": site.name,
                "usageState": "Normal",
                "enabled": True,
                "enabledHostNames": [site.default_host_name, site.scm_host_name],
                "availabilityState": "Normal",
                "hostNameSslStates": [
                    {"name": host, "sslState": "Disabled", "hostType": host_type}
                    for host, host_type in (
                        (site.default_host_name, "Standard"),
                        (site.scm_host_name, "Repository"),
                    )
                ],
                "serverFarmId": self.state.plan_id(site.plan),
                "reserved": site.plan.reserved,
                "isXenon": False,
                "hyperV": False,
                "lastModifiedTimeUtc": now(),
                "siteConfig": summary,
                "scmSiteAlsoStopped": False,
                "clientAffinityEnabled": site.client_affinity,
                "clientCertEnabled": False,
                "clientCertMode": "Required",
                "hostNamesDisabled": False,
                "outboundIpAddresses": "20.200.0.1,20.200.0.2",
                "possibleOutboundIpAddresses": "20.200.0.1,20.200.0.2,20.200.0.3",
                "containerSize": 0,
                "dailyMemoryTimeQuota": 0,
                "resourceGroup": site.resource_group,
                "defaultHostName": site.default_host_name,
                "httpsOnly": site.https_only,
                "redundancyMode": "None",
                "publicNetworkAccess": "Enabled",
                "storageAccountRequired": False,
                "keyVaultReferenceIdentity": "SystemAssigned",
            },
        }

    # --- site configuration and settings ----------------------------------------------

    def _full_config(self, site: SimulatedSite) -> dict[str, Any]:
        return {**_CONFIG_DEFAULTS, **site.site_config, "numberOfWorkers": site.plan.capacity}

    def _config_resource(
        self, site: SimulatedSite, config: str, name: str, properties: dict[str, Any]
    ) -> dict[str, Any]:
        """The site's ``config/<config>`` resource, called ``name``, holding ``properties``."""
        return {
            "id": f"{self.state.site_id(site)}/config/{config}",
            "name": name,
            "type": "Microsoft.Web/sites/config",
            "location": site.location,
            "properties": properties,
        }

    def _config_json(self, site: SimulatedSite) -> dict[str, Any]:
        return self._config_resource(site, "web", site.name, self._full_config(site))

    def _get_config(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        return reply_with(self._find_site(match), self._config_json)

    def _update_config(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        body = json_body(request)
        if not isinstance(body, dict):
            return body
        config = dict(body.get("properties") or {})
        config.pop("appSettings", None)  # settings have their own resource
        image = site_image(site.site_config)
        if self._merge_config(site, config):
            if site_image(site.site_config) != image:
                self.apply_runtime(site)  # a new image: new containers
            else:
                self.state.restart_processes(site)
        return json_reply(200, self._config_json(site))

    # --- the runtime and mounts -------------------------------------------------------

    def apply_runtime(self, site: SimulatedSite) -> None:
        """Run the site under the configuration its stack, settings and mounts give, on new
        containers: its image's build context if it may pull it (else nothing of ours serves),
        each mount on its share's or container's folder."""
        image = site_image(site.site_config)
        context = pullable(self.state, site, image) if image else None
        if image is not None:
            site.deployed = context is not None
        folders = {}
        for entry in site.storage_mounts.values():
            account = self.state.storage_accounts[entry["accountName"].lower()]
            folders[entry["mountPath"]] = account.folder(self.state.root, entry["shareName"])
        configuration = site_configuration(
            site.site_config, site.app_settings, site.storage_mounts.values()
        )
        site.backend.reconfigure(configuration, image=context, mount_folders=folders)

    def _mounts_json(self, site: SimulatedSite) -> dict[str, Any]:
        entries = {name: {**entry, "state": "Ok"} for name, entry in site.storage_mounts.items()}
        return self._config_resource(site, "azurestorageaccounts", "azurestorageaccounts", entries)

    def _list_mounts(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        return reply_with(self._find_site(match), self._mounts_json)

    def _put_mounts(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        body = json_body(request)
        if not isinstance(body, dict):
            return body
        entries = dict(body.get("properties") or {})
        for name, entry in entries.items():
            problem = self._mount_problem(entry)
            if problem is not None:
                return web_error(400, "BadRequest", f"Azure storage account {name}: {problem}.")
        fields = ("type", "accountName", "shareName", "accessKey", "mountPath", "protocol")
        site.storage_mounts = {
            name: {key: entry.get(key) for key in fields} for name, entry in entries.items()
        }
        self.apply_runtime(site)
        return json_reply(200, self._mounts_json(site))

    def _mount_problem(self, entry: Mapping[str, Any]) -> str | None:
        account = self.state.storage_accounts.get(str(entry.get("accountName", "")).lower())
        if account is None:
            return f"no storage account {entry.get('accountName')}"
        if entry.get("accessKey") != account.key:
            return "the access key is not the account's"
        share, protocol = entry.get("shareName"), str(entry.get("protocol") or "Smb")
        if not str(entry.get("mountPath", "")).startswith("/"):
            return "mountPath must be an absolute path"
        if entry.get("type") == "AzureBlob":
            return None if share in account.containers else f"no blob container {share}"
        if entry.get("type") != "AzureFiles" or share not in account.shares:
            return f"no file share {share}"
        if (protocol.lower() == "nfs") != account.shares[share]:
            return f"share {share} is not served over {protocol}"
        if protocol.lower() == "nfs" and account.https_only:
            return "an NFS share needs secure transfer off on its account"
        return None

    def _merge_config(self, site: SimulatedSite, config: Mapping[str, Any]) -> bool:
        """Merge the non-null values; True when anything changed."""
        before = self._full_config(site)
        site.site_config.update({k: v for k, v in config.items() if v is not None})
        return self._full_config(site) != before

    def _settings_json(self, site: SimulatedSite) -> dict[str, Any]:
        return self._config_resource(site, "appsettings", "appsettings", dict(site.app_settings))

    def _list_settings(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        return reply_with(self._find_site(match), self._settings_json)

    def _put_settings(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        body = json_body(request)
        if not isinstance(body, dict):
            return body
        settings = body.get("properties") or {}
        if not all(isinstance(v, str) for v in settings.values()):
            return web_error(400, "BadRequest", "App setting values must be strings.")
        if settings != site.app_settings:
            self._set_settings(site, dict(settings))
        return json_reply(200, self._settings_json(site))

    def _set_settings(self, site: SimulatedSite, settings: dict[str, str]) -> None:
        # The real API replaces every setting; on Linux the new environment (App Service
        # storage among it) needs new containers, once per update as on Azure.
        site.app_settings = settings
        site.backend.app_settings = dict(settings)
        self.apply_runtime(site)

    # --- lifecycle --------------------------------------------------------------------

    def _restart(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        query = request_query(request)
        record = RestartRecord(site.name, query)
        self.state.restarts.append(record)
        # softRestart=true restarts "only if necessary": soft_restart_restarts says if it is.
        if not record.soft or self.state.soft_restart_restarts:
            self.state.restart_processes(site, soft=record.soft)
        return 200, [], b""

    def _stop(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        site.backend.stop()
        site.state = "Stopped"
        return 200, [], b""

    def _start(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        site.backend.start()
        site.state = "Running"
        return 200, [], b""

    def _instances(self, request: requests.PreparedRequest, match: re.Match[str]) -> Reply:
        site = self._find_site(match)
        if isinstance(site, tuple):
            return site
        scm = f"https://{site.scm_host_name}"
        value = [
            {
                "id": f"{self.state.site_id(site)}/instances/{instance_id}",
                "name": instance_id,
                "type": "Microsoft.Web/sites/instances",
                "location": site.location,
                "properties": {
                    "state": self.state.instance_states.get(instance_id, "READY"),
                    "statusUrl": f"{scm}/api/instances/{instance_id}/status",
                    "detectorUrl": f"{scm}/api/instances/{instance_id}/detectors",
                    "consoleUrl": f"{scm}/api/instances/{instance_id}/console",
                },
            }
            for instance_id in site.backend.instances()
        ]
        return json_reply(200, {"value": value, "nextLink": None})
