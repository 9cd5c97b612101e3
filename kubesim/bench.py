"""kubesim benchmarks: ``python -m kubesim.bench`` (used by ``make bench``).

Prints, against targets from the project's issue:

* start-up to first answered request, in-process (what the pytest fixture
  pays) and as a ``python -m kubesim serve`` process (interpreter, imports,
  CA and serving certificate creation included), each the median of three
  runs on a fresh state directory — target ≤ 0.5 s;
* p50/p95/p99 round trip of a GET over one keep-alive HTTPS connection with
  a client certificate — target p50 ≤ 5 ms;
* 1,000 sequential namespace creates on that connection — target ≤ 5 s.

The round-trip and create figures are measured against a separate
``kubesim serve`` process so the client does not share the server's GIL,
which is how the portal, kubectl and the test suite talk to it. Nothing here
asserts: ``--strict`` makes a missed target exit 1.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import shutil
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

TARGETS = {"startup_s": 0.5, "get_p50_ms": 5.0, "creates_s": 5.0}


class Client:
    """A keep-alive HTTPS client authenticated by the client certificate of a kubeconfig."""

    def __init__(self, kubeconfig: Path):
        config = yaml.safe_load(Path(kubeconfig).read_text())
        cluster = config["clusters"][0]["cluster"]
        user = config["users"][0]["user"]
        self._tmp = tempfile.mkdtemp(prefix="kubesim-bench-")
        cert, key = Path(self._tmp, "c.pem"), Path(self._tmp, "k.pem")
        cert.write_bytes(base64.b64decode(user["client-certificate-data"]))
        key.write_bytes(base64.b64decode(user["client-key-data"]))
        ctx = ssl.create_default_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
        ctx.load_cert_chain(str(cert), str(key))
        host_port = cluster["server"].split("://", 1)[1]
        host, _, port = host_port.rpartition(":")
        self.conn = http.client.HTTPSConnection(host.strip("[]"), int(port), context=ctx, timeout=30)

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        self.conn.request(method, path, body=data, headers=headers)
        resp = self.conn.getresponse()
        return resp.status, resp.read()

    def close(self) -> None:
        self.conn.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


def _percentile(samples: list[float], pct: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def _wait_ready(kubeconfig: Path, deadline: float) -> Client:
    while True:
        try:
            client = Client(kubeconfig)
            status, _ = client.request("GET", "/version")
            if status == 200:
                return client
            client.close()
        except (OSError, KeyError, ssl.SSLError, http.client.HTTPException):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("kubesim did not answer in time")
        time.sleep(0.005)


def startup_in_process(runs: int = 3) -> float:
    """Median seconds from ``testing.start()`` to the first answered GET, fresh state dir each run."""
    from kubesim import testing

    samples = []
    for _ in range(runs):
        state = Path(tempfile.mkdtemp(prefix="kubesim-bench-"))
        try:
            start = time.perf_counter()
            handle = testing.start(state)
            client = Client(handle.admin_kubeconfig)
            status, _ = client.request("GET", "/version")
            samples.append(time.perf_counter() - start)
            assert status == 200
            client.close()
            handle.stop()
        finally:
            shutil.rmtree(state, ignore_errors=True)
    return statistics.median(samples)


def startup_process(runs: int = 3) -> float:
    """Median seconds from spawning ``python -m kubesim serve`` to its first answered GET, fresh state dir each run.

    A median of several runs, like the in-process figure: a single sample on a
    shared 2-core machine mostly measures what else happens to be running.
    """
    samples = []
    for _ in range(runs):
        state = Path(tempfile.mkdtemp(prefix="kubesim-bench-"))
        server = None
        try:
            server = ServerProcess(state)
            samples.append(server.ready_after)
        finally:
            if server is not None:
                server.stop()
            shutil.rmtree(state, ignore_errors=True)
    return statistics.median(samples)


class ServerProcess:
    """``python -m kubesim serve --port 0`` in a child process."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.started = time.perf_counter()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kubesim", "serve", "--port", "0", "--state-dir", str(state_dir)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        )
        for line in self.proc.stdout:
            if line.startswith("admin kubeconfig:"):
                self.kubeconfig = Path(line.split(":", 1)[1].strip())
                break
        else:
            raise RuntimeError(f"kubesim serve exited with {self.proc.wait()}")
        self.client = _wait_ready(self.kubeconfig, time.monotonic() + 30)
        self.ready_after = time.perf_counter() - self.started

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def get_round_trips(client: Client, count: int = 2000) -> list[float]:
    """Milliseconds per GET of one namespace over the keep-alive connection (after a warm-up)."""
    for _ in range(50):
        client.request("GET", "/api/v1/namespaces/default")
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        status, _ = client.request("GET", "/api/v1/namespaces/default")
        samples.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise RuntimeError(f"GET answered {status}")
    return samples


def namespace_creates(client: Client, count: int = 1000) -> float:
    """Seconds for ``count`` sequential namespace creates."""
    start = time.perf_counter()
    for i in range(count):
        status, body = client.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"bench-{i:05d}"}})
        if status != 201:
            raise RuntimeError(f"create answered {status}: {body[:200]!r}")
    return time.perf_counter() - start


def _verdict(value: float, target: float) -> str:
    return "ok" if value <= target else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kubesim.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--gets", type=int, default=2000, help="GET round trips to time (default 2000)")
    parser.add_argument("--creates", type=int, default=1000, help="namespaces to create (default 1000)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    results = {}
    results["startup_in_process_s"] = startup_in_process()
    results["startup_process_s"] = startup_process()
    state = Path(tempfile.mkdtemp(prefix="kubesim-bench-"))
    server = None
    try:
        server = ServerProcess(state)
        samples = get_round_trips(server.client, args.gets)
        results["get_p50_ms"] = _percentile(samples, 50)
        results["get_p95_ms"] = _percentile(samples, 95)
        results["get_p99_ms"] = _percentile(samples, 99)
        results["creates_s"] = namespace_creates(server.client, args.creates)
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(state, ignore_errors=True)

    rows = [
        ("start-up to first request, in-process (fixture)", f"{results['startup_in_process_s']:.3f} s", "≤ 0.5 s", _verdict(results["startup_in_process_s"], TARGETS["startup_s"])),
        ("start-up to first request, `kubesim serve` process", f"{results['startup_process_s']:.3f} s", "≤ 0.5 s", _verdict(results["startup_process_s"], TARGETS["startup_s"])),
        (f"GET round trip p50 ({args.gets} keep-alive HTTPS)", f"{results['get_p50_ms']:.2f} ms", "≤ 5 ms", _verdict(results["get_p50_ms"], TARGETS["get_p50_ms"])),
        ("GET round trip p95", f"{results['get_p95_ms']:.2f} ms", "", ""),
        ("GET round trip p99", f"{results['get_p99_ms']:.2f} ms", "", ""),
        (f"{args.creates} namespace creates (sequential)", f"{results['creates_s']:.2f} s", "≤ 5 s" if args.creates == 1000 else "", _verdict(results["creates_s"], TARGETS["creates_s"]) if args.creates == 1000 else ""),
    ]
    width = max(len(r[0]) for r in rows)
    print("kubesim benchmark")
    for name, value, target, verdict in rows:
        print(f"  {name:<{width}}  {value:>10}  {target:>8}  {verdict}")
    missed = [r[0] for r in rows if r[3] == "MISSED"]
    return 1 if (missed and args.strict) else 0


if __name__ == "__main__":
    raise SystemExit(main())
