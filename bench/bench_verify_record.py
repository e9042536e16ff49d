"""What ``--verify-record`` costs, against "read every member once" measured in the same run.

``depscan scan --verify-record`` reads and hashes every file each RECORD lists (the default scan reads
only metadata files). On the two zips ``bench/bench_inventory.py`` builds and caches (``lambda``: 316 real
wheels, 752 MB unzipped; ``pure``: 321 small pure-Python wheels), this measures, interleaved in each
round (the order alternating), as whole subprocesses the way a user runs them:

* baseline: ``bench_inventory``'s baseline, a fresh interpreter that opens the zip with ``zipfile`` and
  reads every member once (the cost of unpacking it);
* scan: ``python -m depscan scan ZIP --source skip --format json --output FILE``;
* verify: the same with ``--verify-record``.

With ``--tar-gz`` (or ``--form tar.gz``/``both``) the same three run on a ``.tar.gz`` holding the zip's members (built
once in the scratch directory, members in the zip's order), where the baseline is a fresh interpreter reading
every member once with ``tarfile`` in one stream (``r|gz``, the cost of unpacking it), and depscan reads it in its
one streaming pass: with ``--verify-record`` that pass hashes every member as it streams by, and the files it did
not keep are judged by those digests (``record_files_streamed``).

It prints the medians, the ratios to the baseline, peak memory, what the verification read (the JSON
report's ``stats``) and the findings per rule: real wheels installed by pip should give none, so any
finding there is a false positive to look at. Exit status 0, or 2 when a zip is missing or a run failed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inventory import BASELINE_CODE, DEFAULT_WORKDIR, SHAPES, Run, measure

# The read-everything baseline for a compressed tar: one stream, every member read once.
TAR_BASELINE_CODE = """\
import sys, tarfile
total = 0
with tarfile.open(sys.argv[1], mode="r|*") as tf:
    for member in tf:
        fh = tf.extractfile(member)
        if fh is not None:
            total += len(fh.read())
print(total)
"""


def zip_to_tar_gz(zip_path: Path, tar_path: Path) -> None:
    """The zip's members (files, directories, symlinks; in its order, with their modes) as a gzip tar."""
    import io
    import stat
    import tarfile
    import zipfile

    with zipfile.ZipFile(zip_path) as zf, tarfile.open(tar_path, "w:gz", compresslevel=6) as tf:
        for info in zf.infolist():
            mode = info.external_attr >> 16
            member = tarfile.TarInfo(info.filename.rstrip("/"))
            member.mtime = 1700000000
            if info.is_dir():
                member.type, member.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(member)
            elif stat.S_ISLNK(mode):
                member.type, member.linkname = tarfile.SYMTYPE, zf.read(info).decode()
                tf.addfile(member)
            else:
                data = zf.read(info)
                member.size, member.mode = len(data), (mode & 0o777) or 0o644
                tf.addfile(member, io.BytesIO(data))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shape", choices=[*SHAPES, "both"], default="both")
    parser.add_argument("--workdir", default=str(DEFAULT_WORKDIR), help="where bench_inventory cached the zips")
    parser.add_argument("--repeat", type=int, default=3, help="timed rounds (default: %(default)s)")
    parser.add_argument("--form", choices=["zip", "tar.gz", "both"], default="zip",
                        help="the zip as cached, a .tar.gz of its members, or both (default: %(default)s)")
    parser.add_argument("--tar-gz", action="store_const", const="both", dest="form", help="same as --form both")
    args = parser.parse_args(argv)
    workdir = Path(args.workdir).expanduser()
    shapes = list(SHAPES.values()) if args.shape == "both" else [SHAPES[args.shape]]
    status = 0
    with tempfile.TemporaryDirectory(prefix="bench-verify-record-") as scratch:
        for shape in shapes:
            zip_path = workdir / shape.zip_name
            if not zip_path.is_file():
                print(f"bench_verify_record: {zip_path}: no such zip (build it with bench/bench_inventory.py "
                      f"--shape {shape.name} --build-only)", file=sys.stderr)
                status = 2
                continue
            if args.form in ("zip", "both"):
                status = max(status, bench_shape(shape.name, zip_path, Path(scratch), args.repeat))
            if args.form in ("tar.gz", "both"):
                tar_path = Path(scratch) / f"{shape.name}.tar.gz"
                zip_to_tar_gz(zip_path, tar_path)
                status = max(status, bench_shape(f"{shape.name} (.tar.gz)", tar_path, Path(scratch), args.repeat,
                                                 TAR_BASELINE_CODE))
    return status


def bench_shape(name: str, zip_path: Path, scratch: Path, repeat: int, baseline_code: str = BASELINE_CODE) -> int:
    print(f"== {name}: {zip_path} ({zip_path.stat().st_size / 1e6:.1f} MB)")
    report = scratch / f"{name.split()[0]}-{zip_path.suffix.lstrip('.')}.json"
    scan = [sys.executable, "-m", "depscan", "scan", str(zip_path), "--source", "skip", "--format", "json",
            "--output", str(report)]
    commands = {
        "baseline": [sys.executable, "-c", baseline_code, str(zip_path)],
        "scan": scan,
        "verify": [*scan, "--verify-record"],
    }
    runs: dict[str, list[Run]] = {step: [] for step in commands}
    order = list(commands)
    for round_number in range(repeat + 1):  # round 0: untimed warm-up (page cache, .pyc files)
        for step in order if round_number % 2 == 0 else reversed(order):
            run = measure(commands[step], scratch)
            if run.returncode not in (0, 1):  # 1: --verify-record found something
                print(f"bench_verify_record: {step} exited {run.returncode}", file=sys.stderr)
                return 2
            if round_number:
                runs[step].append(run)
                print(f"  round {round_number}/{repeat} {step:8} {run.wall:7.3f} s  cpu {run.cpu:7.3f} s  "
                      f"max RSS {run.max_rss_mb:6.1f} MB")
    wall = {step: statistics.median(r.wall for r in done) for step, done in runs.items()}
    cpu = {step: statistics.median(r.cpu for r in done) for step, done in runs.items()}
    rss = {step: max(r.max_rss_mb for r in done) for step, done in runs.items()}
    base = wall["baseline"]
    for step in commands:
        print(f"  {step:8} median {wall[step]:7.3f} s = {wall[step] / base:5.2f}x baseline, "
              f"cpu {cpu[step]:7.3f} s = {cpu[step] / cpu['baseline']:5.2f}x, max RSS {rss[step]:6.1f} MB")
    added = wall["verify"] - wall["scan"]
    added_cpu = cpu["verify"] - cpu["scan"]
    print(f"  --verify-record adds {added:.3f} s = {added / base:.2f}x baseline "
          f"(cpu {added_cpu:.3f} s = {added_cpu / cpu['baseline']:.2f}x; the cpu ratios are the ones to read "
          "when other work shares the machine)")
    # The last run written was a verify run or a scan run: run verify once more for its report.
    measure(commands["verify"], scratch)
    data = json.loads(report.read_text())
    stats = data.get("stats", {})
    print(f"  verified: {stats.get('record_distributions')} distributions, {stats.get('record_files_checked')} files "
          f"({stats.get('record_files_streamed')} by the streaming pass's digests), "
          f"{int(stats.get('record_bytes_read', 0)) / 1e6:.1f} MB hashed, "
          f"{stats.get('record_rows_without_hash')} rows without a hash")
    rules = Counter(f["rule"] for f in data.get("policy_findings", []) if f["rule"].startswith("record-"))
    print(f"  findings: {dict(sorted(rules.items())) or 'none'}")
    for finding in [f for f in data.get("policy_findings", []) if f["rule"].startswith("record-")][:5]:
        print(f"    {finding['rule']}: {finding['message'][:160]}")
    record_unknowns = [u for u in data.get("unknowns", []) if "--verify-record" in str(u)]
    print(f"  unknowns from --verify-record: {len(record_unknowns)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
