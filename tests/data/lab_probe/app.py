"""A stand-in for the lab's original probe: only its four endpoints, a module-level Flask app,
no /identity, no /health, no nonce and no token. The harness must still prove what it can."""

import hashlib
import json
import os
import socket
import statistics
import time
from datetime import datetime, timezone

from flask import Flask, jsonify

app = Flask(__name__)
PATHS = ["/home/data", "/tmp/data", "/var/local/data"]
MARKER = "persistence-test.json"
CHECKSUM = "persistence-test.sha256"


def _who():
    return {"instance_id": os.environ.get("WEBSITE_INSTANCE_ID"), "hostname": socket.gethostname()}


@app.get("/write")
def write():
    """Write a marker and its checksum to every path."""
    results = {}
    for path in PATHS:
        try:
            os.makedirs(path, exist_ok=True)
            payload = {
                **_who(),
                "pid": os.getpid(),
                "timestamp_utc": datetime.now(timezone.utc).isoformat(),
                "marker": "persistence-test",
            }
            data = json.dumps(payload).encode()
            with open(os.path.join(path, MARKER), "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            checksum = hashlib.sha256(data).hexdigest()
            with open(os.path.join(path, CHECKSUM), "w") as file:
                file.write(checksum)
                file.flush()
                os.fsync(file.fileno())
            results[path] = {"path": path, "checksum": checksum, "payload": payload}
        except OSError as exc:
            results[path] = {"error": str(exc), "path": path}
    return jsonify({"action": "write", **_who(), "results": results})


@app.get("/read")
def read():
    """Read every marker back and check its checksum."""
    results = {}
    for path in PATHS:
        try:
            with open(os.path.join(path, MARKER), "rb") as file:
                data = file.read()
        except FileNotFoundError:
            results[path] = {"path": path, "exists": False}
            continue
        try:
            with open(os.path.join(path, CHECKSUM)) as file:
                stored = file.read().strip()
        except FileNotFoundError:
            stored = None
        actual = hashlib.sha256(data).hexdigest()
        results[path] = {
            "path": path,
            "exists": True,
            "payload": json.loads(data),
            "checksum_valid": actual == stored,
            "actual_checksum": actual,
            "stored_checksum": stored,
        }
    return jsonify({"action": "read", **_who(), "results": results})


@app.get("/mount-info")
def mount_info():
    """Report mounts and free space as text."""
    with open("/proc/mounts") as file:
        mounts = file.read()
    lines = []
    for path in PATHS:
        stat = os.statvfs(path if os.path.exists(path) else "/")
        lines.append(f"{path} {stat.f_blocks * stat.f_frsize} {stat.f_bavail * stat.f_frsize}")
    return jsonify({**_who(), "df": "\n".join(lines), "mount": mounts})


@app.get("/io-latency")
def io_latency():
    """Time 4 KiB writes with fsync and reads, 10 times per path."""
    results = {}
    for path in PATHS:
        os.makedirs(path, exist_ok=True)
        target = os.path.join(path, "latency.tmp")
        writes, reads = [], []
        for _ in range(10):
            started = time.perf_counter()
            with open(target, "wb") as file:
                file.write(os.urandom(4096))
                file.flush()
                os.fsync(file.fileno())
            writes.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            with open(target, "rb") as file:
                file.read()
            reads.append((time.perf_counter() - started) * 1000)
        os.remove(target)
        results[path] = {
            "write_ms": {
                "min": min(writes),
                "max": max(writes),
                "median": statistics.median(writes),
            },
            "read_ms": {"min": min(reads), "max": max(reads), "median": statistics.median(reads)},
            "iterations": 10,
        }
    return jsonify({**_who(), "payload_bytes": 4096, "results": results})
