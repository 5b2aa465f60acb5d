"""Delete resource groups that provisioned runs left behind, once they have expired.

    appservice-fs sweep --subscription-id SUB [--dry-run]
        [--run-id ID | --run-prefix PREFIX]

Only groups that carry the project's tags are judged: those whose expiry lies in the past are
deleted, or with --run-id that run's groups, expired or not, or with --run-prefix the groups
of every run whose id starts with PREFIX (the cells of one CI workflow run). Exit
status 0 when every deletion due was started, 1 when Azure refused, 2 for bad input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from collections.abc import Sequence
from typing import Any

from pytest_appservice_fs.config import RUN_ID_PATTERN, SUBSCRIPTION_PATTERN


def main(
    argv: Sequence[str] | None = None,
    *,
    credential: Any = None,
    prog: str = "python -m pytest_appservice_fs.reports.sweep",
    **client_options: Any,
) -> int:
    """The command line; ``credential`` and ``client_options`` let tests inject mocks."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Delete expired resource groups left by provisioned runs.",
    )
    parser.add_argument(
        "--subscription-id",
        default=os.environ.get("AZURE_SUBSCRIPTION_ID"),
        help="the subscription (default: AZURE_SUBSCRIPTION_ID)",
    )
    parser.add_argument("--dry-run", action="store_true", help="say what would go; delete nothing")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run-id", help="delete this run's groups, expired or not")
    which.add_argument(
        "--run-prefix", help="delete the groups of every run whose id starts with this"
    )
    args = parser.parse_args(argv)
    if not args.subscription_id or not SUBSCRIPTION_PATTERN.match(args.subscription_id):
        parser.error("--subscription-id (or AZURE_SUBSCRIPTION_ID) must be a subscription GUID")
    for flag, value in (("--run-id", args.run_id), ("--run-prefix", args.run_prefix)):
        if value is not None and not RUN_ID_PATTERN.match(value):
            parser.error(f"{flag} must be 1 to 40 of A-Z a-z 0-9 _ -")
    try:
        from azure.core.exceptions import AzureError  # noqa: PLC0415 - the azure extra

        from pytest_appservice_fs.backends.azure.groups import resource_client, sweep  # noqa: PLC0415
    except ImportError:
        parser.error("the sweep needs the azure extra: pip install 'pytest-appservice-fs[azure]'")
    try:
        resources = resource_client(credential, args.subscription_id, **client_options)
        sweep(
            resources,
            now=dt.datetime.now(dt.timezone.utc),
            dry_run=args.dry_run,
            run_id=args.run_id or args.run_prefix,
            prefix=args.run_prefix is not None,
        )
    except AzureError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"sweep failed: {first[:300]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
