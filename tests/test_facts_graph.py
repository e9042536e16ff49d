"""``facts.dependency_graph``: a distribution that asks for its own extra."""

from __future__ import annotations

from packaging.markers import default_environment

from depscan.facts import dependency_graph
from depscan.models import PythonDist, Status
from tests.helpers import make_dist


def d(name: str, version: str, *requires: str, root: str = "site", status: Status = Status.USED) -> PythonDist:
    return make_dist(name, version, f"{root}/{name}-{version}.dist-info/METADATA", site_root=root,
                     requires_dist=requires, status=status)


FOO = ("foo[bar]", 'baz; extra == "bar"', 'qux; extra == "other"')


def edges(dists: list[PythonDist]) -> tuple[set[tuple[str, str]], set[tuple[str, str]], list[str]]:
    graph = dependency_graph(dists, dict(default_environment()))
    def named(pairs: tuple[tuple[int, ...], ...]) -> set[tuple[str, str]]:
        return {(f"{dists[i].name}@{dists[i].site_root}", f"{dists[j].name}@{dists[j].site_root}")
                for i, targets in enumerate(pairs) for j in targets}
    return named(graph.requires), named(graph.optional), [dists[i].name for i in graph.top]


def test_its_own_extra_switches_on_its_own_requirements() -> None:
    requires, optional, top = edges([d("foo", "1.0", *FOO), d("baz", "1.0"), d("qux", "1.0")])
    assert requires == {("foo@site", "baz@site")}  # no self-edge; bar's requirement followed
    assert optional == {("foo@site", "qux@site")}
    assert top == ["foo", "qux"]


def test_its_own_extra_never_links_another_copy_of_itself() -> None:
    dists = [d("foo", "1.0", *FOO), d("baz", "1.0"),
             d("foo", "0.9", *FOO, root="layer", status=Status.SHADOWED)]
    requires, _, top = edges(dists)
    assert requires == {("foo@site", "baz@site"), ("foo@layer", "baz@site")}
    assert top == ["foo"]


def test_marker_environment_follows_the_target_runtime() -> None:
    """The dependency graph judges markers for the same interpreter as the requirement check: the
    result's target runtime where it is known, the artifact's own evidence otherwise."""
    from depscan.environment import marker_environment
    from depscan.models import ArtifactInfo, ScanResult, TargetRuntime

    dists = (d("app", "1.0", 'tomli; python_version < "3.11"', 'uvloop; platform_machine == "aarch64"'),)
    bare = ScanResult(ArtifactInfo("a.zip", "zip", 1), dists, ())
    assert marker_environment(bare)["python_version"] == "3.12"  # nothing says: the documented default
    assert marker_environment(bare)["platform_machine"] == "x86_64"
    on_310_arm = ScanResult(ArtifactInfo("a.zip", "zip", 1), dists, (),
                            target=TargetRuntime(runtime="python3.10", python="3.10", machine="aarch64"))
    env = marker_environment(on_310_arm)
    assert env["python_version"] == "3.10" and env["python_full_version"] == "3.10.0"
    assert env["platform_machine"] == "aarch64"
    half = ScanResult(ArtifactInfo("a.zip", "zip", 1), dists, (), target=TargetRuntime(machine="aarch64"))
    assert marker_environment(half)["python_version"] == "3.12"  # the part the target leaves unknown: inferred
