"""pytest fixtures for kubesim.

Enable with ``pytest_plugins = ["kubesim.pytest_plugin"]`` in a conftest.

* ``kubesim``: a fresh server per test (own state directory under ``tmp_path``);
* ``kubesim_module``: one server shared by a test module, for tests that share state on purpose.
"""

from __future__ import annotations

import pytest

from .testing import KubesimHandle, start


@pytest.fixture
def kubesim(tmp_path) -> KubesimHandle:
    """A fresh kubesim for one test."""
    handle = start(tmp_path / "kubesim")
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="module")
def kubesim_module(tmp_path_factory) -> KubesimHandle:
    """A kubesim shared by every test of a module."""
    handle = start(tmp_path_factory.mktemp("kubesim"))
    try:
        yield handle
    finally:
        handle.stop()
