"""Values as JUnit property text: numbers written and read back exactly, and the one error
of properties no record can be read from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


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
