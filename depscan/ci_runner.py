"""``python -m depscan.ci_runner``: the one command behind the GitHub Action (``action.yml``) and the
GitLab CI template (``ci/gitlab/depscan.gitlab-ci.yml``), configured by environment variables so that
both run exactly the same thing (and the tests run it too).

=====================  ==========================================================================
variable               meaning
=====================  ==========================================================================
DEPSCAN_MODE           ``scan`` (default: the build artifact) or ``rescan`` (a stored SBOM)
DEPSCAN_PATH           the artifact or SBOM (required)
DEPSCAN_LAYERS         Lambda layer zips for a scan, one per line (a path may hold spaces); a value
                       on one line is split at whitespace, unless it names an existing file
DEPSCAN_FAIL_ON        ``--fail-on`` (default ``high``)
DEPSCAN_FORMATS        report formats, comma-separated (default ``sarif,json,cyclonedx-json``)
DEPSCAN_OUTPUT_DIR     where the reports go (default ``depscan-reports``): ``depscan.sarif``,
                       ``depscan.json``, ``depscan.cdx.json``, ``depscan.cdx.xml``,
                       ``depscan.spdx.json``, ``depscan.md``
DEPSCAN_ADVISORIES     an OSV export zip (offline advisories), optional
DEPSCAN_DB             the offline database (depscan reads it itself), optional
DEPSCAN_SOURCE         ``--source`` (default ``auto``)
DEPSCAN_EXTRA_ARGS     more options, split like a shell would (``shlex``: quote a value with spaces)
DEPSCAN_DEFER_EXIT     ``true``: exit 0 and leave the exit code in the outputs, so that a later step
                       (SARIF upload) runs before the job fails on it
=====================  ==========================================================================

Outputs: ``exit-code``, ``sarif``, ``json`` and ``sbom`` (paths) appended to ``$GITHUB_OUTPUT`` when
set, and to ``$DEPSCAN_OUTPUT_DIR/outputs.env`` always (GitLab ``dotenv`` reports read it); the
Markdown report is appended to ``$GITHUB_STEP_SUMMARY`` when both exist.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

FILES = {
    "sarif": "depscan.sarif",
    "json": "depscan.json",
    "cyclonedx-json": "depscan.cdx.json",
    "cyclonedx-xml": "depscan.cdx.xml",
    "spdx-json": "depscan.spdx.json",
    "markdown": "depscan.md",
    "table": "depscan.txt",
}
DEFAULT_FORMATS = "sarif,json,cyclonedx-json"


def command(env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The depscan command line for these variables, and the outputs it will produce (name -> path)."""
    mode = env.get("DEPSCAN_MODE", "").strip() or "scan"
    if mode not in ("scan", "rescan"):
        raise ValueError(f"DEPSCAN_MODE must be scan or rescan, not {mode!r}")
    target = env.get("DEPSCAN_PATH", "").strip()
    if not target:
        raise ValueError("DEPSCAN_PATH is empty: name the artifact (scan) or the SBOM (rescan)")
    out = Path(env.get("DEPSCAN_OUTPUT_DIR", "").strip() or "depscan-reports")
    fail_on = env.get("DEPSCAN_FAIL_ON", "").strip() or "high"
    args = [sys.executable, "-m", "depscan", mode, target, "--fail-on", fail_on]
    layers = split_layers(env.get("DEPSCAN_LAYERS", ""))
    if layers and mode == "rescan":
        raise ValueError("DEPSCAN_LAYERS is for a scan: a rescan reads the layers from the SBOM")
    for layer in layers:
        args += ["--layer", layer]
    for variable, option in (("DEPSCAN_ADVISORIES", "--advisories"), ("DEPSCAN_SOURCE", "--source")):
        value = env.get(variable, "").strip()
        if value:
            args += [option, value]
    outputs: dict[str, str] = {}
    for fmt in (f.strip() for f in (env.get("DEPSCAN_FORMATS", "").strip() or DEFAULT_FORMATS).split(",")):
        if not fmt:
            continue
        if fmt not in FILES:
            raise ValueError(f"DEPSCAN_FORMATS: unknown format {fmt!r}; one of: {', '.join(FILES)}")
        path = str(out / FILES[fmt])
        args += ["-o", f"{fmt}={path}"]
        outputs[{"cyclonedx-json": "sbom", "cyclonedx-xml": "sbom-xml", "spdx-json": "spdx"}.get(fmt, fmt)] = path
    try:
        args += shlex.split(env.get("DEPSCAN_EXTRA_ARGS", ""))
    except ValueError as e:  # an unbalanced quote: say which variable
        raise ValueError(f"DEPSCAN_EXTRA_ARGS cannot be split like a shell would ({e}): check its quotes") from None
    return args, outputs


def split_layers(value: str) -> list[str]:
    """The layer paths of ``DEPSCAN_LAYERS``: one per line when the value has several lines (so that a path
    may hold spaces: a YAML ``|`` block); a one-line value is one path when a file of that name exists,
    else paths separated by whitespace."""
    if "\n" in value.strip():
        return [line.strip() for line in value.splitlines() if line.strip()]
    single = value.strip()
    if single and os.path.isfile(single):
        return [single]
    return single.split()


def main() -> int:
    env = dict(os.environ)
    try:
        args, outputs = command(env)
    except ValueError as e:
        print(f"depscan-ci: error: {e}", file=sys.stderr)
        return 2
    out = Path(env.get("DEPSCAN_OUTPUT_DIR", "").strip() or "depscan-reports")
    try:  # before the scan: an output directory that cannot be written fails in a second, not after the scan
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "outputs.env", "w", encoding="utf-8"):
            pass
    except OSError as e:
        print(f"depscan-ci: error: DEPSCAN_OUTPUT_DIR {str(out)!r}: cannot write there ({e.strerror or e})",
              file=sys.stderr)
        return 2
    print("depscan-ci: " + shlex.join(["depscan", *args[3:]]), file=sys.stderr, flush=True)
    code = subprocess.call(args)
    lines = [f"exit-code={code}", *(f"{name}={path}" for name, path in outputs.items())]
    with open(out / "outputs.env", "w", encoding="utf-8") as handle:
        handle.write("".join(f"DEPSCAN_{line.split('=', 1)[0].upper().replace('-', '_')}={line.split('=', 1)[1]}\n"
                             for line in lines))
    github_output = env.get("GITHUB_OUTPUT")
    if github_output:
        with open(github_output, "a", encoding="utf-8") as handle:
            handle.write("".join(f"{line}\n" for line in lines))
    summary = env.get("GITHUB_STEP_SUMMARY")
    markdown = outputs.get("markdown")
    if summary and markdown and os.path.isfile(markdown):
        with open(summary, "a", encoding="utf-8") as handle, open(markdown, encoding="utf-8") as report:
            handle.write(report.read())
    if env.get("DEPSCAN_DEFER_EXIT", "").strip().lower() == "true":
        return 0
    return code


if __name__ == "__main__":
    raise SystemExit(main())
