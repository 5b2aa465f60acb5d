"""Print the ARM calls the Azure backend makes for one configuration, against the simulator.

Runs offline (the simulator answers every request; nothing else is reachable): provisions the
app, deploys the probe, fires a deploy and tears down, then prints each ARM call in order as
``METHOD path`` (names as {placeholders}, reads and long-running-operation polls left out).

    python scripts/azure-calls.py container-on
    python scripts/azure-calls.py --all
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import responses

from pytest_appservice_fs.engine.model import Event
from tests.azure.conftest import FakeCredential
from tests.azure.simulator import AzureSimulator
from tests.azure.test_configurations_azure import (
    CONFIGURATIONS,
    arm_calls,
    controller_for,
)


def calls_of(name: str) -> list[str]:
    """The ARM calls of configuration ``name``: provision, first deploy, a deploy, teardown."""
    from pytest_appservice_fs.backends.azure import AzureBackend, AzureTarget  # noqa: PLC0415
    from tests.azure.test_configurations_azure import (  # noqa: PLC0415
        APP,
        BUILD,
        CLIENT,
        GROUP,
        KUDU,
        SUBSCRIPTION,
        TIMING,
        paths_of,
    )

    configuration = CONFIGURATIONS[name]
    with tempfile.TemporaryDirectory() as root:
        simulator = AzureSimulator(Path(root))
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            simulator.install(mock)
            backend = AzureBackend(
                AzureTarget(SUBSCRIPTION, APP, GROUP, provision=True, region="koreacentral"),
                run_id="azure-calls",
                app_settings={"PROBE_PATHS": ",".join(paths_of(configuration))},
                credential=FakeCredential(),
                client_options=CLIENT,
                timing=TIMING,
                kudu_timing=KUDU,
                configuration=configuration,
                build_timing=BUILD,
            )
            try:
                controller = controller_for(backend)
                controller.start()
                controller.observe(Event.DEPLOY)
            finally:
                backend.teardown()
                simulator.teardown()
        return arm_calls(simulator)


def main() -> int:
    """Print the calls of the configuration named (or of every one)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("configuration", nargs="?", choices=sorted(CONFIGURATIONS))
    parser.add_argument("--all", action="store_true", help="every configuration, one after another")
    args = parser.parse_args()
    names = sorted(CONFIGURATIONS) if args.all or not args.configuration else [args.configuration]
    for name in names:
        print(f"# {name}: {CONFIGURATIONS[name].label}")
        for call in calls_of(name):
            print(call)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
