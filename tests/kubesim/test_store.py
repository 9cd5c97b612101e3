"""The store: resourceVersions, generation, conflicts, persistence, watch resume."""

from __future__ import annotations

import threading

import pytest

from kubesim import errors, resources
from kubesim.store import Store

NS = resources.NAMESPACES
CM = resources.lookup("", "v1", "configmaps")
DEPLOY = resources.lookup("apps", "v1", "deployments")
CSR = resources.CSRS


def cm(name, data=None, ns="default"):
    return {"metadata": {"name": name, "namespace": ns}, "data": data or {"a": "1"}}


def test_create_sets_metadata_and_global_increasing_rv(tmp_path):
    store = Store(tmp_path)
    a = store.create(CM, cm("a"))
    b = store.create(NS, {"metadata": {"name": "team"}})
    assert a["metadata"]["uid"] and a["metadata"]["creationTimestamp"].endswith("Z")
    assert a["metadata"]["generation"] == 1
    assert int(b["metadata"]["resourceVersion"]) > int(a["metadata"]["resourceVersion"])
    assert b["kind"] == "Namespace" and b["apiVersion"] == "v1"


def test_create_twice_is_already_exists():
    store = Store(None)
    store.create(CM, cm("a"))
    with pytest.raises(errors.StatusError) as exc:
        store.create(CM, cm("a"))
    assert exc.value.code == 409 and exc.value.reason == "AlreadyExists"
    assert exc.value.message == 'configmaps "a" already exists'


def test_get_returns_a_copy():
    store = Store(None)
    store.create(CM, cm("a"))
    got = store.get(CM, "default", "a")
    got["data"]["a"] = "changed"
    assert store.get(CM, "default", "a")["data"]["a"] == "1"


def test_stale_resource_version_is_conflict():
    store = Store(None)
    created = store.create(CM, cm("a"))
    store.update(CM, cm("a", {"a": "2"}))
    stale = cm("a", {"a": "3"})
    stale["metadata"]["resourceVersion"] = created["metadata"]["resourceVersion"]
    with pytest.raises(errors.StatusError) as exc:
        store.update(CM, stale)
    assert exc.value.code == 409 and exc.value.reason == "Conflict"
    assert "the object has been modified" in exc.value.message


def test_generation_bumps_on_spec_change_only():
    store = Store(None)
    dep = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 1}}
    store.create(DEPLOY, dep)
    dep["metadata"]["labels"] = {"a": "b"}
    assert store.update(DEPLOY, dep)["metadata"]["generation"] == 1
    dep["spec"]["replicas"] = 2
    assert store.update(DEPLOY, dep)["metadata"]["generation"] == 2


def test_noop_update_keeps_resource_version():
    store = Store(None)
    created = store.create(CM, cm("a"))
    again = store.update(CM, cm("a"))
    assert again["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_status_subresource_changes_only_status_and_main_write_ignores_status():
    store = Store(None)
    store.create(DEPLOY, {"metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 1}})
    upd = {"metadata": {"name": "web", "namespace": "default"}, "spec": {"replicas": 9}, "status": {"replicas": 3}}
    after_status = store.update(DEPLOY, upd, subresource="status")
    assert after_status["spec"]["replicas"] == 1 and after_status["status"] == {"replicas": 3}
    upd["status"] = {"replicas": 100}
    after_main = store.update(DEPLOY, upd)
    assert after_main["spec"]["replicas"] == 9 and after_main["status"] == {"replicas": 3}


def test_approval_subresource_changes_only_conditions():
    store = Store(None)
    store.create(CSR, {"metadata": {"name": "c"}, "spec": {"signerName": "x"}, "status": {}})
    body = {"metadata": {"name": "c"}, "spec": {"signerName": "evil"},
            "status": {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "Zm9v"}}
    out = store.update(CSR, body, subresource="approval")
    assert out["spec"]["signerName"] == "x"
    assert out["status"] == {"conditions": [{"type": "Approved", "status": "True"}]}


def test_restart_keeps_objects_and_rv(tmp_path):
    store = Store(tmp_path)
    store.create(CM, cm("a"))
    store.create(CM, cm("b"))
    store.delete(CM, "default", "b")
    rv = store.resource_version
    store.close()
    reopened = Store(tmp_path)
    assert reopened.get(CM, "default", "a")["data"] == {"a": "1"}
    assert reopened.get(CM, "default", "b") is None
    assert reopened.resource_version == rv
    assert int(reopened.create(CM, cm("c"))["metadata"]["resourceVersion"]) > int(rv)


def test_finalizers_delay_deletion_until_removed():
    store = Store(None)
    obj = cm("a")
    obj["metadata"]["finalizers"] = ["example.com/hold"]
    store.create(CM, obj)
    marked = store.delete(CM, "default", "a")
    assert marked["metadata"]["deletionTimestamp"]
    current = store.get(CM, "default", "a")
    current["metadata"]["finalizers"] = []
    store.update(CM, current)
    assert store.get(CM, "default", "a") is None


def test_watch_resumes_from_resource_version():
    store = Store(None)
    first = store.create(CM, cm("a"))
    store.update(CM, cm("a", {"a": "2"}))
    store.create(CM, cm("other", ns="elsewhere"))
    stop = threading.Event()
    events = store.watch(CM, "default", first["metadata"]["resourceVersion"], stop, timeout=0.5)
    got = [(e["type"], e["object"]["data"]["a"]) for e in events]
    assert got == [("MODIFIED", "2")]


def test_watch_without_rv_lists_existing_first_then_follows():
    store = Store(None)
    store.create(CM, cm("a"))
    stop = threading.Event()
    it = store.watch(CM, None, None, stop, timeout=2)
    assert next(it)["type"] == "ADDED"
    threading.Timer(0.1, lambda: store.delete(CM, "default", "a")).start()
    event = next(it)
    stop.set()
    assert event["type"] == "DELETED" and event["object"]["metadata"]["name"] == "a"


def test_watch_beyond_history_is_410_expired():
    store = Store(None, history_size=3)
    first = store.create(CM, cm("a"))
    for i in range(5):
        store.update(CM, cm("a", {"a": str(i + 10)}))
    with pytest.raises(errors.StatusError) as exc:
        store.watch(CM, None, first["metadata"]["resourceVersion"], threading.Event())
    assert exc.value.code == 410 and exc.value.reason == "Expired"
    assert exc.value.message.startswith("too old resource version: ")


def test_listeners_see_every_committed_write():
    store = Store(None)
    seen = []
    store.add_listener(lambda rt, typ, obj, old: seen.append((rt.plural, typ, old is not None)))
    store.create(CM, cm("a"))
    store.update(CM, cm("a", {"a": "2"}))
    store.update(CM, cm("a", {"a": "2"}))  # no-op: no event
    store.delete(CM, "default", "a")
    assert seen == [("configmaps", "ADDED", False), ("configmaps", "MODIFIED", True), ("configmaps", "DELETED", True)]


def test_a_failing_listener_does_not_break_the_write():
    store = Store(None)

    def boom(*args):
        raise RuntimeError("controller bug")

    store.add_listener(boom)
    assert store.create(CM, cm("a"))["metadata"]["name"] == "a"


def test_pages_follow_etcd_key_order_and_a_namespace_list_reads_that_namespace_only(tmp_path):
    """Keys sort as the string namespace/name (so "a-b/x" before "a/x"), pages never repeat or skip, and a
    list in one namespace does not walk the other namespaces' objects (the namespace index)."""
    store = Store(tmp_path)
    cm = resources.lookup("", "v1", "configmaps")
    for ns, name in [("a", "x"), ("a", "y"), ("a-b", "x"), ("b", "z")]:
        store.create(cm, {"metadata": {"namespace": ns, "name": name, "labels": {"tier": "web" if name != "y" else "db"}}})
    seen, after = [], ""
    while True:
        page, _, remaining = store.select(cm, limit=1, after=after)
        seen += [f"{o['metadata']['namespace']}/{o['metadata']['name']}" for o in page]
        if remaining is None:
            break
        after = seen[-1]
    assert seen == ["a-b/x", "a/x", "a/y", "b/z"]
    web, _, remaining = store.select(cm, match=lambda o: o["metadata"]["labels"]["tier"] == "web")
    assert [o["metadata"]["name"] for o in web] == ["x", "x", "z"] and remaining is None
    page, _, _ = store.select(cm, "a")
    assert [o["metadata"]["name"] for o in page] == ["x", "y"]
    assert store.count(cm, "a") == 2 and store.count(cm) == 4
    store.delete(cm, "a", "y")
    assert store.count(cm, "a") == 1
    restarted = Store(tmp_path)  # the index is rebuilt from disk
    assert [o["metadata"]["name"] for o in restarted.select(cm, "a")[0]] == ["x"]


@pytest.mark.parametrize(("api_version", "kind"), [("batch/v1", "Job"), ("networking.k8s.io/v1", "Ingress"),
                                                   ("policy/v1", "PodDisruptionBudget")])
def test_the_install_packages_kinds_are_served(api_version, kind):
    rt = resources.get(api_version, kind)
    assert rt.namespaced and "status" in rt.subresources
    store = Store()
    created = store.create(rt, {"metadata": {"namespace": "platform-portal", "name": "portal"}})
    assert created["kind"] == kind and created["apiVersion"] == api_version
    assert store.count(rt, "platform-portal") == 1


def test_a_label_selected_list_reads_only_the_labelled_objects():
    """The label index narrows a list to objects carrying the selected label values; changes move them."""
    store = Store()
    cm = resources.lookup("", "v1", "configmaps")
    for i in range(50):
        store.create(cm, {"metadata": {"namespace": f"ns-{i}", "name": "c", "labels": {"owner": "portal" if i < 3 else "other"}}})
    seen = []
    page, _, _ = store.select(cm, label_terms=[("owner", ("portal",))],
                              match=lambda o: seen.append(o) or o["metadata"]["labels"]["owner"] == "portal")
    assert [o["metadata"]["namespace"] for o in page] == ["ns-0", "ns-1", "ns-2"]
    assert len(seen) == 3  # the other 47 were never read
    store.update(cm, {**store.get(cm, "ns-7", "c"), "metadata": {**store.get(cm, "ns-7", "c")["metadata"], "labels": {"owner": "portal"}}})
    store.delete(cm, "ns-0", "c")
    page, _, _ = store.select(cm, label_terms=[("owner", ("portal",))], match=lambda o: o["metadata"]["labels"]["owner"] == "portal")
    assert [o["metadata"]["namespace"] for o in page] == ["ns-1", "ns-2", "ns-7"]
