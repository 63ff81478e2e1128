"""Model data and code fetched on the instance's own host: the agent's side of ``Artifact``.

A spec names what each container needs as locations (``launcher.Artifact``) and its paths as
``INSTANCE_ROOT``-relative; the agent that runs the instance picks the root on its host and,
before spawning, resolves each location there (``prepare_containers``):

- an absolute local path (what a local path or file:// URL was planned into): used where this
  host has it (a shared filesystem), or the bytes the launcher carried for it (a Ray object);
- an ``s3://`` URI: staged through an ``ObjectLocations`` (the server's own, locally; tandem's
  S3 API with the agent's credentials, on another host).

A tarball is unpacked with the safe extraction of ``artifacts`` (every member checked first)
into its target once; a directory (an S3 prefix) is linked there. Failures are
``ArtifactError``s worded as when the server unpacked models itself.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import TandemError
from ..objects.locations import ObjectLocations, is_s3_uri
from .artifacts import ArtifactError, is_tarball, resolve_location, unpack
from .launcher import INSTANCE_ROOT, Artifact, ContainerSpec

if TYPE_CHECKING:
    from ..objects.remote import RemoteLocations
    from ..telemetry.shipping import ShipperConfig

__all__ = ["ArtifactSource", "prepare_artifacts", "prepare_containers", "rooted",
           "server_locations"]


class ArtifactSource:
    """Resolves locations on this host: local paths as they are (or the bytes carried for
    them), ``s3://`` through ``objects``."""

    def __init__(self, objects: ObjectLocations | None = None,
                 carried: Mapping[str, bytes] | None = None, *,
                 elsewhere: str | None = None) -> None:  # fmt: skip
        self.objects = objects
        self.carried = dict(carried or {})
        # Added to "does not exist" for a local path on an agent away from the planning host.
        self.elsewhere = elsewhere

    def fetch(self, artifact: Artifact, scratch: Path) -> tuple[Path, str]:
        """A local file or directory holding what ``artifact.location`` names, and the name
        errors give it (the path the server's own unpacking named). ``scratch`` (the
        container's directory) receives what is downloaded or carried."""
        location, field = artifact.location or "", artifact.field
        if is_s3_uri(location):
            if self.objects is None:
                raise ArtifactError(field, location,
                                    f"{location}: no object store is configured here")
            try:
                staged = self.objects.stage(location, scratch / "s3")
            except TandemError as error:
                raise ArtifactError(field, location, error.message) from None
            except Exception as error:  # noqa: BLE001 - botocore's transport and client errors
                raise ArtifactError(field, location, f"{location}: cannot fetch it: "
                                    f"{type(error).__name__}: {error}") from None
            return resolve_location(str(staged), Path("/"), field=field), str(staged)
        data = self.carried.get(location)
        if data is not None:
            # The launcher's host has this file and this one need not: its bytes came along.
            path = scratch / ".carried" / Path(location).name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            return path, location
        if self.elsewhere is not None and not os.path.lexists(location):
            raise ArtifactError(field, location, f"{location} does not exist {self.elsewhere}")
        return resolve_location(location, Path("/"), field=field), location


def server_locations(shipper: ShipperConfig) -> RemoteLocations:
    """s3:// locations in the tandem server's own S3 API, signed with the key the agent
    ships telemetry with (plain botocore: the shipping extra, no boto3 on the node)."""
    import botocore.session
    from botocore.config import Config

    from ..objects.remote import RemoteLocations

    client = botocore.session.get_session().create_client(
        "s3", endpoint_url=shipper.server_url, region_name=shipper.region,
        aws_access_key_id=shipper.access_key_id, aws_secret_access_key=shipper.secret_access_key,
        aws_session_token=shipper.session_token,
        config=Config(connect_timeout=shipper.request_timeout,
                      read_timeout=shipper.request_timeout, retries={"max_attempts": 3}),
    )  # fmt: skip
    return RemoteLocations.over(client)


def rooted(text: str, root: Path) -> str:
    """``text`` with ``INSTANCE_ROOT`` replaced by ``root``."""
    return text.replace(INSTANCE_ROOT, str(root))


def _prepare(artifact: Artifact, root: Path, source: ArtifactSource) -> None:
    into = Path(rooted(artifact.into, root))
    if artifact.location is None:
        into.mkdir(parents=True, exist_ok=True)
        return
    location = artifact.location
    marker = into.with_name(into.name + ".extracted")
    if artifact.archive and into.is_dir() and marker.is_file() \
            and marker.read_text() == location + "\n":
        return  # unpacked by an earlier start of this instance: nothing to fetch
    scratch = Path(rooted(artifact.scratch, root)) if artifact.scratch else into.parent
    path, name = source.fetch(artifact, scratch)
    if artifact.archive:
        if not path.is_file() or not is_tarball(path):
            raise ArtifactError(artifact.field, location,
                                f"{name} is neither a directory nor a .tar.gz archive")
        try:
            unpack(path, into, url=location, field=artifact.field, name=name)
        finally:
            if any(folder in path.parents for folder in (scratch / ".carried", scratch / "s3")):
                path.unlink()  # a downloaded or carried copy: the unpacked tree is what stays
        return
    if not path.is_dir():
        raise ArtifactError(artifact.field, location,
                            f"{name} is neither a directory nor a .tar.gz archive")
    # A directory is used where it lies (tandem's own S3 holds objects as files): a link.
    into.parent.mkdir(parents=True, exist_ok=True)
    if into.is_symlink() or into.is_file():
        into.unlink()
    elif into.is_dir():
        os.rmdir(into)  # an empty directory an earlier plan made (raises if not empty)
    into.symlink_to(path, target_is_directory=True)


def prepare_artifacts(artifacts: Sequence[Artifact], root: Path,
                      source: ArtifactSource) -> None:  # fmt: skip
    """Fetch and unpack ``artifacts`` in order, ``INSTANCE_ROOT`` standing for ``root``."""
    for artifact in artifacts:
        _prepare(artifact, root, source)


def prepare_containers(containers: Sequence[ContainerSpec], root: Path,
                       source: ArtifactSource) -> list[ContainerSpec]:  # fmt: skip
    """Fetch and unpack every container's artifacts under ``root`` (blocking: run it on a
    worker thread) and return the specs with ``INSTANCE_ROOT`` filled in."""
    root = Path(os.path.abspath(root))
    ready = []
    for spec in containers:
        prepare_artifacts(spec.artifacts, root, source)
        ready.append(dataclasses.replace(
            spec,
            argv=tuple(rooted(item, root) for item in spec.argv),
            env={key: rooted(value, root) for key, value in spec.env.items()},
            cwd=rooted(spec.cwd, root) if spec.cwd is not None else None,
            artifacts=(),
        ))
    return ready
