"""Issue 10's checks on real deployments: real wheels from PyPI, installed and zipped as users do, scanned with the
real CLI, and what depscan reports compared case by case with what is true.

    python bench/validate_issue10.py [--workdir ~/.cache/depscan-validate10] [--only CASE ...]

Wheels are installed with ``pip install --target DIR --no-deps --only-binary=:all:`` for CPython 3.11 on
manylinux2014 x86_64 (as ``bench_inventory.py`` installs its sets; pip's cache makes reruns cheap), one
directory per set, kept in the work directory. Each case builds a deployment from those directories the way
people build them (a function zip of ``pip install -t`` output with ``six.py`` copied in, a dist-info deleted to
save space, a CA bundle with a PEM block appended, a function zip plus ``--layer`` zips), scans it with
``python -m depscan scan ... --source skip -o json=...`` and checks each expectation against the JSON report.
Requirement findings are also compared with the real ``pip check`` on the same installed set (pip ``--python``
on a venv made ``--without-pip`` with ``python3``, which must be a CPython 3.11 like the wheels).
What is "true" comes from the installed files themselves (the deleted dist-info's METADATA, ``vendor.txt``'s
pins, the ``_vendor/*.dist-info`` directories, the file that was changed), never from depscan.

It prints one table (case, expected, reported, OK/MISS) and exits 1 when a row is a MISS, 2 when pip or a scan
failed. bench/README.md has the table of the last run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_WORKDIR = Path("~/.cache/depscan-validate10")
PYTHON = "3.11"
PIP_TARGET_ARGS = ("--only-binary=:all:", "--platform", "manylinux2014_x86_64", "--python-version", PYTHON,
                   "--implementation", "cp")
SITE = f"python/lib/python{PYTHON}/site-packages"  # a layer zip's site-packages directory

# The sets installed (one ``pip install --target`` each), pinned so the expectations stay true.
SETS: dict[str, tuple[str, ...]] = {
    "six": ("six==1.16.0",),
    "dateutil-yaml": ("python-dateutil==2.9.0.post0", "PyYAML==6.0.1"),
    "pip": ("pip==24.0",),
    "setuptools": ("setuptools==75.1.0",),
    "requests": ("requests==2.32.3", "urllib3==2.2.2", "certifi==2024.8.30", "idna==3.7",
                 "charset-normalizer==3.3.2"),
    "botocore": ("botocore==1.34.162", "jmespath==1.0.1", "python-dateutil==2.9.0.post0", "six==1.16.0"),
    "urllib3-new": ("urllib3==2.2.2",),
    "urllib3-old": ("urllib3==1.24.3",),
}

EXTRA_PEM = (b"-----BEGIN CERTIFICATE-----\n"
             b"MIIBszCCAVmgAwIBAgIUQ2Vyd2lmaWVkLWJ5LW5vYm9keS0wMDAwMDAwMDAwMAoGCCqG\n"
             b"-----END CERTIFICATE-----\n")


class ValidateError(Exception):
    """pip or a scan failed: not a MISS, the validation could not run."""


@dataclass
class Row:
    case: str
    expected: str
    reported: str
    ok: bool


@dataclass
class Report:
    """The JSON report of one scan, with what the checks look up."""

    data: dict[str, Any]
    exit_code: int

    @property
    def components(self) -> list[dict[str, Any]]:
        return [c for c in self.data.get("components", []) if c.get("type") == "python-distribution"]

    @property
    def findings(self) -> list[dict[str, Any]]:
        return list(self.data.get("policy_findings", []))

    @property
    def unknowns(self) -> list[dict[str, Any]]:
        return list(self.data.get("unknowns", []))

    @property
    def notes(self) -> list[str]:
        return [str(n) for n in self.data.get("notes", [])]

    def named(self, name: str) -> list[dict[str, Any]]:
        wanted = _norm(name)
        return [c for c in self.components if c.get("normalized_name") == wanted]

    def rules(self, prefix: str) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["rule"].startswith(prefix)]


@dataclass
class Workspace:
    workdir: Path
    scratch: Path
    sites: dict[str, Path] = field(default_factory=dict)

    def site(self, name: str) -> Path:
        """The directory ``pip install --target`` filled with set ``name`` (installed once, then reused)."""
        if name in self.sites:
            return self.sites[name]
        target = self.workdir / "sites" / name
        marker = target / ".installed"
        wanted = "\n".join(SETS[name])
        if not (marker.is_file() and marker.read_text() == wanted):
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir(parents=True)
            log = self.workdir / f"pip-{name}.log"
            cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--no-deps",
                   "--target", str(target), *PIP_TARGET_ARGS, *SETS[name]]
            with log.open("w") as out:
                proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
            if proc.returncode != 0:
                raise ValidateError(f"pip install of {name} failed (exit {proc.returncode}); log: {log}")
            marker.write_text(wanted)
        self.sites[name] = target
        return target

    def copy(self, name: str, dest: Path) -> Path:
        """A writable copy of set ``name``'s directory (cases change files)."""
        shutil.copytree(self.site(name), dest, dirs_exist_ok=True, symlinks=True,
                        ignore=shutil.ignore_patterns(".installed"))
        return dest


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def zip_tree(root: Path, zip_path: Path, prefix: str = "") -> Path:
    """``cd root && zip -r zip_path .`` (files and directories, sorted), optionally under ``prefix``."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(root.rglob("*")):
            if path.name == ".installed":
                continue
            name = prefix + path.relative_to(root).as_posix()
            if path.is_dir():
                zf.write(path, name + "/")
            else:
                zf.write(path, name)
    return zip_path


def tar_gz_tree(root: Path, tar_path: Path, prefix: str) -> Path:
    """``tar -czf tar_path -C root .`` with the files under ``prefix`` (a site-packages directory of a rootfs)."""
    with tarfile.open(tar_path, "w:gz") as tf:
        for path in sorted(root.rglob("*")):
            if path.name != ".installed":
                tf.add(path, prefix + path.relative_to(root).as_posix(), recursive=False)
    return tar_path


def scan(ws: Workspace, artifact: Path, *args: str, layers: Iterable[Path] = ()) -> Report:
    out = ws.scratch / f"{artifact.name}.{len(list(ws.scratch.iterdir()))}.json"
    cmd = [sys.executable, "-m", "depscan", "scan", str(artifact), "--source", "skip", "-o", f"json={out}", *args]
    for layer in layers:
        cmd += ["--layer", str(layer)]
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode not in (0, 1) or not out.is_file():
        raise ValidateError(f"depscan scan {artifact.name} {' '.join(args)} exited {proc.returncode}: "
                            f"{proc.stderr.strip()[-500:]}")
    return Report(json.loads(out.read_text()), proc.returncode)


def metadata_version(dist_info: Path) -> str:
    for line in (dist_info / "METADATA").read_text(errors="replace").splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    raise ValidateError(f"{dist_info}: no Version")


def dist_info_of(site: Path, name: str) -> Path:
    wanted = _norm(name)
    for path in site.glob("*.dist-info"):
        if _norm(path.name.removesuffix(".dist-info").rsplit("-", 1)[0]) == wanted:
            return path
    raise ValidateError(f"{site}: no dist-info for {name}")


def describe(component: dict[str, Any]) -> str:
    evidence = ",".join(e["method"] for e in component.get("evidence") or [])
    where = component["location"]["path"]
    return f"{component['name']} {component['version']} {component['status']}" + (
        f" [{evidence}]" if evidence else "") + f" at {where}"


def one_vendored(case: str, report: Report, name: str, version: str, methods: tuple[str, ...],
                 where: str = "", by: str | None = None) -> Row:
    """A row: ``name`` ``version`` reported once under ``where`` as a vendored copy whose strongest evidence
    (the first: the JSON report lists it strongest first) is one of ``methods``, vendored by the distribution
    ``by`` (its METADATA path contains it). Other copies under ``where`` (six inside pip's vendored urllib3)
    are shown, not judged."""
    expected = f"{name} {version} vendored ({'/'.join(methods)})" + (f" by {by}" if by else "") + (
        f" under {where}" if where else "")
    found = [c for c in report.named(name) if c["location"]["path"].startswith(where)]
    vendored = [c for c in found if c["status"] == "vendored"
                and (c.get("evidence") or [{}])[0].get("method") in methods]
    ok = (len(vendored) == 1 and vendored[0]["version"] == version
          and (by is None or by in ((vendored[0].get("vendored_by") or {}).get("path") or "")))
    reported = "; ".join(describe(c) for c in found) or "nothing"
    return Row(case, expected, reported, ok)


def unknowns_under(report: Report, where: str) -> list[str]:
    return [f"{u['path']}: {u['reason']}" for u in report.unknowns if u["path"].startswith(where)]


def short(findings: list[dict[str, Any]], limit: int = 3) -> str:
    if not findings:
        return "none"
    shown = "; ".join(f"{f['rule']} {f['location']['path']}" for f in findings[:limit])
    return shown + (f" (+{len(findings) - limit} more)" if len(findings) > limit else "")


# -- the cases ------------------------------------------------------------------------------


def case_six_copied(ws: Workspace) -> list[Row]:
    """A function zip: a handler and ``six.py`` copied from the six wheel (no dist-info)."""
    root = ws.scratch / "six-copied"
    root.mkdir()
    six = ws.site("six")
    shutil.copy(six / "six.py", root / "six.py")
    (root / "handler.py").write_text("import six\n\ndef handler(event, context):\n    return six.PY3\n")
    version = metadata_version(dist_info_of(six, "six"))
    report = scan(ws, zip_tree(root, ws.scratch / "six-copied.zip"))
    rows = [one_vendored("six.py copied into a function zip", report, "six", version, ("module-version",))]
    handler_unknown = [u for u in unknowns_under(report, "") if "handler" in u]
    rows.append(Row("six.py copied into a function zip", "handler.py: own code, no component and no unknown",
                    "; ".join(handler_unknown) or "no component, no unknown",
                    not handler_unknown and not report.named("handler")))
    return rows


def case_dist_info_deleted(ws: Workspace) -> list[Row]:
    """python-dateutil and PyYAML installed with pip, then their dist-info directories deleted to save space."""
    root = ws.copy("dateutil-yaml", ws.scratch / "deleted")
    truth = {}
    for name in ("python-dateutil", "PyYAML"):
        info = dist_info_of(root, name)
        truth[name] = metadata_version(info)
        shutil.rmtree(info)
    report = scan(ws, zip_tree(root, ws.scratch / "deleted.zip"))
    case = "package directory whose dist-info was deleted"
    rows = [
        one_vendored(case, report, "python-dateutil", truth["python-dateutil"], ("module-version",), "dateutil/"),
        one_vendored(case, report, "PyYAML", truth["PyYAML"], ("module-version",), "yaml/"),
    ]
    # PyYAML's second top-level package (_yaml, its C-extension shim) is PyYAML's too: it must not be left out
    # silently (a component, an unknown, or the own-code note naming it).
    said = [describe(c) for c in report.components if c["location"]["path"].startswith("_yaml/")]
    said += unknowns_under(report, "_yaml/") + [n for n in report.notes if "_yaml" in n]
    rows.append(Row(case, "_yaml/ (PyYAML's shim) not silently dropped", "; ".join(said)[:160] or "nothing",
                    bool(said)))
    return rows


def case_pip_vendor_txt(ws: Workspace) -> list[Row]:
    """pip installed with ``pip install -t`` and zipped: every pin of ``pip/_vendor/vendor.txt`` is a vendored copy."""
    site = ws.site("pip")
    pins: dict[str, str] = {}
    for line in (site / "pip/_vendor/vendor.txt").read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)", line)
        if match:
            pins[match.group(1)] = match.group(2)
    report = scan(ws, zip_tree(site, ws.scratch / "pip.zip"))
    case = "pip with _vendor/vendor.txt"
    rows = []
    missed = []
    for name, version in sorted(pins.items(), key=lambda kv: kv[0].lower()):
        row = one_vendored(case, report, name, version, ("vendor-list",), "pip/_vendor/", by="pip-")
        if not row.ok:
            missed.append(row)
    rows.append(Row(case, f"all {len(pins)} vendor.txt pins vendored by pip at the pinned version (vendor-list)",
                    f"{len(pins) - len(missed)} of {len(pins)}"
                    + (": missed " + "; ".join(f"{r.expected} -> {r.reported}" for r in missed[:4]) if missed else ""),
                    not missed))
    stray = unknowns_under(report, "pip/")
    rows.append(Row(case, "no unknowns in pip's tree", "; ".join(stray[:3]) or "none", not stray))
    return rows


def case_setuptools_vendor(ws: Workspace) -> list[Row]:
    """setuptools with its ``_vendor`` trees, which keep their own dist-info directories."""
    site = ws.site("setuptools")
    vendored = {}
    for info in sorted(site.glob("*/_vendor/*.dist-info")) + sorted(site.glob("*/_vendor/*/_vendor/*.dist-info")):
        vendored[info.relative_to(site).as_posix()] = (info.name.removesuffix(".dist-info").rsplit("-", 1)[0],
                                                     metadata_version(info))
    report = scan(ws, zip_tree(site, ws.scratch / "setuptools.zip"), "--verify-record")
    case = "setuptools with _vendor/*.dist-info"
    by_path = {c["location"]["path"]: c for c in report.components}
    bad = []
    for path, (_name, version) in vendored.items():
        component = by_path.get(f"{path}/METADATA")
        if (component is None or component["status"] != "vendored" or component["version"] != version
                or "setuptools" not in ((component.get("vendored_by") or {}).get("path") or "")):
            bad.append(f"{path}: " + (describe(component) if component else "not reported"))
    rows = [Row(case, f"all {len(vendored)} _vendor dist-infos vendored by setuptools at their version",
                f"{len(vendored) - len(bad)} of {len(vendored)}" + (": " + "; ".join(bad[:3]) if bad else ""),
                not bad and bool(vendored))]
    record = report.rules("record-")
    rows.append(Row(case, "--verify-record on an untouched install: no record-* findings", short(record),
                    not record))
    stray = unknowns_under(report, "setuptools/") + unknowns_under(report, "pkg_resources/")
    rows.append(Row(case, "no unknowns in setuptools' trees", "; ".join(stray[:3]) or "none", not stray))
    return rows


def case_certifi(ws: Workspace) -> list[Row]:
    """requests and its dependencies in a layer zip, ``certifi/cacert.pem`` with a PEM block appended; as a zip,
    as a rootfs ``.tar.gz`` (one streaming pass: --verify-record judges by the pass's digests) and untouched."""
    clean = ws.site("requests")
    tampered = ws.copy("requests", ws.scratch / "certifi-tampered")
    with (tampered / "certifi/cacert.pem").open("ab") as fh:
        fh.write(EXTRA_PEM)
    case = "tampered certifi/cacert.pem"
    rows = []
    untouched = scan(ws, zip_tree(clean, ws.scratch / "requests-layer.zip", f"{SITE}/"), "--verify-record")
    rows.append(Row(case, "untouched layer: no record-* findings", short(untouched.rules("record-")),
                    not untouched.rules("record-")))
    forms = {
        "layer zip": zip_tree(tampered, ws.scratch / "certifi-layer.zip", f"{SITE}/"),
        "rootfs .tar.gz": tar_gz_tree(tampered, ws.scratch / "certifi-rootfs.tar.gz",
                                      f"usr/local/lib/python{PYTHON}/site-packages/"),
    }
    for form, artifact in forms.items():
        report = scan(ws, artifact, "--verify-record")
        record = report.rules("record-")
        hit = [f for f in record if f["rule"] == "record-modified" and f["location"]["path"].endswith(
            "certifi/cacert.pem") and "root certificates were added" in f["message"]]
        unread = [u for u in report.unknowns if "--verify-record" in u["reason"]]
        rows.append(Row(case, f"{form}: one record-modified certifi/cacert.pem (root certificates added), "
                              "nothing else, no file left unverified",
                        short(record) + (f"; {len(unread)} unverified" if unread else ""),
                        len(hit) == 1 and len(record) == 1 and not unread))
    return rows


def _gzip_tar(members: dict[str, bytes | None]) -> bytes:
    """A gzip layer blob: ``members`` (None: a directory) in a tar, as registries store layers."""
    import gzip
    import io

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1700000000
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(info)
            else:
                info.size, info.mode = len(data), 0o644
                tf.addfile(info, io.BytesIO(data))
    return gzip.compress(buffer.getvalue(), mtime=0)


def docker_save(layers: list[dict[str, bytes | None]], path: Path) -> tuple[Path, list[str]]:
    """A ``docker save | gzip`` archive of an image whose layers are gzip blobs (``manifest.json``, a config
    with the diff_ids, ``blobs/sha256/<digest>``), and the diff_ids, lowest layer first."""
    import gzip
    import hashlib

    blobs: dict[str, bytes] = {}
    diff_ids = []
    layer_paths = []
    for members in layers:
        blob = _gzip_tar(members)
        diff_ids.append("sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest())
        layer_paths.append(f"blobs/sha256/{hashlib.sha256(blob).hexdigest()}")
        blobs[layer_paths[-1]] = blob
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    config_path = f"blobs/sha256/{hashlib.sha256(config).hexdigest()}"
    blobs[config_path] = config
    manifest = json.dumps([{"Config": config_path, "RepoTags": ["fn:latest"], "Layers": layer_paths}]).encode()
    outer: dict[str, bytes | None] = {"blobs": None, "blobs/sha256": None, **dict(sorted(blobs.items())),
                                      "manifest.json": manifest}
    path.write_bytes(_gzip_tar(outer))
    return path, diff_ids


def tree_members(root: Path, prefix: str) -> dict[str, bytes | None]:
    return {prefix + p.relative_to(root).as_posix(): (None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*")) if p.name != ".installed"}


def case_image(ws: Workspace) -> list[Row]:
    """A container image (``docker save | gzip``, gzip layers): pip's install of requests in one layer; a later
    layer appends a PEM block to ``certifi/cacert.pem``, deletes ``requests/help.py`` (a whiteout) and adds
    ``requests/hook.py``. Every layer is read in one streaming pass."""
    site = f"usr/local/lib/python{PYTHON}/site-packages/"
    clean = ws.site("requests")
    bundle = (clean / "certifi/cacert.pem").read_bytes() + EXTRA_PEM
    upper: dict[str, bytes | None] = {f"{site}certifi/cacert.pem": bundle, f"{site}requests/.wh.help.py": b"",
                                      f"{site}requests/hook.py": b"import socket\n"}
    image, diff_ids = docker_save([tree_members(clean, site), upper], ws.scratch / "image.tar.gz")
    report = scan(ws, image, "--verify-record")
    case = "image with gzip layers (docker save, gzipped)"
    found = {(f["rule"], f["location"]["path"].removeprefix(site), f["location"]["layer"])
             for f in report.rules("record-")}
    expected = {("record-modified", "certifi/cacert.pem", diff_ids[1]),
                ("record-missing", "requests/help.py", diff_ids[0]),
                ("record-unlisted", "requests/hook.py", diff_ids[1])}
    unread = [u for u in report.unknowns if "--verify-record" in u["reason"]]
    shown = "; ".join(f"{rule} {path} (layer {diff_ids.index(layer) + 1 if layer in diff_ids else layer})"
                      for rule, path, layer in sorted(found))
    rows = [Row(case, "record-modified certifi/cacert.pem (layer 2), record-missing requests/help.py (whited out), "
                      "record-unlisted requests/hook.py (layer 2); nothing else; no file left unverified",
                shown + (f"; {len(unread)} unverified" if unread else ""),
                found == expected and not unread)]
    plain = scan(ws, image)
    rows.append(Row(case, "without --verify-record: no record-* findings",
                    short(plain.rules("record-")), not plain.rules("record-")))
    return rows


def case_slim(ws: Workspace) -> list[Row]:
    """serverless-python-requirements ``slim: true``: ``**/*.py[c|o]``, ``**/__pycache__*`` and
    ``**/*.dist-info*`` deleted, every ``*.so`` stripped (``find -name '*.so' -exec strip {} ;``); and the
    same with the dist-info kept (``slimPatternsAppendDefaults: false``, as users do to keep metadata)."""
    rows = []
    case = "slim: true with dist-info kept (pyc deleted, .so stripped)"
    kept = ws.copy("requests", ws.scratch / "slim-kept")
    _slim(kept, delete_dist_info=False)
    stripped = sorted(p.relative_to(kept).as_posix() for p in kept.rglob("*.so"))
    report = scan(ws, zip_tree(kept, ws.scratch / "slim-kept.zip"), "--verify-record")
    record = report.rules("record-")
    modified = sorted(f["location"]["path"] for f in record if f["rule"] == "record-modified"
                      and "stripping debug symbols" in f["message"])
    rows.append(Row(case, f"record-modified for each of the {len(stripped)} stripped .so (saying stripping "
                          "changes the hash), nothing else (absent .pyc noted, not findings)",
                    short(record, 2) + ("; pyc note" if any(".pyc" in n for n in report.notes) else ""),
                    modified == stripped and len(record) == len(stripped) and bool(stripped)))
    case = "slim: true (defaults: dist-info deleted too)"
    slim = ws.copy("requests", ws.scratch / "slim")
    truth = {}
    for info in slim.glob("*.dist-info"):
        truth[info.name.removesuffix(".dist-info").rsplit("-", 1)[0]] = metadata_version(info)
    _slim(slim, delete_dist_info=True)
    report = scan(ws, zip_tree(slim, ws.scratch / "slim.zip"))
    for name, version in sorted(truth.items()):
        found = report.named(name)
        said = [describe(c) for c in found] + [f"unknown: {u['reason'][:90]}" for u in report.unknowns
                                               if f"identified as {name}" in u["reason"]]
        rows.append(Row(case, f"{name} {version} identified with its version",
                        "; ".join(said) or "nothing",
                        any(c["version"] == version and c["status"] == "vendored" for c in found)))
    return rows


def _slim(root: Path, *, delete_dist_info: bool) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        if not path.exists():
            continue
        if path.name == "__pycache__" or (delete_dist_info and path.name.endswith(".dist-info")):
            shutil.rmtree(path)
        elif path.suffix in (".pyc", ".pyo"):
            path.unlink()
    for so in root.rglob("*.so"):
        subprocess.run(["strip", str(so)], check=True)


def case_requirement_missing(ws: Workspace) -> list[Row]:
    """requests installed with its dependencies but idna removed (``rm -r idna idna-*.dist-info``)."""
    root = ws.copy("requests", ws.scratch / "no-idna")
    shutil.rmtree(root / "idna")
    shutil.rmtree(dist_info_of(root, "idna"))
    report = scan(ws, zip_tree(root, ws.scratch / "no-idna.zip", f"{SITE}/"))
    found = report.rules("requirement-")
    hit = [f for f in found if f["rule"] == "requirement-missing" and "requests" in (f.get("component") or "")
           and "idna" in f["message"]]
    return [Row("requirement missing (idna removed)", "one requirement-missing: requests requires idna",
                "; ".join(f["message"][:120] for f in found) or "none", len(hit) == 1 and len(found) == 1)]


def case_layer_conflict(ws: Workspace) -> list[Row]:
    """botocore in a function zip; urllib3 from layers (``pip install -t python/lib/python3.11/site-packages``
    or ``-t python``): botocore 1.34 requires urllib3>=1.25.4 (Python >= 3.10: !=2.2.0,<3)."""
    botocore = ws.site("botocore")
    old = ws.site("urllib3-old")
    new = ws.site("urllib3-new")
    old_version = metadata_version(dist_info_of(old, "urllib3"))
    new_version = metadata_version(dist_info_of(new, "urllib3"))
    function = zip_tree(botocore, ws.scratch / "function.zip")
    old_layer = zip_tree(old, ws.scratch / "urllib3-old-layer.zip", f"{SITE}/")
    new_layer_python = zip_tree(new, ws.scratch / "urllib3-new-python-layer.zip", "python/")
    function_new = ws.copy("botocore", ws.scratch / "function-new")
    shutil.copytree(new, function_new, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".installed"))
    function_with_urllib3 = zip_tree(function_new, ws.scratch / "function-with-urllib3.zip")
    rows = []

    case = "layer conflict: function zip + layer with an old urllib3"
    report = scan(ws, function, layers=[old_layer])
    found = [f for f in report.rules("requirement-conflict") if "botocore" in (f.get("component") or "")
             and "urllib3" in f["message"]]
    rows.append(Row(case, f"requirement-conflict: botocore rejects the layer's urllib3 {old_version}",
                    "; ".join(f["message"][:140] for f in found) or short(report.rules("requirement-")),
                    len(found) == 1 and old_version in found[0]["message"]))
    others = [f for f in report.rules("requirement-") if f not in found]
    rows.append(Row(case, "no other requirement findings (every other botocore requirement is installed)",
                    short(others), not others))

    case = "layer conflict: a layer's copy shadows a good one"
    report = scan(ws, function, layers=[new_layer_python, old_layer])
    found = [f for f in report.rules("requirement-conflict") if "botocore" in (f.get("component") or "")
             and "urllib3" in f["message"]]
    rows.append(Row(case, f"requirement-conflict naming both copies: {old_version} (imported, "
                          f"site-packages) and {new_version} (shadowed, python/)",
                    "; ".join(f["message"][:200] for f in found) or short(report.rules("requirement-")),
                    len(found) == 1 and old_version in found[0]["message"] and new_version in found[0]["message"]))
    shadowed = [c for c in report.named("urllib3") if c["status"] == "shadowed"]
    rows.append(Row(case, f"urllib3 {new_version} in python/ is shadowed",
                    "; ".join(describe(c) for c in report.named("urllib3")),
                    len(shadowed) == 1 and shadowed[0]["version"] == new_version))

    case = "layer conflict: the function's own urllib3 wins"
    report = scan(ws, function_with_urllib3, layers=[old_layer])
    requirement = report.rules("requirement-")
    rows.append(Row(case, f"no requirement finding (the function's urllib3 {new_version} is imported first)",
                    short(requirement), not requirement))
    shadowed = [c for c in report.named("urllib3") if c["status"] == "shadowed"]
    rows.append(Row(case, f"the layer's urllib3 {old_version} is shadowed",
                    "; ".join(describe(c) for c in report.named("urllib3")),
                    len(shadowed) == 1 and shadowed[0]["version"] == old_version))
    return rows


def case_real_vendored_trees(ws: Workspace) -> list[Row]:
    """Copies real distributions vendor without dist-info: six inside urllib3 1.24 and inside botocore."""
    rows = []
    for set_name, where in (("urllib3-old", "urllib3/packages/six.py"), ("botocore", "botocore/vendored/six.py")):
        site = ws.site(set_name)
        text = (site / where).read_text(errors="replace")
        match = re.search(r"^__version__\s*=\s*['\"]([^'\"]+)['\"]", text, re.M)
        if match is None:
            raise ValidateError(f"{where}: no __version__")
        report = scan(ws, zip_tree(site, ws.scratch / f"{set_name}-vendored.zip"))
        owner = where.split("/")[0]
        rows.append(one_vendored(f"six vendored in {owner}", report, "six", match.group(1), ("module-version",),
                                 where, by=owner))
    return rows


def case_clean_everything(ws: Workspace) -> list[Row]:
    """Every set but the old urllib3 installed into one site-packages (a layer zip): no record or requirement
    findings; what the default scan reports as vendored is listed."""
    root = ws.scratch / "everything"
    for name in ("requests", "botocore", "pip", "setuptools", "dateutil-yaml", "six"):
        shutil.copytree(ws.site(name), root, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".installed"))
    report = scan(ws, zip_tree(root, ws.scratch / "everything.zip", f"{SITE}/"), "--verify-record")
    case = "clean layer of every set (pip install -t)"
    record = report.rules("record-")
    requirement = report.rules("requirement-")
    rows = [
        Row(case, "--verify-record: no record-* findings", short(record), not record),
        Row(case, "no requirement-* findings (the set is complete)", short(requirement), not requirement),
    ]
    # botocore keeps exceptions-only stubs of requests and urllib3 (botocore/vendored/requests/, with
    # packages/urllib3/ whose __version__ is ''): identified by name, no version to match, so each is an unknown.
    stubs = {"botocore/vendored/requests/__init__.py": "requests",
             "botocore/vendored/requests/packages/urllib3/__init__.py": "urllib3"}
    expected_unknowns = {f"{SITE}/{path}": project for path, project in stubs.items()}
    unknown = {u["path"]: u["reason"] for u in report.unknowns}
    stub_ok = all(f"identified as {project}" in unknown.get(path, "") and "version unknown" in unknown.get(path, "")
                  for path, project in expected_unknowns.items())
    rows.append(Row(case, "unknowns: only botocore's two version-less stubs (vendored/requests, its urllib3), "
                          "each identified by name, version unknown",
                    "; ".join(f"{path.removeprefix(SITE + '/')}: {reason.rpartition(': ')[2][:60]}"
                              for path, reason in unknown.items()) or "none",
                    stub_ok and set(unknown) == set(expected_unknowns)))
    vendored = sorted({f"{c['name']} {c['version']}" for c in report.components if c["status"] == "vendored"})
    print(f"clean layer: {len(vendored)} distinct vendored copies: {', '.join(vendored)}", file=sys.stderr)
    return rows


_PIP_MISSING = re.compile(r"^(\S+) \S+ requires (\S+?), which is not installed\.$")
_PIP_CONFLICT = re.compile(r"^(\S+) \S+ has requirement (.+), but you have (\S+) \S+\.$")
_DEPSCAN_REQUIRES = re.compile(r"^\S+ \S+ requires ([A-Za-z0-9][A-Za-z0-9._-]*)")


def pip_check(ws: Workspace, sets: Iterable[str], drop: Iterable[str] = ()) -> tuple[Path, set[tuple[str, str, str]]]:
    """The sets installed into one site-packages directory (less the distributions ``drop`` names, directory and
    dist-info), and what the real ``pip check`` says of it: {(distribution, requirement, missing|conflict)}. pip
    runs against a venv made without pip (``python3 -m venv --without-pip``, a CPython 3.11 like the wheels')
    whose site-packages holds exactly those files (``pip --python``)."""
    name = "+".join(sets) + ("-" + "-".join(drop) if drop else "")
    env = ws.scratch / f"env-{name}"
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(env)], check=True)
    found = list(env.glob("lib/python3.*/site-packages"))
    if [p.parent.name for p in found] != [f"python{PYTHON}"]:
        raise ValidateError(f"python3 is not CPython {PYTHON} ({[p.parent.name for p in found]}): pip check would "
                            "judge markers for another Python than the wheels'")
    (site,) = found
    for set_name in sets:
        shutil.copytree(ws.site(set_name), site, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".installed"))
    for dropped in drop:
        shutil.rmtree(dist_info_of(site, dropped))
        shutil.rmtree(site / dropped)
    proc = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--python",
                           str(env / "bin/python"), "check"], capture_output=True, text=True, check=False)
    return site, _pip_check_lines(proc.stdout)


def case_pip_check_bench(ws: Workspace) -> list[Row]:
    """The same on the inventory benchmark's two sets (321 pure-Python wheels; 316 wheels of a large Lambda
    bundle, numpy to boto3; ``bench_inventory.py`` builds and caches the zips, a missing one is skipped): each
    unpacked into a venv for ``pip check``, and scanned as a layer's site-packages."""
    rows = []
    for title, name in (("321 pure-Python wheels", "pure-python"), ("316 wheels of the Lambda zip", "lambda-function")):
        zip_path = Path(f"~/.cache/depscan-bench/{name}.zip").expanduser()
        if not zip_path.is_file():
            print(f"validate_issue10: {zip_path} not built: skipped", file=sys.stderr)
            continue
        rows.append(_pip_check_zip(ws, title, name, zip_path))
        shutil.rmtree(ws.scratch / f"env-{name}")
    return rows


def _pip_check_zip(ws: Workspace, title: str, name: str, zip_path: Path) -> Row:
    env = ws.scratch / f"env-{name}"
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(env)], check=True)
    (site,) = env.glob(f"lib/python{PYTHON}/site-packages")
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(site)
    proc = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "--python",
                           str(env / "bin/python"), "check"], capture_output=True, text=True, check=False)
    truth = _pip_check_lines(proc.stdout)
    layer = zip_tree(site, ws.scratch / f"{name}-layer.zip", f"{SITE}/")
    report = scan(ws, layer)
    layer.unlink()
    said = _depscan_requirements(report)
    shown = "; ".join(f"{a} {kind} {b}" for a, b, kind in sorted(said ^ truth)[:6])
    return Row(f"pip check agrees: the benchmark's {title}", f"pip check's {len(truth)} broken requirements",
               f"{len(said)} findings, {len(said & truth)} in common" + (f"; differ: {shown}" if shown else ""),
               said == truth)


def _pip_check_lines(stdout: str) -> set[tuple[str, str, str]]:
    said: set[tuple[str, str, str]] = set()
    for line in stdout.splitlines():
        if (missing := _PIP_MISSING.match(line)) is not None:
            said.add((_norm(missing.group(1)), _norm(missing.group(2)), "missing"))
        elif (conflict := _PIP_CONFLICT.match(line)) is not None:
            said.add((_norm(conflict.group(1)), _norm(conflict.group(3)), "conflict"))
        elif line.strip() and line.strip() != "No broken requirements found.":
            raise ValidateError(f"pip check: a line not understood: {line!r}")
    return said


def _depscan_requirements(report: Report) -> set[tuple[str, str, str]]:
    said = set()
    for finding in report.rules("requirement-"):
        required = _DEPSCAN_REQUIRES.match(finding["message"])
        source = (finding.get("component") or "").removeprefix("pkg:pypi/").split("@")[0]
        said.add((_norm(source), _norm(required.group(1)) if required else "?",
                  finding["rule"].removeprefix("requirement-")))
    return said


def case_pip_check(ws: Workspace) -> list[Row]:
    """depscan's requirement findings against the real ``pip check`` on the same installed set (the issue: "as
    pip check would report them")."""
    rows = []
    envs: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
        (("requests",), ("idna",)),  # requests without idna
        (("botocore", "urllib3-old"), ()),  # botocore with urllib3 1.24.3 (what the layer case imports)
        (("dateutil-yaml",), ()),  # python-dateutil without six
        (("requests", "botocore", "pip", "setuptools", "dateutil-yaml", "six"), ()),  # complete
    ]
    for sets, drop in envs:
        site, truth = pip_check(ws, sets, drop)
        report = scan(ws, zip_tree(site, ws.scratch / f"{site.parent.parent.parent.name}.zip", f"{SITE}/"))
        said = _depscan_requirements(report)
        label = " + ".join(sets) + (f" without {', '.join(drop)}" if drop else "")
        rows.append(Row(f"pip check agrees: {label}",
                        "pip check: " + ("; ".join(f"{a} {kind} {b}" for a, b, kind in sorted(truth)) or "nothing"),
                        "; ".join(f"{a} {kind} {b}" for a, b, kind in sorted(said)) or "nothing",
                        said == truth))
    return rows


CASES: dict[str, Callable[[Workspace], list[Row]]] = {
    "six-copied": case_six_copied,
    "dist-info-deleted": case_dist_info_deleted,
    "pip-vendor-txt": case_pip_vendor_txt,
    "setuptools-vendor": case_setuptools_vendor,
    "certifi": case_certifi,
    "layer-conflict": case_layer_conflict,
    "real-vendored": case_real_vendored_trees,
    "clean": case_clean_everything,
    "image": case_image,
    "slim": case_slim,
    "requirement-missing": case_requirement_missing,
    "pip-check": case_pip_check,
    "pip-check-bench": case_pip_check_bench,
}


def print_table(rows: list[Row]) -> None:
    print("| case | expected | reported | |")
    print("|---|---|---|---|")
    for row in rows:
        cells = [row.case, row.expected, row.reported, "OK" if row.ok else "MISS"]
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help="installed sets are kept here")
    parser.add_argument("--only", nargs="*", choices=sorted(CASES), help="run these cases only")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir).expanduser()
    workdir.mkdir(parents=True, exist_ok=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="validate10-") as scratch:
        ws = Workspace(workdir, Path(scratch))
        try:
            for name in args.only or CASES:
                rows += CASES[name](ws)
        except ValidateError as e:
            print(f"validate_issue10: {e}", file=sys.stderr)
            print_table(rows)
            return 2
    print_table(rows)
    missed = sum(not row.ok for row in rows)
    print(f"\n{len(rows) - missed} OK, {missed} MISS", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
