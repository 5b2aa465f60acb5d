"""The query parameters of the probe's endpoints, checked: a value the probe refuses raises
InvalidParameter, which answers 400 with a sentence naming the parameter and the rule."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flask
from werkzeug.exceptions import BadRequest

from .appends import APPEND_NAME, MAX_CHECK_WRITERS
from .config import INT_PATTERN, clip
from .contract import (
    CHECKSUM_NAME,
    FILE_NAME_MAX,
    FILE_PATTERN,
    MARKER_NAME,
    NONCE_PATTERN,
    PATH_PARAMS_MAX,
    THROUGHPUT_SIZES_MAX,
    WRITER_PATTERN,
)
from .throughput import DEFAULT_THROUGHPUT_SIZES

if TYPE_CHECKING:
    import re
    from collections.abc import Sequence

    from .config import ProbeConfig


class InvalidParameter(BadRequest):
    """A query parameter the probe refuses; its description is the 400 answer."""


def current_config() -> ProbeConfig:
    """The configuration of the app serving this request."""
    config: ProbeConfig = flask.current_app.extensions["probe_config"]
    return config


def _single(name: str) -> str | None:
    values = flask.request.args.getlist(name)
    if len(values) > 1:
        raise InvalidParameter(f"parameter '{name}' may be given once, got {len(values)} values.")
    return values[0] if values else None


_NAME_RULE = "use 1 to {} characters from A-Z, a-z, 0-9, '_' and '-'"
_FILE_RULE = (
    f"use 1 to {FILE_NAME_MAX} characters from A-Z, a-z, 0-9, '_', '-' and '.', not starting "
    "with '.', and not a marker file's name"
)


def _matching(name: str, pattern: re.Pattern[str], rule: str) -> str | None:
    value = _single(name)
    if value is not None and pattern.fullmatch(value) is None:
        raise InvalidParameter(f"parameter '{name}' value '{clip(value)}' is invalid; {rule}.")
    return value


def nonce() -> str | None:
    """The ``nonce`` parameter, or None."""
    return _matching("nonce", NONCE_PATTERN, _NAME_RULE.format(64))


def writer() -> str:
    """The required ``writer`` parameter."""
    rule = _NAME_RULE.format(32)
    value = _matching("writer", WRITER_PATTERN, rule)
    if value is None:
        raise InvalidParameter(f"parameter 'writer' is required; {rule}.")
    return value


def writers() -> tuple[str, ...] | None:
    """The ``writers`` parameter as distinct names, or None."""
    value = _single("writers")
    if value is None:
        return None
    names = value.split(",") if value.count(",") < MAX_CHECK_WRITERS else []
    if not names or any(WRITER_PATTERN.fullmatch(name) is None for name in names):
        raise InvalidParameter(
            f"parameter 'writers' value '{clip(value)}' is invalid; give 1 to "
            f"{MAX_CHECK_WRITERS} comma-separated writer names, each of 1 to 32 characters "
            "from A-Z, a-z, 0-9, '_' and '-'."
        )
    return tuple(dict.fromkeys(names))


def append_file() -> str:
    """The ``file`` parameter, or the default append file."""
    value = _matching("file", FILE_PATTERN, _FILE_RULE)
    if value in (MARKER_NAME, CHECKSUM_NAME):
        # Appending to or resetting a marker would destroy the persistence evidence.
        raise InvalidParameter(f"parameter 'file' value '{value}' is invalid; {_FILE_RULE}.")
    return value or APPEND_NAME


def choice(name: str, default: str, choices: Sequence[str]) -> str:
    """The parameter, one of choices, or default."""
    value = _single(name)
    if value is None:
        return default
    if value not in choices:
        raise InvalidParameter(
            f"parameter '{name}' value '{clip(value)}' must be one of: {', '.join(choices)}."
        )
    return value


def _checked_int(name: str, value: str, most: int) -> int:
    if INT_PATTERN.fullmatch(value) is None or not 1 <= int(value) <= most:
        raise InvalidParameter(
            f"parameter '{name}' value '{clip(value)}' must be an integer from 1 to {most}."
        )
    return int(value)


def bounded_int(name: str, default: int, most: int) -> int:
    """The parameter as an integer from 1 to most, or default."""
    value = _single(name)
    return default if value is None else _checked_int(name, value, most)


def sizes_mib(maximum: int) -> tuple[int, ...]:
    """The ``sizes`` parameter: distinct MiB sizes from 1 to maximum."""
    value = _single("sizes")
    if value is None:
        return tuple(size for size in DEFAULT_THROUGHPUT_SIZES if size <= maximum)
    count = value.count(",") + 1  # counted before splitting, so a huge list is never split
    if count > THROUGHPUT_SIZES_MAX:
        raise InvalidParameter(
            f"parameter 'sizes' lists {count} sizes; give 1 to {THROUGHPUT_SIZES_MAX} "
            "comma-separated integers."
        )
    sizes = [_checked_int("sizes", entry, maximum) for entry in value.split(",")]
    return tuple(dict.fromkeys(sizes))


def _not_allowed(value: str) -> InvalidParameter:
    allowlist = ", ".join(current_config().paths)
    return InvalidParameter(f"path '{clip(value)}' is not in the probe's allowlist: {allowlist}")


def selected_paths(*, required: bool = False) -> tuple[str, ...]:
    """The ``path`` parameters (allowlisted), else the whole allowlist."""
    allowlist = current_config().paths
    values = flask.request.args.getlist("path")
    if len(values) > PATH_PARAMS_MAX:
        raise InvalidParameter(
            f"parameter 'path' given {len(values)} times; at most {PATH_PARAMS_MAX} allowed."
        )
    for value in values:
        if value not in allowlist:
            raise _not_allowed(value)
    if required and not values:
        raise InvalidParameter(
            f"parameter 'path' is required; give one or more of: {', '.join(allowlist)}"
        )
    return tuple(dict.fromkeys(values)) or allowlist


def one_path() -> str:
    """The one required, allowlisted ``path`` parameter."""
    value = _single("path")
    if value is None:
        raise InvalidParameter(
            f"parameter 'path' is required; give one of: {', '.join(current_config().paths)}"
        )
    if value not in current_config().paths:
        raise _not_allowed(value)
    return value
