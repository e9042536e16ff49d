"""Benchmark of ``depscan aws lambda``: a fleet of functions scanned end to end against moto.

What it builds: a moto server (``moto[server]``, a test dependency) on a loopback port holding
``--functions`` functions. Every function ships the README demo's function zip (or ``--function-zip``);
every ``--share``-th function uses one shared layer (the demo layer, or ``--layer-zip``), the others
none. Code is served over real HTTP from a loopback server (moto answers code locations on fictitious
hosts; the fetcher maps them to the loopback server, the download code itself is the real one).

What it measures, in the same run (the machines here are noisy; medians of ``--repeat``):
    * baseline: ``scan.run`` of the function zip with the layer, in process, once per function, and
      the same two reports the fleet writes per function (CycloneDX JSON and JSON): the cost of the
      scans themselves, nothing about AWS;
    * fleet: ``scan_fleet`` over the whole account (listing, GetFunction/GetLayerVersion, downloads
      with ``--concurrency`` threads, each shared layer once, scans, per-function SBOMs);
    * the ratio fleet / baseline: what listing and downloading add. Target: <= 1.5.

    python bench/bench_aws_fleet.py --functions 100 --repeat 3
"""

from __future__ import annotations

import argparse
import http.server
import os
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any, ClassVar

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "fixtures" / "demo"))


class _Files(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        data = self.files.get(self.path)
        self.send_response(200 if data is not None else 404)
        self.send_header("Content-Length", str(len(data or b"")))
        self.end_headers()
        self.wfile.write(data or b"")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--functions", type=int, default=100)
    parser.add_argument("--share", type=int, default=1, help="every N-th function uses the shared layer")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--function-zip", type=Path)
    parser.add_argument("--layer-zip", type=Path)
    args = parser.parse_args()

    import logging

    import boto3

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from moto.server import ThreadedMotoServer

    from depscan.aws.fetch import CodeFetcher
    from depscan.aws.lambda_fleet import FleetOptions, scan_fleet
    from depscan.config import ScanConfig
    from depscan.output import write_output
    from depscan.reporters import ReportOptions, get_reporter
    from depscan.scan import run

    work = Path(tempfile.mkdtemp(prefix="depscan-bench-aws-"))
    os.environ.setdefault("DEPSCAN_CACHE_DIR", str(work / "native-cache"))
    for key, value in (("AWS_ACCESS_KEY_ID", "bench"), ("AWS_SECRET_ACCESS_KEY", "bench"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):
        os.environ[key] = value
    if args.function_zip and args.layer_zip:
        function, layer = args.function_zip, args.layer_zip
    else:
        from build_demo import build

        function, layer = build(work / "demo")
    function_bytes, layer_bytes = function.read_bytes(), layer.read_bytes()

    files = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=files.serve_forever, daemon=True).start()
    code_base = f"http://127.0.0.1:{files.server_address[1]}"
    _Files.files = {"/function.zip": function_bytes, "/layer.zip": layer_bytes}

    class LoopbackFetcher(CodeFetcher):
        def fetch(self, location: str, dest: Path, *, what: str, sha256_b64: str | None = None) -> Path:
            path = "/layer.zip" if what.startswith("layer ") else "/function.zip"
            return super().fetch(code_base + path, dest, what=what, sha256_b64=sha256_b64)

    srv = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")).close()
    client = boto3.client("lambda", region_name="us-east-1", endpoint_url=endpoint)
    role = boto3.client("iam", region_name="us-east-1", endpoint_url=endpoint).create_role(
        RoleName="bench", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    shared = client.publish_layer_version(LayerName="shared", Content={"ZipFile": layer_bytes})["LayerVersionArn"]
    for number in range(args.functions):
        layers = [shared] if number % args.share == 0 else []
        client.create_function(FunctionName=f"fn-{number:04d}", Runtime="python3.12", Role=role,
                               Handler="app.handler", Code={"ZipFile": function_bytes}, Layers=layers)
    with_layer = sum(1 for n in range(args.functions) if n % args.share == 0)

    baseline_runs: list[float] = []
    fleet_runs: list[float] = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        for number in range(args.functions):
            result = run(ScanConfig(path=str(function), layers=(str(layer),) if number % args.share == 0 else (),
                                    kind="lambda-function", hash_artifact=True, runtime="python3.12"))
            for fmt, name in (("cyclonedx-json", "cdx.json"), ("json", "json")):
                write_output(str(work / f"baseline.{name}"), get_reporter(fmt)(result, ReportOptions()))
        baseline_runs.append(time.perf_counter() - started)
        started = time.perf_counter()
        fleet = scan_fleet(FleetOptions(regions=("us-east-1",), all_functions=True, endpoint_url=endpoint,
                                        concurrency=args.concurrency, out_dir=work / "out"),
                           fetcher=LoopbackFetcher())
        fleet_runs.append(time.perf_counter() - started)
        assert len(fleet.functions) == args.functions
        assert all(f.outcome == "scanned" for f in fleet.functions), [f.reason for f in fleet.functions][:3]
        assert [layer.users for layer in fleet.layers] == [with_layer]
    srv.stop()
    files.shutdown()
    baseline, measured = statistics.median(baseline_runs), statistics.median(fleet_runs)
    ratio = measured / baseline
    print(f"functions: {args.functions} ({with_layer} with the shared layer, downloaded once per fleet run); "
          f"function zip {len(function_bytes)} B, layer zip {len(layer_bytes)} B; load {os.getloadavg()[0]:.2f}")
    print(f"baseline (scan.run per function, in process): {baseline:.2f} s ({baseline / args.functions * 1000:.1f} "
          "ms per function)")
    print(f"fleet (list + download + scan + SBOMs): {measured:.2f} s ({measured / args.functions * 1000:.1f} ms per "
          f"function)")
    print(f"ratio fleet / baseline: {ratio:.2f} (target <= 1.5: {'met' if ratio <= 1.5 else 'NOT met'})")
    return 0 if ratio <= 1.5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
