from __future__ import annotations

from pathlib import Path

from builders import dist, write_zip

from depscan.models import Status
from tests.helpers import dists, scan


def test_function_with_layers_reports_shadowed_copies(tmp_path: Path) -> None:
    function = write_zip(tmp_path / "function.zip", {"app.py": b""} | dist("urllib3", "1.23"))
    layer_a = write_zip(
        tmp_path / "a.zip",
        dist("urllib3", "1.26.5", root="python/lib/python3.12/site-packages")
        | dist("six", "1.10.0", root="python")
        | dist("six", "1.16.0", root="python/lib/python3.12/site-packages"),
    )
    layer_b = write_zip(tmp_path / "b.zip", dist("attrs", "23.1.0", root="python"))
    result = scan(function, layer_a, layer_b)
    assert result.artifact.kind == "lambda-function+layers"
    assert result.artifact.layers == ("function.zip", "a.zip", "b.zip")
    found = dists(result)
    assert found["urllib3==1.23"].status is Status.USED
    assert found["urllib3==1.23"].metadata_location.path == "var/task/urllib3-1.23.dist-info/METADATA"
    assert found["urllib3==1.23"].metadata_location.layer == "function.zip"
    shadowed = found["urllib3==1.26.5!"]
    assert shadowed.shadowed_by == found["urllib3==1.23"].metadata_location
    # A layer's site-packages comes before its python/ directory on sys.path.
    assert found["six==1.16.0"].status is Status.USED
    assert found["six==1.10.0!"].status is Status.SHADOWED
    assert found["attrs==23.1.0"].metadata_location.layer == "b.zip"


def test_later_layer_overwrites_earlier_file(tmp_path: Path) -> None:
    function = write_zip(tmp_path / "f.zip", {"app.py": b""})
    old = write_zip(tmp_path / "old.zip", dist("boto3", "1.20.0", root="python"))
    new = write_zip(tmp_path / "new.zip", dist("boto3", "1.20.0", root="python", summary="rebuilt"))
    (only,) = scan(function, old, new).components
    assert only.summary == "rebuilt" and only.metadata_location.layer == "new.zip"


def test_single_layer_zip_is_recognized(tmp_path: Path) -> None:
    layer = write_zip(
        tmp_path / "layer.zip",
        dist("six", "1.10.0", root="python") | dist("six", "1.16.0", root="python/lib/python3.11/site-packages"),
    )
    result = scan(layer)
    assert result.artifact.kind == "lambda-layer"
    statuses = {k: d.status for k, d in dists(result).items()}
    assert statuses == {"six==1.16.0": Status.USED, "six==1.10.0!": Status.SHADOWED}
