"""Images for the local backend: the base image, the wheelhouse, the probe runtime and the
probe's app images.

The runtime image is App Service's Python stack in miniature: a Python with the probe's
requirements installed, and no probe code (that is deployed to /home/site/wwwroot on the
app's volume, as App Service runs what was deployed). It is built with no network inside the
build: the host downloads the wheels, and the image is tagged by a hash of everything that
goes into it, so a second run builds nothing.

An app image is the probe as a custom container (the container runtime): built from the
probe's image context (``engine/probe_package.py``) on the runtime image, one per deploy,
labelled with its run (role ``image``) so that the run's teardown, or the sweep after a
crashed run, removes it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import docker.errors

from pytest_appservice_fs.backends.protocol import BackendError

log = logging.getLogger(__name__)

LABEL_PREFIX = "io.github.pytest-appservice-fs"
DEFAULT_BASE_IMAGE = "python:3.11-slim"
#: Built from Debian packages by scripts/build-base-image.sh where Docker Hub is out of reach.
DEBIAN_BASE_IMAGE = "pytest-appservice-fs/base:bookworm"
RUNTIME_REPOSITORY = "pytest-appservice-fs/probe-runtime"
APP_REPOSITORY = "pytest-appservice-fs/probe-app"
#: The role label of an app image: a run's teardown removes the tagged images with it (never
#: the runtime image, which runs share and which may carry the labels of the run that built it).
APP_IMAGE_ROLE = "image"
#: Docker's longest tag.
TAG_MAX = 128
WHEEL_DOWNLOAD_SECONDS = 600
BUILD_SECONDS = 600

DOCKERFILE = """\
FROM {base}
COPY requirements.txt /opt/probe-runtime/requirements.txt
COPY wheels /opt/probe-runtime/wheels
RUN python3 -m venv /opt/probe-venv \\
 && /opt/probe-venv/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \\
      --find-links /opt/probe-runtime/wheels -r /opt/probe-runtime/requirements.txt \\
 && rm -rf /opt/probe-runtime/wheels
ENV PATH=/opt/probe-venv/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1 LANG=C.UTF-8
"""

_PYTHON_FACTS = (
    "import json, platform, sys; "
    "print(json.dumps({'version': '%d.%d' % sys.version_info[:2], "
    "'machine': platform.machine(), 'libc': platform.libc_ver()}))"
)


class ImageError(BackendError):
    """An image the local backend needs cannot be found or built."""


def resolve_base_image(client: Any, requested: str | None) -> str:
    """The base image to build on: the one asked for, else the default, else the Debian one."""
    if requested is not None:
        if _present_or_pulled(client, requested):
            return requested
        raise ImageError(
            f"--local-base-image {requested!r} is neither on this machine nor pullable; name an "
            f"image that exists, or build {DEBIAN_BASE_IMAGE} with scripts/build-base-image.sh."
        )
    # What is already here comes first: a pull that cannot succeed costs time on every run.
    for candidate in (DEFAULT_BASE_IMAGE, DEBIAN_BASE_IMAGE):
        if _present(client, candidate):
            return candidate
    if _present_or_pulled(client, DEFAULT_BASE_IMAGE):
        return DEFAULT_BASE_IMAGE
    raise ImageError(
        f"neither {DEFAULT_BASE_IMAGE} nor {DEBIAN_BASE_IMAGE} is available and Docker Hub cannot "
        "be reached; build the Debian base with scripts/build-base-image.sh (make base-image)."
    )


def runtime_image(
    client: Any,
    base: str,
    requirements: bytes,
    cache_dir: Path,
    *,
    labels: Mapping[str, str] | None = None,
) -> str:
    """The tag of the probe runtime image for ``base`` and ``requirements``, built if missing.

    ``labels`` go on every image of the build, intermediates included (a LABEL right after
    FROM), so that what an interrupted build leaves can be found by them; they do not enter
    the tag, so runs with different labels share the image.
    """
    base_id = client.images.get(base).id
    key = hashlib.sha256(
        b"\0".join([base_id.encode(), requirements, DOCKERFILE.encode()])
    ).hexdigest()
    tag = f"{RUNTIME_REPOSITORY}:{key[:16]}"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        pass
    else:
        return tag
    python = _python_of(client, base)
    # The wheels depend on the requirements and the image's Python only: images on other
    # bases with the same Python share them (and need no download).
    wheel_key = hashlib.sha256(requirements + json.dumps(python, sort_keys=True).encode())
    wheels = _wheelhouse(requirements, python, cache_dir / "wheels" / wheel_key.hexdigest()[:16])
    dockerfile = _labelled(DOCKERFILE.format(base=base), labels or {})
    context = _build_context(dockerfile, requirements, wheels)
    log.info("building %s from %s (Python %s)", tag, base, python["version"])
    try:
        client.images.build(
            fileobj=context,
            custom_context=True,
            tag=tag,
            rm=True,
            forcerm=True,
            pull=False,
            network_mode="none",
            labels={
                f"{LABEL_PREFIX}.project": "pytest-appservice-fs",
                f"{LABEL_PREFIX}.base": base,
            },
            timeout=BUILD_SECONDS,
        )
    except docker.errors.BuildError as exc:
        tail = "".join(str(chunk.get("stream", "")) for chunk in list(exc.build_log)[-12:])
        raise ImageError(f"building the probe runtime on {base} failed: {exc}; {tail}") from None
    return tag


def app_image_tag(owner: str, deployment_id: str) -> str:
    """The tag of an app image: ``APP_REPOSITORY`` with ``owner`` (the run and app) and the
    deployment id, so each deploy is a new tag, as a container user's. Characters a tag
    cannot hold become ``-``; the tag stays within Docker's 128 characters."""
    name = re.sub(r"[^a-z0-9_.-]", "-", f"{owner}-{deployment_id}".lower()).lstrip(".-")
    if len(name) > TAG_MAX:
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        name = f"{name[: TAG_MAX - 13]}-{digest}"
    return f"{APP_REPOSITORY}:{name}"


def app_image(
    client: Any, context: bytes, *, base: str, tag: str, labels: Mapping[str, str]
) -> str:
    """Build the probe image ``tag`` from ``context`` (a gzipped tar with a Dockerfile, as
    ``image_context`` makes it) on ``base``, a runtime image that has the probe's
    requirements (so the build needs no network); return ``tag``.

    ``labels`` must name the run and the role ``image``: they replace every label the image
    would inherit from ``base``. Raises ImageError with the end of the build's log.
    """
    try:
        client.images.build(
            fileobj=io.BytesIO(context),
            custom_context=True,
            encoding="gzip",
            tag=tag,
            buildargs={"BASE_IMAGE": base, "INSTALL_REQUIREMENTS": "false"},
            rm=True,
            forcerm=True,
            pull=False,
            network_mode="none",
            labels=dict(labels),
            timeout=BUILD_SECONDS,
        )
    except docker.errors.BuildError as exc:
        tail = "".join(str(chunk.get("stream", "")) for chunk in list(exc.build_log)[-12:])
        raise ImageError(
            f"building the probe image {tag} on {base} failed: {exc}; {tail}"
        ) from None
    return tag


def run_images(client: Any, filters: Mapping[str, list[str]]) -> list[dict[str, Any]]:
    """The images a run leaves that carry the labels in ``filters``: its app images (role
    ``image``) and untagged ones (an interrupted build's). As Docker lists them (Id, RepoTags,
    Labels), without an inspect that an image removed meanwhile would fail."""
    role = f"{LABEL_PREFIX}.role"
    images: list[dict[str, Any]] = client.api.images(filters=dict(filters))
    return [
        image
        for image in images
        if _untagged(image) or (image.get("Labels") or {}).get(role) == APP_IMAGE_ROLE
    ]


def _untagged(image: Mapping[str, Any]) -> bool:
    return not [tag for tag in image.get("RepoTags") or [] if tag != "<none>:<none>"]


def remove_image(client: Any, image_id: str) -> int:
    """Remove the image (1), or leave it (0): gone already, or still used by a container."""
    # Not forced: an image a container still uses stays (an interrupted build's intermediates
    # have no container left); its untagged parents go with it.
    try:
        client.api.remove_image(image_id, noprune=False)
    except docker.errors.NotFound:
        return 0
    except docker.errors.APIError as exc:
        log.info("left image %s: %s", image_id[:19], exc)
        return 0
    return 1


def _labelled(dockerfile: str, labels: Mapping[str, str]) -> str:
    """``dockerfile`` with a LABEL of ``labels`` after its FROM line (as is, without labels)."""
    if not labels:
        return dockerfile
    pairs = " ".join(f"{json.dumps(key)}={json.dumps(value)}" for key, value in labels.items())
    first, _, rest = dockerfile.partition("\n")
    return f"{first}\nLABEL {pairs}\n{rest}"


def default_cache_dir() -> Path:
    """Where wheels for the probe runtime are kept between runs."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "pytest-appservice-fs"


def _present(client: Any, image: str) -> bool:
    try:
        client.images.get(image)
    except docker.errors.ImageNotFound:
        return False
    return True


def _present_or_pulled(client: Any, image: str) -> bool:
    if _present(client, image):
        return True
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag:  # no tag: the colon, if any, belonged to a registry port
        name, tag = image, "latest"
    try:
        client.images.pull(name, tag=tag)
    except docker.errors.APIError as exc:
        log.info("cannot pull %s: %s", image, exc)
        return False
    return True


def _python_of(client: Any, base: str) -> dict[str, Any]:
    try:
        output = client.containers.run(
            base, ["python3", "-c", _PYTHON_FACTS], remove=True, network_mode="none"
        )
    except docker.errors.ContainerError as exc:
        raise ImageError(f"the base image {base} has no working python3: {exc}") from None
    facts: dict[str, Any] = json.loads(output.decode("utf-8").strip().splitlines()[-1])
    if facts.get("libc", ["", ""])[0] != "glibc":
        raise ImageError(f"the base image {base} is not glibc-based; use a Debian-based image.")
    return facts


def _platforms(python: dict[str, Any]) -> list[str]:
    machine = python["machine"]
    glibc_minor = int(str(python["libc"][1]).split(".")[1])
    tags = [f"manylinux_2_{minor}_{machine}" for minor in range(17, glibc_minor + 1)]
    return [*tags, f"manylinux2014_{machine}"]


def _wheelhouse(requirements: bytes, python: dict[str, Any], folder: Path) -> Path:
    """Download wheels for the image's Python on the host: the build itself has no network."""
    done = folder / ".complete"
    if done.is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    listing = folder / "requirements.txt"
    listing.write_bytes(requirements)
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check"]
    command += ["--only-binary=:all:", "--python-version", python["version"]]
    command += ["--implementation", "cp", "--dest", str(folder), "-r", str(listing)]
    for platform in _platforms(python):
        command += ["--platform", platform]
    try:
        subprocess.run(  # noqa: S603 - our own interpreter, arguments built above
            command, check=True, capture_output=True, text=True, timeout=WHEEL_DOWNLOAD_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise ImageError(
            f"downloading the probe's wheels took over {WHEEL_DOWNLOAD_SECONDS} s; "
            "check that this machine reaches its package index."
        ) from None
    except subprocess.CalledProcessError as exc:
        reason = (exc.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise ImageError(f"downloading the probe's wheels failed: {reason[0]}") from None
    done.write_text("ok\n")
    return folder


def _build_context(dockerfile: str, requirements: bytes, wheels: Path) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        _add(archive, "Dockerfile", dockerfile.encode())
        _add(archive, "requirements.txt", requirements)
        folder = tarfile.TarInfo("wheels")
        folder.type, folder.mode = tarfile.DIRTYPE, 0o755
        archive.addfile(folder)
        for wheel in sorted(wheels.glob("*.whl")):
            _add(archive, f"wheels/{wheel.name}", wheel.read_bytes())
    buffer.seek(0)
    return buffer


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))
