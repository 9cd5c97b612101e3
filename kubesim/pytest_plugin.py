"""pytest fixtures for kubesim.

Enable with ``pytest_plugins = ["kubesim.pytest_plugin"]`` in a conftest.

* ``kubesim``: a fresh server per test (own state directory under ``tmp_path``);
* ``kubesim_module``: one server shared by a test module, for tests that share state on purpose.
"""

from __future__ import annotations

import errno

import pytest

from .testing import KubesimHandle, start

# The port the previous kubesim of each fixture served on. A fresh kubesim
# takes it again when it is free: clients key their caches by server address
# (kubectl's discovery cache: one request per API group version on a cold
# cache), and every fresh kubesim serves the same discovery, so the next test
# starts warm. The state (store, CA, credentials) is still new for each one.
_last_port: dict[str, int] = {}


def _start_on_last_port(slot: str, state_dir) -> KubesimHandle:
    port = _last_port.get(slot, 0)
    try:
        handle = start(state_dir, port=port)
    except OSError as exc:
        if port == 0 or exc.errno != errno.EADDRINUSE:
            raise
        handle = start(state_dir)  # someone else took it meanwhile: any free port
    _last_port[slot] = handle.port
    return handle


@pytest.fixture
def kubesim(tmp_path) -> KubesimHandle:
    """A fresh kubesim for one test."""
    handle = _start_on_last_port("test", tmp_path / "kubesim")
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def kubesim_module(tmp_path_factory) -> KubesimHandle:
    """A kubesim shared by every test of a module."""
    handle = _start_on_last_port("module", tmp_path_factory.mktemp("kubesim"))
    try:
        yield handle
    finally:
        handle.stop()
