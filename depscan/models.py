"""Frozen data crossing the seams. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from packaging.utils import NormalizedName


@dataclass(frozen=True, slots=True)
class Location:
    """A path inside the artifact (POSIX, no leading slash) and the layer it came from.

    ``layer`` is None for flat artifacts; for container images it is the layer digest, for a
    Lambda function scanned with its layers it is the name of the zip the file came from.
    """

    path: str
    layer: str | None = None

    def __str__(self) -> str:
        return self.path if self.layer is None else f"{self.path} [{self.layer}]"


@dataclass(frozen=True, slots=True)
class Unknown:
    """Something that could not be read or parsed. Data, reported; never a crash."""

    location: Location
    reason: str


@dataclass(frozen=True, slots=True)
class RecordEntry:
    """One row of a RECORD file (PEP 376, PEP 627), or a line of a legacy ``installed-files.txt``.

    ``path`` is resolved inside the artifact (relative to the artifact root, not to the
    site-packages root). ``digest`` is hex (RECORD stores urlsafe base64 without padding).
    """

    path: str
    algorithm: str | None
    digest: str | None
    size: int | None


@dataclass(frozen=True, slots=True)
class WheelInfo:
    """The ``WHEEL`` file of a dist-info directory."""

    generator: str | None
    root_is_purelib: bool | None
    tags: tuple[str, ...]


class Status(str, Enum):
    """Whether the runtime imports this copy of a distribution."""

    USED = "used"
    SHADOWED = "shadowed"


@dataclass(frozen=True, slots=True)
class PythonDist:
    """An installed Python distribution found through its ``.dist-info`` or ``.egg-info``."""

    name: str  # as spelled in METADATA
    normalized_name: NormalizedName  # PEP 503
    version: str  # as spelled in METADATA
    purl: str
    found_by: Literal["python-dist-info", "python-egg-info"]
    metadata_location: Location  # the METADATA / PKG-INFO file
    metadata_dir: str  # the .dist-info / .egg-info directory (or the egg-info file)
    site_root: str  # the directory holding it: the sys.path entry
    summary: str | None = None
    license: str | None = None
    license_expression: str | None = None
    requires_python: str | None = None
    requires_dist: tuple[str, ...] = ()
    classifiers: tuple[str, ...] = ()
    installer: str | None = None
    wheel: WheelInfo | None = None
    direct_url: dict[str, object] | None = None
    record: tuple[RecordEntry, ...] = ()
    record_outside: int = 0  # RECORD rows naming files outside the artifact (e.g. ../../bin/x)
    status: Status = Status.USED
    shadowed_by: Location | None = None

    @property
    def locations(self) -> tuple[Location, ...]:
        """Where the distribution was seen (its metadata file)."""
        return (self.metadata_location,)


# The closed union of components. Later catalogers (native libraries, vendored trees, declared
# requirements) add their types here; consumers match on the type and end with assert_never.
Component = PythonDist


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """What was scanned."""

    path: str
    kind: str
    size: int | None
    layers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything a scan produced. Reporters turn this into bytes."""

    artifact: ArtifactInfo
    components: tuple[Component, ...]
    unknowns: tuple[Unknown, ...]
    warnings: tuple[str, ...] = ()
    tool_version: str = ""
    stats: dict[str, int | float] = field(default_factory=dict)
