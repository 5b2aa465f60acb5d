"""Values as JUnit property text: numbers written and read back exactly, and the one error
of properties no record can be read from."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

T = TypeVar("T")

#: The most entries (instances, sizes, writers) a record reads; JUnit files come from other
#: CI jobs, and a count is a loop bound.
MAX_ENTRIES = 1000


class RecordError(ValueError):
    """Properties no record can be read from. The message says what is wrong as the end of a
    sentence about the testcase: ``lacks the properties path, observed`` or ``has malformed
    properties``."""


def kept(value: float | None, places: int) -> float | None:
    """``value`` as it reads back once written with ``places`` decimals."""
    return None if value is None else float(f"{value:.{places}f}")


def write_float(value: float | None, places: int) -> str | None:
    """``value`` with ``places`` decimals, or None."""
    return None if value is None else f"{value:.{places}f}"


def read_int(text: str) -> int:
    """An ASCII decimal integer; RecordError otherwise."""
    if not text.isascii():
        raise RecordError("has malformed properties")
    try:
        return int(text)
    except ValueError:
        raise RecordError("has malformed properties") from None


def read_count(props: Mapping[str, str], name: str, entry: Callable[[int], Sequence[str]]) -> int:
    """The count in property ``name`` (0 when absent) of the entries 1 to count, where
    ``entry(index)`` names the properties of one entry and each entry carries one at least;
    RecordError when the count is no number, is not 0 to MAX_ENTRIES, or is more than the
    entries there."""
    count = read_int(props.get(name, "0"))
    shown = f"{name} {count}" if len(str(count)) <= 20 else f"{name} {str(count)[:20]}..."
    if not 0 <= count <= MAX_ENTRIES:
        raise RecordError(f"has {shown}, but a count is 0 to {MAX_ENTRIES}")
    for index in range(1, count + 1):
        names = entry(index)
        if not any(n in props for n in names):
            raise RecordError(
                f"has {shown} but lacks {names[0]} and every other property of entry {index}: "
                "a count is at most the entries there"
            )
    return count


def read_float(text: str) -> float:
    """An ASCII decimal number; RecordError otherwise."""
    if not text.isascii():
        raise RecordError("has malformed properties")
    try:
        return float(text)
    except ValueError:
        raise RecordError("has malformed properties") from None


def write_bool(value: bool | None) -> str | None:
    """``true`` or ``false``, or None."""
    return None if value is None else str(value).lower()


def read_bool(text: str) -> bool:
    """``true`` or ``false``; RecordError otherwise."""
    if text not in ("true", "false"):
        raise RecordError("has malformed properties")
    return text == "true"


def required(props: Mapping[str, str], name: str, parse: Callable[[str], T]) -> T:
    """A property that must be there, parsed; RecordError when it is missing or malformed."""
    if name not in props:
        raise RecordError("has malformed properties")
    return parse(props[name])


def optional(props: Mapping[str, str], name: str, parse: Callable[[str], T]) -> T | None:
    """A property that may be absent (None), parsed; RecordError when malformed."""
    return parse(props[name]) if name in props else None


def blank_or(props: Mapping[str, str], name: str, parse: Callable[[str], T]) -> T | None:
    """A property written empty when unknown (None), parsed; RecordError when malformed."""
    text = props.get(name, "")
    return parse(text) if text else None


def blank(value: float | None) -> str:
    """A count or a time as written: '' when unknown, else as Python prints it (exact)."""
    return "" if value is None else str(value)
