"""Resource groups of provisioned runs: their tags, and the sweep of expired ones.

Only groups that carry the project's tag (pytest-appservice-fs=probe) and a run tag are ever
judged; of those, a group is due when its expiry tag lies in the past or, when a run id is
given, when it belongs to that run (for a CI cleanup job).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.mgmt.resource.resources import ResourceManagementClient

TAG_PROJECT = "pytest-appservice-fs"
TAG_PROJECT_VALUE = "probe"
TAG_RUN = "pytest-appservice-fs-run"
TAG_CREATOR = "pytest-appservice-fs-creator"
TAG_EXPIRES = "pytest-appservice-fs-expires"
EXPIRY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class GroupVerdict:
    """What the sweep decided about one tagged group, and why."""

    group: str
    delete: bool
    reason: str


def judge(
    tags: dict[str, str], now: dt.datetime, run_id: str | None, *, prefix: bool = False
) -> tuple[bool, str]:
    """Whether a group with ``tags`` is due for deletion now, and the reason.

    With ``run_id`` the group's run decides, expired or not; with ``prefix`` too, every run
    whose id starts with it (the cells of one CI workflow run).
    """
    if tags.get(TAG_PROJECT) != TAG_PROJECT_VALUE or TAG_RUN not in tags:
        return False, "not a group of this project"
    if run_id is not None:
        run = tags[TAG_RUN]
        if run == run_id or (prefix and run.startswith(run_id)):
            return True, f"belongs to run {run}"
        return False, f"belongs to another run ({run})"
    expires_text = tags.get(TAG_EXPIRES, "")
    try:
        expires = dt.datetime.strptime(expires_text, EXPIRY_FORMAT).replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return False, f"no readable expiry tag ({expires_text!r})"
    if expires > now:
        return False, f"expires {expires_text}"
    return True, f"expired {expires_text}"


def resource_client(
    credential: Any, subscription_id: str, **client_options: Any
) -> ResourceManagementClient:
    """The resource groups client; DefaultAzureCredential when no credential is given."""
    if credential is None:
        from azure.identity import DefaultAzureCredential  # noqa: PLC0415 - only when used

        credential = DefaultAzureCredential()
    return ResourceManagementClient(credential, subscription_id, **client_options)


def sweep(
    resources: Any,
    *,
    now: dt.datetime,
    dry_run: bool,
    run_id: str | None = None,
    prefix: bool = False,
    say: Callable[[str], None] = print,
) -> list[GroupVerdict]:
    """Judge every group tagged by the project; start deleting those due, unless dry_run."""
    verdicts = []
    for group in resources.resource_groups.list(filter=f"tagName eq '{TAG_PROJECT}'"):
        delete, reason = judge(dict(group.tags or {}), now, run_id, prefix=prefix)
        verdicts.append(GroupVerdict(group.name, delete, reason))
        if not delete:
            say(f"keep {group.name}: {reason}")
        elif dry_run:
            say(f"would delete {group.name}: {reason}")
        else:
            resources.resource_groups.begin_delete(group.name)
            say(f"delete {group.name}: {reason} (deletion started)")
    return verdicts
