"""The GitHub Action (``action.yml``), its example workflow and the GitLab CI template, parsed and
run: each file's own commands are executed against the README demo, so they cannot rot.

What cannot run here is said and checked otherwise: third-party actions (``actions/setup-python``,
``github/codeql-action/upload-sarif``) are not executed, but the file the SARIF upload is given must
exist and be SARIF; installing depscan from the package index (GitLab's ``before_script``) is replaced
by the depscan of this checkout, already installed for the tests.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
SUBSET = REPO / "fixtures" / "advisories" / "pypi-subset.zip"
EXPRESSION = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEPSCAN_", "GITHUB_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    return env


class ActionRunner:
    """Runs a composite action's steps the way the runner does: expressions substituted, ``if``
    conditions of the forms this action uses evaluated, ``run`` steps in bash, outputs collected."""

    def __init__(self, action: dict[str, Any], inputs: dict[str, str], workdir: Path, env: dict[str, str]) -> None:
        self.action = action
        self.inputs = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()} | inputs
        self.workdir = workdir
        self.env = env
        self.outputs: dict[str, dict[str, str]] = {}
        self.uses: list[tuple[str, dict[str, str]]] = []
        self.exit_code: int | None = None

    def value(self, expression: str) -> str:
        if expression.startswith("inputs."):
            return self.inputs[expression.removeprefix("inputs.")]
        if expression == "github.action_path":
            return str(REPO)
        match = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression)
        if match:
            return self.outputs.get(match[1], {}).get(match[2], "")
        raise AssertionError(f"expression the test does not know: {expression}")

    def substitute(self, text: str) -> str:
        return EXPRESSION.sub(lambda m: self.value(m[1]), text)

    def condition(self, text: str | None) -> bool:
        if text is None:
            return True
        result = True
        for part in (p.strip() for p in text.split("&&")):
            if part == "always()":
                continue
            left, op, right = re.fullmatch(r"(\S+)\s*(==|!=)\s*'([^']*)'", part).groups()  # type: ignore[union-attr]
            got = self.value(left)
            result = result and (got == right if op == "==" else got != right)
        return result

    def run(self) -> None:
        for step in self.action["runs"]["steps"]:
            if not self.condition(step.get("if")):
                continue
            if "uses" in step:
                self.uses.append((step["uses"], {k: self.substitute(str(v)) for k, v in step.get("with", {}).items()}))
                continue
            output = self.workdir / f"output-{len(self.outputs)}"
            output.write_text("")
            env = self.env | {k: self.substitute(str(v)) for k, v in step.get("env", {}).items()}
            env["GITHUB_OUTPUT"] = str(output)
            env["GITHUB_STEP_SUMMARY"] = str(self.workdir / "summary.md")
            proc = subprocess.run(["bash", "-e", "-c", self.substitute(step["run"])], cwd=self.workdir, env=env,
                                  capture_output=True, text=True, timeout=300)
            if "id" in step:
                self.outputs[step["id"]] = dict(
                    line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
                )
            if proc.returncode != 0:
                self.exit_code = proc.returncode
                return
        self.exit_code = 0


@pytest.fixture
def action() -> dict[str, Any]:
    return load(REPO / "action.yml")


def test_every_expression_names_a_declared_input_or_step(action: dict[str, Any]) -> None:
    text = (REPO / "action.yml").read_text()
    step_ids = {step.get("id") for step in action["runs"]["steps"]}
    for expression in EXPRESSION.findall(text):
        if expression.startswith("inputs."):
            assert expression.removeprefix("inputs.") in action["inputs"], expression
        elif expression.startswith("steps."):
            assert expression.split(".")[1] in step_ids, expression
        else:
            assert expression == "github.action_path", expression


def test_action_scans_the_demo_uploads_sarif_and_fails(action: dict[str, Any], demo: tuple[Path, Path],
                                                       tmp_path: Path) -> None:
    function, layer = demo
    runner = ActionRunner(action, {"path": str(function), "layers": str(layer), "advisories": str(SUBSET),
                                   "install": "false"}, tmp_path, _env(tmp_path))
    runner.run()
    assert runner.exit_code == 1  # the last step fails the job on the findings, after the upload
    outputs = runner.outputs["depscan"]
    assert outputs["exit-code"] == "1"
    sarif_upload = [w for uses, w in runner.uses if uses.startswith("github/codeql-action/upload-sarif@")]
    assert len(sarif_upload) == 1
    sarif = json.loads((tmp_path / sarif_upload[0]["sarif_file"]).read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["results"]
    sbom = json.loads((tmp_path / outputs["sbom"]).read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert "requests" in (tmp_path / "summary.md").read_text()  # the Markdown report in the job summary


def test_action_rescans_a_stored_sbom(action: dict[str, Any], demo: tuple[Path, Path], tmp_path: Path) -> None:
    function, layer = demo
    first = ActionRunner(action, {"path": str(function), "layers": str(layer), "advisories": str(SUBSET),
                                  "install": "false", "fail-on": "critical", "output-dir": "build"},
                         tmp_path, _env(tmp_path))
    first.run()
    assert first.exit_code == 0
    sbom = tmp_path / first.outputs["depscan"]["sbom"]
    rescan = ActionRunner(action, {"mode": "rescan", "path": str(sbom), "advisories": str(SUBSET), "install": "false",
                                   "upload-sarif": "false"}, tmp_path, _env(tmp_path))
    rescan.run()
    assert rescan.exit_code == 1 and rescan.outputs["depscan"]["exit-code"] == "1"
    assert not rescan.uses  # no SARIF upload when it is turned off


def test_example_workflow_uses_the_action_as_declared(action: dict[str, Any]) -> None:
    workflow = load(REPO / "docs" / "ci" / "github-workflow.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "push" in triggers and "schedule" in triggers
    uses = [step for job in workflow["jobs"].values() for step in job["steps"]
            if str(step.get("uses", "")).endswith("/depscan@main")]
    assert {step["with"].get("mode", "scan") for step in uses} == {"scan", "rescan"}
    for step in uses:
        assert set(step["with"]) <= set(action["inputs"]), step["with"]
    text = (REPO / "docs" / "ci" / "github-workflow.yml").read_text()
    for output in re.findall(r"steps\.depscan\.outputs\.([\w-]+)", text):
        assert output in action["outputs"]
    assert workflow["permissions"]["security-events"] == "write"


def gitlab_job(template: dict[str, Any], name: str) -> dict[str, Any]:
    """A job with its ``extends`` chain merged as GitLab does (deep merge of hashes, lists replaced)."""
    job = template[name]
    parent = job.get("extends")
    if parent is None:
        return dict(job)
    merged = gitlab_job(template, parent)
    for key, value in job.items():
        if key == "extends":
            continue
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merged[key] | value
        else:
            merged[key] = value
    return merged


def run_gitlab_job(job: dict[str, Any], variables: dict[str, str], tmp_path: Path) -> int:
    env = _env(tmp_path) | {k: str(v) for k, v in job["variables"].items()} | variables
    assert any("pip install" in line and "$DEPSCAN_PIP_SPEC" in line for line in job["before_script"])
    code = 0
    for line in job["script"]:
        code = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, timeout=300).returncode
        if code:
            break
    return code


def test_gitlab_template_scans_on_push_and_rescans_on_schedule(demo: tuple[Path, Path], tmp_path: Path) -> None:
    template = load(REPO / "ci" / "gitlab" / "depscan.gitlab-ci.yml")
    scan = gitlab_job(template, ".depscan-scan")
    assert "push" in scan["rules"][0]["if"]
    function, layer = demo
    code = run_gitlab_job(scan, {"DEPSCAN_PATH": str(function), "DEPSCAN_LAYERS": str(layer),
                                 "DEPSCAN_ADVISORIES": str(SUBSET)}, tmp_path)
    assert code == 1
    sbom = tmp_path / scan["artifacts"]["reports"]["cyclonedx"][0]
    assert json.loads(sbom.read_text())["bomFormat"] == "CycloneDX"
    dotenv = (tmp_path / scan["artifacts"]["reports"]["dotenv"]).read_text()
    assert "DEPSCAN_EXIT_CODE=1\n" in dotenv and "DEPSCAN_SARIF=depscan-reports/depscan.sarif\n" in dotenv
    kept = tmp_path / "kept.cdx.json"
    kept.write_bytes(sbom.read_bytes())
    rescan = gitlab_job(template, ".depscan-rescan")
    assert rescan["rules"][0]["if"] == '$CI_PIPELINE_SOURCE == "schedule"'
    code = run_gitlab_job(rescan, {"DEPSCAN_PATH": str(kept), "DEPSCAN_ADVISORIES": str(SUBSET)}, tmp_path)
    assert code == 1


def test_runner_refuses_bad_variables(tmp_path: Path) -> None:
    env = _env(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "depscan.ci_runner"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "DEPSCAN_PATH is empty" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "depscan.ci_runner"], cwd=tmp_path,
                          env=env | {"DEPSCAN_PATH": "x.zip", "DEPSCAN_FORMATS": "pdf"}, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2 and "unknown format 'pdf'" in proc.stderr


def test_layers_with_spaces_quoted_extra_args_and_an_unwritable_output_dir(tmp_path: Path) -> None:
    from depscan.ci_runner import command, split_layers

    spaced = tmp_path / "my layers" / "layer one.zip"
    spaced.parent.mkdir()
    spaced.write_bytes(b"PK\x05\x06" + b"\0" * 18)
    # one per line (a YAML | block): a path keeps its spaces; a one-line value naming a file is that file
    assert split_layers(f"{spaced}\n  b.zip \n\n") == [str(spaced), "b.zip"]
    assert split_layers(f" {spaced} ") == [str(spaced)]
    assert split_layers("a.zip b.zip") == ["a.zip", "b.zip"]
    args, _outputs = command({"DEPSCAN_PATH": "fn dir/f.zip", "DEPSCAN_LAYERS": f"{spaced}\nb.zip",
                              "DEPSCAN_EXTRA_ARGS": "--runtime python3.12 --ignore-file 'my ignores.yml'"})
    assert args[3:5] == ["scan", "fn dir/f.zip"]
    assert args[args.index("--layer") + 1] == str(spaced) and args.count("--layer") == 2
    assert args[-2:] == ["--ignore-file", "my ignores.yml"]
    env = _env(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "depscan.ci_runner"], cwd=tmp_path,
                          env=env | {"DEPSCAN_PATH": "x.zip", "DEPSCAN_EXTRA_ARGS": "--runtime 'python3.12"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "DEPSCAN_EXTRA_ARGS cannot be split" in proc.stderr
    (tmp_path / "taken").write_text("a file where the output directory should be")
    proc = subprocess.run([sys.executable, "-m", "depscan.ci_runner"], cwd=tmp_path,
                          env=env | {"DEPSCAN_PATH": "x.zip", "DEPSCAN_OUTPUT_DIR": "taken/reports"},
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "DEPSCAN_OUTPUT_DIR 'taken/reports': cannot write there" in proc.stderr
    assert "depscan-ci: depscan scan" not in proc.stderr  # refused before the scan started
