"""Running the live suite under pytest-xdist: every cell of one event on one worker.

Each worker owns an app, and an event fires once per app; so all tests of an event must run
on the same worker, or the event would fire once per worker that got one of its cells. The
scheduler below groups tests by the event in their parameter id (``restart-/home/data``,
``restart``; a latency test's id is its path, and latency tests form a group of their own),
and hands each group to one worker, as xdist's loadscope does with modules. Grouping by id
rather than by xdist_group markers works with every pytest version: xdist's loadgroup marks
groups by rewriting node ids, which newer pytest versions no longer allow.

xdist is imported only by ``event_scheduling``, which only runs when xdist is in use.
"""

from __future__ import annotations

from typing import Any

from pytest_appservice_fs.engine.model import Event

_EVENTS = tuple(event.value for event in Event)


def event_scope(nodeid: str) -> str:
    """The group a test belongs to: its event's, the latency group, or its own node id."""
    if "@" in nodeid.rsplit("]", 1)[-1]:
        return nodeid.rsplit("@", 1)[-1]  # an xdist_group suffix, where xdist could add one
    if not nodeid.endswith("]") or "[" not in nodeid:
        return nodeid
    param = nodeid[nodeid.rindex("[") + 1 : -1]
    if param.startswith("/"):
        return "appservice-latency"
    if param.startswith("lock-"):
        return "appservice-H4"  # both lock modes on one worker: one scale-out, not two
    for event in _EVENTS:
        if param == event or param.startswith(f"{event}-"):
            return f"appservice-{event}"
    return nodeid


def event_scheduling(config: Any, log: Any) -> Any:
    """An xdist scheduler that sends each event's group to one worker."""
    from xdist.scheduler import LoadScopeScheduling  # noqa: PLC0415 - only under xdist

    class EventScheduling(LoadScopeScheduling):  # type: ignore[misc]
        """xdist's loadscope, with the event as the scope."""

        def _split_scope(self, nodeid: str) -> str:
            return event_scope(nodeid)

    return EventScheduling(config, log)
