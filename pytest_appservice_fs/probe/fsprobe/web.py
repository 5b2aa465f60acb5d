"""The probe's HTTP interface: its routes, token check, parameter check and error answers."""

from __future__ import annotations

import hmac
import os
from typing import TYPE_CHECKING, Any

import flask
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge

from . import params
from .appends import append_records, check_appends, remove_append_file
from .config import ProbeConfig, clip
from .contract import (
    APPEND_RECORDS_MAX,
    LATENCY_ITERATIONS_MAX,
    LATENCY_SIZE_MAX,
    LOCK_MODES,
    REQUEST_BODY_MAX,
    THROUGHPUT_ITERATIONS_MAX,
    TOKEN_HEADER,
)
from .files import MIB
from .latency import measure_latency
from .markers import read_marker, utc_iso, write_marker
from .mounts import mount_report
from .params import InvalidParameter
from .throughput import measure_throughput

if TYPE_CHECKING:
    from collections.abc import Callable

PROBE_API = 2


def _answer(**fields: Any) -> flask.Response:
    config = params.current_config()
    return flask.jsonify({"instance_id": config.instance_id, "hostname": config.hostname, **fields})


def _error(message: str, status: int) -> flask.Response:
    response = flask.jsonify({"error": message})
    response.status_code = status
    return response


def health() -> flask.Response:
    """Answer that the process is up, without authentication."""
    return flask.jsonify({"status": "ok"})


def identity() -> flask.Response:
    """Report who answered: instance, container, process and deployment."""
    config = params.current_config()
    return _answer(
        pid=config.pid,
        process_start_utc=utc_iso(config.process_start),
        process_start_epoch=config.process_start,
        deployment_id=config.deployment_id,
        settings_mark=config.settings_mark,
        probe_api=PROBE_API,
        paths=list(config.paths),
    )


def write() -> flask.Response:
    """Write a fresh marker to each selected path."""
    config, nonce, paths = params.current_config(), params.nonce(), params.selected_paths()
    results = {path: write_marker(config, path, nonce) for path in paths}
    return _answer(action="write", nonce=nonce, results=results)


def read() -> flask.Response:
    """Read each selected path's marker back and verify it."""
    config, nonce, paths = params.current_config(), params.nonce(), params.selected_paths()
    results = {path: read_marker(config, path, nonce) for path in paths}
    return _answer(action="read", nonce=nonce, results=results)


def mount_info() -> flask.Response:
    """Report mount facts and usage for each selected path."""
    return _answer(**mount_report(params.current_config(), params.selected_paths()))


def io_latency() -> flask.Response:
    """Measure fsync'd write and read latency in each selected path."""
    size = params.bounded_int("size", 4096, LATENCY_SIZE_MAX)
    iterations = params.bounded_int("iterations", 10, LATENCY_ITERATIONS_MAX)
    config, paths = params.current_config(), params.selected_paths()
    results = {path: measure_latency(config, path, size, iterations) for path in paths}
    return _answer(payload_bytes=size, results=results)


def append() -> flask.Response:
    """Append numbered records to one file in one path (concurrent writers, H4)."""
    path, writer, name = params.one_path(), params.writer(), params.append_file()
    records = params.bounded_int("records", 100, APPEND_RECORDS_MAX)
    lock = params.choice("lock", "none", LOCK_MODES)
    answer = append_records(
        params.current_config(), path, name, writer=writer, records=records, lock=lock
    )
    return _answer(**answer)


def append_check() -> flask.Response:
    """Count an append file's records per writer, and its torn lines."""
    path, name, writers = params.one_path(), params.append_file(), params.writers()
    return _answer(**check_appends(params.current_config(), path, name, writers))


def append_reset() -> flask.Response:
    """Remove an append file from one path."""
    path, name = params.one_path(), params.append_file()
    return _answer(**remove_append_file(params.current_config(), path, name))


def throughput() -> flask.Response:
    """Stream large files through each selected path and time writing and reading (H5)."""
    config = params.current_config()
    sizes = params.sizes_mib(config.max_throughput_mib)
    iterations = params.bounded_int("iterations", 1, THROUGHPUT_ITERATIONS_MAX)
    paths = params.selected_paths(required=True)
    # One random chunk and one read buffer per request, whatever the file sizes.
    chunk, buffer = os.urandom(MIB), bytearray(MIB)
    results = {
        path: measure_throughput(
            config, path, sizes_mib=sizes, iterations=iterations, chunk=chunk, buffer=buffer
        )
        for path in paths
    }
    return _answer(sizes_mib=list(sizes), iterations=iterations, results=results)


# Route -> (view, its valid query parameters). Any other parameter is refused, so that a
# typo never passes silently.
_ROUTES: dict[str, tuple[Callable[[], flask.Response], tuple[str, ...]]] = {
    "/health": (health, ()),
    "/identity": (identity, ()),
    "/write": (write, ("nonce", "path")),
    "/read": (read, ("nonce", "path")),
    "/mount-info": (mount_info, ("path",)),
    "/io-latency": (io_latency, ("size", "iterations", "path")),
    "/append": (append, ("path", "writer", "records", "lock", "file")),
    "/append-check": (append_check, ("path", "file", "writers")),
    "/append-reset": (append_reset, ("path", "file")),
    "/throughput": (throughput, ("path", "sizes", "iterations")),
}


def _refuse_a_large_body(request: flask.Request) -> None:
    # The probe reads no body, so Flask would never apply MAX_CONTENT_LENGTH: a body over it
    # is refused here, with a length or chunked (gunicorn terminates a chunked stream and says
    # so), where reading one byte past the limit tells. Werkzeug's own reader would answer 413
    # for a chunked body of exactly the limit too.
    length = request.content_length
    if length is None and request.environ.get("wsgi.input_terminated"):
        length = len(request.environ["wsgi.input"].read(REQUEST_BODY_MAX + 1))
    if length is not None and length > REQUEST_BODY_MAX:
        raise RequestEntityTooLarge


def _authenticate_and_check_parameters() -> flask.Response | None:
    token, request = params.current_config().token, flask.request
    _refuse_a_large_body(request)
    if isinstance(request.routing_exception, MethodNotAllowed):
        return None  # the method is wrong whoever asks: 405 before the token check
    if request.method == "HEAD" and request.path != "/health":
        # Werkzeug answers HEAD wherever GET is allowed; a HEAD must never write a marker.
        response = _error(f"method HEAD is not allowed on {clip(request.path)}; use GET", 405)
        response.headers["Allow"] = "GET"
        return response
    if token and request.path != "/health":
        provided = request.headers.get(TOKEN_HEADER, "").encode("utf-8", "surrogatepass")
        if not hmac.compare_digest(provided, token.encode("utf-8", "surrogatepass")):
            return _error("missing or invalid probe token", 401)
    rule = request.url_rule.rule if request.url_rule is not None else ""
    valid = _ROUTES[rule][1] if rule in _ROUTES else None
    unknown = [name for name in request.args if valid is not None and name not in valid]
    if unknown:
        names = ", ".join(f"'{clip(name)}'" for name in unknown[:5])
        allowed = ", ".join(valid or ()) or "none"
        return _error(f"unknown query parameter(s) {names}; valid for {rule}: {allowed}.", 400)
    return None


def _no_store(response: flask.Response) -> flask.Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def _http_error(error: HTTPException) -> flask.Response:
    path = clip(flask.request.path)
    if isinstance(error, NotFound):
        message = f"no endpoint at '{path}'; endpoints: {', '.join(_ROUTES)}"
    elif isinstance(error, MethodNotAllowed):
        message = f"method {clip(flask.request.method)} is not allowed on {path}; use GET"
    elif isinstance(error, InvalidParameter):
        message = str(error.description)
    else:
        message = error.name  # the generic description may not fit the probe
    response = _error(message, error.code or 500)
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        # Werkzeug adds HEAD wherever GET is; only /health answers it (see above).
        allowed = [m for m in error.valid_methods if m != "HEAD" or path == "/health"]
        response.headers["Allow"] = ", ".join(allowed)
    return response


class _InsertionOrderJSON(DefaultJSONProvider):
    # Results keep the allowlist's order, which reads better than sorted keys.
    sort_keys = False


def create_app(config: ProbeConfig | None = None) -> flask.Flask:
    """Build the probe app; without a config, read one from the environment."""
    app = flask.Flask(__name__)
    app.extensions["probe_config"] = config if config is not None else ProbeConfig.from_environ()
    app.json = _InsertionOrderJSON(app)
    # Requests carry no bodies; refuse anything bigger than a stray header-sized one.
    app.config["MAX_CONTENT_LENGTH"] = REQUEST_BODY_MAX
    for rule, (view, _) in _ROUTES.items():
        # No automatic OPTIONS answer: every method but GET (and HEAD on /health) is a 405.
        app.add_url_rule(rule, view_func=view, methods=["GET"], provide_automatic_options=False)
    app.before_request(_authenticate_and_check_parameters)
    app.after_request(_no_store)
    app.register_error_handler(HTTPException, _http_error)
    return app
