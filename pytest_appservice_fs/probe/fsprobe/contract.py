"""The probe's wire contract: the names and bounds it answers to.

The harness keeps the same values, under the same names, in ``pytest_appservice_fs/contract.py``
(the probe is deployed alone and cannot import it); the harness's ``tests/test_contract.py``
holds the two equal, so change both together. Every bound is inclusive and every lower bound
is 1.
"""

from __future__ import annotations

import posixpath
import re

#: The request header carrying the probe's token (its PROBE_TOKEN app setting).
TOKEN_HEADER = "X-Probe-Token"  # noqa: S105 - a header name, not a secret
#: The marker file ``/write`` leaves in each path, and the file holding the marker's SHA-256.
MARKER_NAME = "persistence-test.json"
CHECKSUM_NAME = "persistence-test.sha256"
#: ``/append``'s ``lock`` values, in the order the harness's evidence matrix prints them.
LOCK_MODES = ("flock", "none")
#: ``/io-latency``: at most this many bytes per write (``size``).
LATENCY_SIZE_MAX = 1_048_576
#: ``/io-latency``: at most this many writes, and as many reads, per path (``iterations``).
LATENCY_ITERATIONS_MAX = 100
#: ``/throughput``: the most PROBE_MAX_THROUGHPUT_MIB may be, so the largest size in MiB.
THROUGHPUT_MIB_MAX = 1024
#: ``/throughput``: the largest size in MiB while PROBE_MAX_THROUGHPUT_MIB is not set.
DEFAULT_MAX_THROUGHPUT_MIB = 128
#: ``/throughput``: at most this many sizes in one request (``sizes``).
THROUGHPUT_SIZES_MAX = 8
#: ``/throughput``: at most this many writes and reads per size (``iterations``).
THROUGHPUT_ITERATIONS_MAX = 5
#: ``/append``: at most this many records per writer and request (``records``).
APPEND_RECORDS_MAX = 10_000
#: The largest request body in bytes the probe accepts (it reads none; a larger one is a 413).
REQUEST_BODY_MAX = 1024
#: At most this many paths in the probe's allowlist (its PROBE_PATHS app setting).
ALLOWLIST_MAX = 32
#: At most this many ``path`` parameters in one request.
PATH_PARAMS_MAX = 16
#: The app setting the probe reports back as its ``settings_mark`` (the harness's app setting
#: change event sets it to a fresh value).
SETTINGS_MARK = "PROBE_SETTINGS_MARK"
#: The probe reports at most this many characters of its deployment id.
DEPLOYMENT_ID_MAX = 128
#: The characters of a nonce, writer or append file name, as a regular expression's class.
NAME_CHARACTERS = "A-Za-z0-9_-"
#: A ``nonce`` (and the PROBE_SETTINGS_MARK the probe reports back).
NONCE_PATTERN = re.compile(f"[{NAME_CHARACTERS}]{{1,64}}")
#: A ``writer`` name of ``/append``; ``writers`` lists such names.
WRITER_PATTERN = re.compile(f"[{NAME_CHARACTERS}]{{1,32}}")
#: An append ``file`` name: at most FILE_NAME_MAX characters, dots allowed but not first.
FILE_NAME_MAX = 64
FILE_PATTERN = re.compile(f"[{NAME_CHARACTERS}][.{NAME_CHARACTERS}]{{0,{FILE_NAME_MAX - 1}}}")


def path_problem(path: str) -> str | None:
    """Why the probe refuses ``path`` in its allowlist, as a phrase after the path, or None.

    A path must be absolute and normalised: no '..', '.' or empty components, no trailing '/',
    no leading '//' (which POSIX leaves implementation-defined) and no NUL.
    """
    if not path.startswith("/"):
        return "is not absolute"
    if ".." in path.split("/"):
        return "contains a '..' component"
    # normpath keeps a leading '//' (implementation-defined in POSIX), so it is refused here.
    if posixpath.normpath(path) != path or path.startswith("//") or "\0" in path:
        return "is not normalised (no '.', '//', trailing '/' or NUL)"
    return None
