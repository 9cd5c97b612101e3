"""The HTTP layer against a real in-process kubesim: status codes, Status bodies, lists, watch, apply."""

from __future__ import annotations

import http.client
import json
import ssl
import time

import pytest


class Client:
    """A tiny keep-alive HTTPS client with a client certificate (no kubernetes library in the way)."""

    def __init__(self, handle, user="kubesim-admin", groups=("system:masters",), tmp=None):
        cert, key = handle.client_cert(user, list(groups))
        (tmp / f"{user}.crt").write_bytes(cert)
        (tmp / f"{user}.key").write_bytes(key)
        self.ctx = ssl.create_default_context(cafile=str(handle.ca_path))
        self.ctx.load_cert_chain(tmp / f"{user}.crt", tmp / f"{user}.key")
        self.port = handle.port
        self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)

    def request(self, method, path, body=None, ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        hdrs = {"Content-Type": ctype, **(headers or {})}
        self.conn.request(method, path, body=body, headers=hdrs)
        resp = self.conn.getresponse()
        data = resp.read()
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = data
        return resp.status, parsed, resp


@pytest.fixture
def api(kubesim, tmp_path):
    return Client(kubesim, tmp=tmp_path)


def ns_body(name, **labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def test_discovery_documents(api):
    code, body, _ = api.request("GET", "/api/v1")
    assert code == 200 and body["kind"] == "APIResourceList"
    names = {r["name"]: r for r in body["resources"]}
    assert names["namespaces"]["shortNames"] == ["ns"] and names["resourcequotas"]["shortNames"] == ["quota"]
    assert "pods/status" in names and "serviceaccounts/token" in names
    code, body, _ = api.request("GET", "/apis")
    assert {g["name"] for g in body["groups"]} >= {"rbac.authorization.k8s.io", "certificates.k8s.io", "constraints.gatekeeper.sh", "wgpolicyk8s.io"}
    assert api.request("GET", "/version")[1]["major"] == "1"
    assert api.request("GET", "/apis/nope.io/v1")[0] == 404


def test_no_credentials_is_401(kubesim):
    ctx = ssl.create_default_context(cafile=str(kubesim.ca_path))
    conn = http.client.HTTPSConnection("127.0.0.1", kubesim.port, context=ctx)
    conn.request("GET", "/api/v1/namespaces")
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 401 and body["reason"] == "Unauthorized" and body["kind"] == "Status"
    conn.request("GET", "/healthz")
    assert conn.getresponse().read() == b"ok"


def test_create_get_list_with_label_selector(api):
    assert api.request("POST", "/api/v1/namespaces", ns_body("a", tier="web", env="dev"))[0] == 201
    assert api.request("POST", "/api/v1/namespaces", ns_body("b", tier="db"))[0] == 201
    code, body, _ = api.request("GET", "/api/v1/namespaces?labelSelector=tier%20in%20(web,db),env!=prod")
    assert code == 200 and body["kind"] == "NamespaceList" and int(body["metadata"]["resourceVersion"]) > 0
    assert [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    for selector, expected in [("tier=web", ["a"]), ("tier==db", ["b"]), ("env", ["a"]), ("!env,tier", ["b"]),
                               ("tier,tier notin (web)", ["b"])]:
        body = api.request("GET", f"/api/v1/namespaces?labelSelector={selector.replace(' ', '%20')}")[1]
        assert [i["metadata"]["name"] for i in body["items"]] == expected, selector
    code, body, _ = api.request("GET", "/api/v1/namespaces?labelSelector=a%20b")
    assert code == 400 and body["reason"] == "BadRequest"


def test_field_selector_and_pagination(api):
    for i in range(5):
        api.request("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": f"cm-{i}"}})
    body = api.request("GET", "/api/v1/namespaces/default/configmaps?fieldSelector=metadata.name%3Dcm-3")[1]
    assert [i["metadata"]["name"] for i in body["items"]] == ["cm-3"]
    code, body, _ = api.request("GET", "/api/v1/configmaps?fieldSelector=spec.nope%3Dx")
    assert code == 400 and body["message"] == "field label not supported: spec.nope"
    names, cont = [], ""
    while True:
        body = api.request("GET", f"/api/v1/namespaces/default/configmaps?limit=2&continue={cont}")[1]
        names += [i["metadata"]["name"] for i in body["items"]]
        cont = body["metadata"].get("continue")
        if not cont:
            break
    assert names == [f"cm-{i}" for i in range(5)]


def test_namespace_from_url_and_mismatch(api):
    code, body, _ = api.request("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "x"}})
    assert code == 201 and body["metadata"]["namespace"] == "default"
    code, body, _ = api.request("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "y", "namespace": "other"}})
    assert code == 400 and body["message"] == "the namespace of the provided object does not match the namespace sent on the request"


def test_invalid_name_is_422_with_causes(api):
    code, body, _ = api.request("POST", "/api/v1/namespaces", ns_body("Bad_Name"))
    assert code == 422 and body["reason"] == "Invalid"
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert body["message"].startswith('Namespace "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 label')


def test_errors_404_409_and_bad_bodies(api):
    code, body, _ = api.request("GET", "/api/v1/namespaces/nope")
    assert (code, body["reason"], body["message"]) == (404, "NotFound", 'namespaces "nope" not found')
    api.request("POST", "/api/v1/namespaces", ns_body("dup"))
    code, body, _ = api.request("POST", "/api/v1/namespaces", ns_body("dup"))
    assert (code, body["reason"]) == (409, "AlreadyExists")
    code, body, _ = api.request("POST", "/api/v1/namespaces", "{not json")
    assert code == 400 and body["reason"] == "BadRequest"
    code, body, _ = api.request("POST", "/api/v1/namespaces", "a: [b", ctype="application/yaml")
    assert code == 400 and "yaml" in body["message"]
    code, body, _ = api.request("POST", "/api/v1/namespaces", {"apiVersion": "v2", "kind": "Namespace", "metadata": {"name": "x"}})
    assert code == 400 and "does not match the expected API version" in body["message"]
    code, body, _ = api.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}})
    assert code == 400 and "cannot be handled as a Namespace" in body["message"]
    code, body, _ = api.request("GET", "/api/v1/widgets")
    assert code == 404
    code, body, _ = api.request("POST", "/api/v1/namespaces", "x" * (3 * 1024 * 1024 + 1))
    assert code == 413 and body["reason"] == "RequestEntityTooLarge"
    # the server is still healthy after all that
    assert api.request("GET", "/api/v1/namespaces/dup")[0] == 200


def test_update_conflict_and_status_rules(api):
    api.request("POST", "/apis/apps/v1/namespaces/default/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
    code, dep, _ = api.request("GET", "/apis/apps/v1/namespaces/default/deployments/web")
    stale = json.loads(json.dumps(dep))
    dep["spec"]["replicas"] = 3
    dep["status"] = {"replicas": 42}
    code, updated, _ = api.request("PUT", "/apis/apps/v1/namespaces/default/deployments/web", dep)
    assert code == 200 and updated["spec"]["replicas"] == 3 and updated["status"] == {}
    assert updated["metadata"]["generation"] == 2
    code, body, _ = api.request("PUT", "/apis/apps/v1/namespaces/default/deployments/web", stale)
    assert code == 409 and body["reason"] == "Conflict"
    code, st, _ = api.request("PATCH", "/apis/apps/v1/namespaces/default/deployments/web/status",
                              {"status": {"replicas": 3}, "spec": {"replicas": 9}}, ctype="application/merge-patch+json")
    assert code == 200 and st["status"] == {"replicas": 3} and st["spec"]["replicas"] == 3


def test_rolebinding_roleref_is_immutable(api):
    rb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "rb"},
          "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
          "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}]}
    assert api.request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", rb)[0] == 201
    code, body, _ = api.request("PATCH", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings/rb",
                                {"roleRef": {"name": "edit"}}, ctype="application/merge-patch+json")
    assert code == 422 and body["details"]["causes"][0]["field"] == "roleRef"


def test_server_side_apply_noop_and_conflict(api):
    cfg = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\ndata:\n  a: '1'\n"
    path = "/api/v1/namespaces/default/configmaps/app?fieldManager=portal"
    code, first, _ = api.request("PATCH", path, cfg, ctype="application/apply-patch+yaml")
    assert code == 201
    code, second, _ = api.request("PATCH", path, cfg, ctype="application/apply-patch+yaml")
    assert code == 200 and second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    code, body, _ = api.request("PATCH", "/api/v1/namespaces/default/configmaps/app?fieldManager=other",
                                cfg.replace("'1'", "'2'"), ctype="application/apply-patch+yaml")
    assert code == 409 and body["message"] == 'Apply failed with 1 conflict: conflict with "portal" using v1: .data.a'
    code, body, _ = api.request("PATCH", "/api/v1/namespaces/default/configmaps/app", cfg, ctype="application/apply-patch+yaml")
    assert code == 400


def test_dry_run_does_not_persist(api):
    code, body, _ = api.request("POST", "/api/v1/namespaces?dryRun=All", ns_body("ghost"))
    assert code == 201 and body["metadata"]["uid"]
    assert api.request("GET", "/api/v1/namespaces/ghost")[0] == 404
    api.request("POST", "/api/v1/namespaces/default/configmaps", {"metadata": {"name": "keep"}})
    assert api.request("DELETE", "/api/v1/namespaces/default/configmaps/keep?dryRun=All")[0] == 200
    assert api.request("GET", "/api/v1/namespaces/default/configmaps/keep")[0] == 200
    code, body, _ = api.request("DELETE", "/api/v1/namespaces/default/configmaps/keep",
                                {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Sideways"})
    assert code == 422
    code, body, _ = api.request("DELETE", "/api/v1/namespaces/default/configmaps/keep",
                                {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground"})
    assert code == 200 and body["status"] == "Success"


def test_namespace_delete_goes_terminating(kubesim, api):
    api.request("POST", "/api/v1/namespaces", ns_body("gone"))
    code, body, _ = api.request("DELETE", "/api/v1/namespaces/gone")
    assert code == 200 and body["kind"] == "Namespace"
    assert body["metadata"]["deletionTimestamp"] and body["status"]["phase"] == "Terminating"


def test_watch_streams_events_and_resumes(kubesim, api):
    code, created, _ = api.request("POST", "/api/v1/namespaces", ns_body("w"))
    rv = created["metadata"]["resourceVersion"]
    api.request("PATCH", "/api/v1/namespaces/w", {"metadata": {"labels": {"x": "y"}}}, ctype="application/merge-patch+json")
    watcher = Client(kubesim, tmp=kubesim.state_dir)
    watcher.conn.request("GET", f"/api/v1/namespaces?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    resp = watcher.conn.getresponse()
    assert resp.status == 200 and resp.getheader("Transfer-Encoding") == "chunked"
    events = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("MODIFIED", "w")]


def test_watch_too_old_is_410_event(kubesim, api):
    kubesim.store._history_start = 10_000  # pretend history was compacted
    watcher = Client(kubesim, tmp=kubesim.state_dir)
    watcher.conn.request("GET", "/api/v1/namespaces?watch=true&resourceVersion=1")
    resp = watcher.conn.getresponse()
    (event,) = [json.loads(line) for line in resp.read().splitlines() if line.strip()]
    assert event["type"] == "ERROR" and event["object"]["code"] == 410 and event["object"]["reason"] == "Expired"


def test_access_reviews_and_whoami(kubesim, api, tmp_path):
    code, body, _ = api.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                                {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert code == 201 and body["status"]["userInfo"]["username"] == "kubesim-admin"
    bob = Client(kubesim, user="bob", groups=(), tmp=tmp_path)
    review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
              "spec": {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "default"}}}
    code, body, _ = bob.request("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", review)
    assert code == 201 and body["status"]["allowed"] is False
    sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
           "spec": {"user": "alice", "groups": ["system:masters"], "resourceAttributes": {"verb": "delete", "resource": "nodes"}}}
    assert api.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar)[1]["status"]["allowed"] is True
    assert api.request("GET", "/apis/authorization.k8s.io/v1/subjectaccessreviews")[0] == 405


def test_token_request_issues_a_working_token(kubesim, api):
    code, body, _ = api.request("POST", "/api/v1/namespaces/default/serviceaccounts/default/token",
                                {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}})
    assert code == 201
    claims = kubesim.ca.verify_token(body["status"]["token"])
    assert claims["sub"] == "system:serviceaccount:default:default"


def test_forbidden_for_unprivileged_user(kubesim, tmp_path):
    bob = Client(kubesim, user="bob", groups=(), tmp=tmp_path)
    code, body, _ = bob.request("GET", "/api/v1/namespaces/default/pods")
    assert code == 403 and body["reason"] == "Forbidden"
    assert 'User "bob" cannot list resource "pods" in API group "" in the namespace "default"' in body["message"]


def test_request_log_and_faults(kubesim, api):
    kubesim.request_log.clear()
    kubesim.faults.fail_next(1, status=503, verbs=("create",))
    code, body, resp = api.request("POST", "/api/v1/namespaces", ns_body("f1"))
    assert code == 503 and resp.getheader("Retry-After") == "1"
    assert api.request("POST", "/api/v1/namespaces", ns_body("f1"))[0] == 201
    writes = kubesim.request_log.writes("namespaces")
    assert [(w.verb, w.status, w.user) for w in writes] == [("create", 503, "kubesim-admin"), ("create", 201, "kubesim-admin")]
    kubesim.faults.add_rule(latency=0.2, verbs=("get",))
    t = time.monotonic()
    api.request("GET", "/api/v1/namespaces/f1")
    assert time.monotonic() - t >= 0.2
    code, body, _ = api.request("GET", "/kubesim/faults")
    assert code == 200 and body["rules"][0]["latency"] == 0.2
    assert api.request("DELETE", "/kubesim/faults")[0] == 200
    assert kubesim.faults.describe() == []


def test_admin_endpoint_needs_system_masters(kubesim, tmp_path):
    bob = Client(kubesim, user="bob", groups=("devs",), tmp=tmp_path)
    assert bob.request("GET", "/kubesim/requests")[0] == 403


def test_restart_keeps_objects(tmp_path):
    from kubesim import testing

    first = testing.start(tmp_path / "state")
    try:
        api = Client(first, tmp=tmp_path)
        api.request("POST", "/api/v1/namespaces", ns_body("persisted"))
        ca_pem = first.ca.ca_pem
    finally:
        first.stop()
    second = testing.start(tmp_path / "state")
    try:
        assert second.ca.ca_pem == ca_pem
        api = Client(second, tmp=tmp_path)
        assert api.request("GET", "/api/v1/namespaces/persisted")[0] == 200
    finally:
        second.stop()


def test_table_output_for_kubectl_get(api):
    code, body, _ = api.request("GET", "/api/v1/namespaces",
                                headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"})
    assert code == 200 and body["kind"] == "Table"
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Status", "Age"]
    row = next(r for r in body["rows"] if r["cells"][0] == "default")
    assert row["cells"][1] == "Active" and row["object"]["kind"] == "PartialObjectMetadata"


def test_strict_field_validation(api):
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "s"}, "bogus": 1}
    code, status, _ = api.request("POST", "/api/v1/namespaces/default/configmaps?fieldValidation=Strict", body)
    assert code == 400 and 'strict decoding error: unknown field "bogus"' in status["message"]
    code, _, resp = api.request("POST", "/api/v1/namespaces/default/configmaps", body)
    assert code == 201 and resp.getheader("Warning") == '299 - "unknown field \\"bogus\\""'


# ------------------------------------------------------------ field validation on apply and custom resources
def _apply(api, path, obj, validation="Strict"):
    return api.request("PATCH", f"{path}?fieldManager=test&fieldValidation={validation}", json.dumps(obj), ctype="application/apply-patch+yaml")


@pytest.mark.parametrize("validation", ["Strict", "Warn", "Ignore"])
def test_server_side_apply_rejects_undeclared_fields_whatever_the_validation(api, validation):
    # Real apiservers fail the typed conversion of the apply configuration with a plain error: 500, no reason.
    policy = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "deny", "namespace": "default"},
              "spec": {"podSelector": {}, "policyType": ["Ingress"]}}
    code, body, _ = _apply(api, "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/deny", policy, validation)
    assert code == 500, body
    assert body == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": 500,
                    "message": "failed to create typed patch object (default/deny; networking.k8s.io/v1, Kind=NetworkPolicy): "
                               ".spec.policyType: field not declared in schema"}
    assert api.request("GET", "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/deny")[0] == 404


def test_server_side_apply_undeclared_field_paths_use_list_keys(api):
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
                  "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
                      "metadata": {"labels": {"app": "web"}},
                      "spec": {"containers": [{"name": "app", "image": "nginx", "repository": "x",
                                               "ports": [{"containerPort": 80, "protocol": "TCP", "hostname": "h"}]}]}}},
                  "bogus": 1}
    code, body, _ = _apply(api, "/apis/apps/v1/namespaces/default/deployments/web", deployment)
    assert code == 500
    assert body["message"] == (
        "failed to create typed patch object (default/web; apps/v1, Kind=Deployment): errors:\n"
        '  .spec.template.spec.containers[name="app"].repository: field not declared in schema\n'
        '  .spec.template.spec.containers[name="app"].ports[containerPort=80,protocol="TCP"].hostname: field not declared in schema\n'
        "  .bogus: field not declared in schema")
    del deployment["bogus"], deployment["spec"]["template"]["spec"]["containers"][0]["repository"]
    del deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["hostname"]
    assert _apply(api, "/apis/apps/v1/namespaces/default/deployments/web", deployment)[0] == 201


def test_strict_field_validation_covers_custom_resources(api):
    path = "/apis/wgpolicyk8s.io/v1alpha2/namespaces/default/policyreports"
    report = {"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport", "metadata": {"name": "r"},
              "summary": {"pass": 1, "fail": 0}, "results": [{"policy": "p", "result": "pass", "properties": {"any": "thing"}}]}
    code, body, _ = api.request("POST", f"{path}?fieldValidation=Strict", {**report, "resultz": []})
    assert code == 400, body
    assert body["message"] == ('PolicyReport in version "v1alpha2" cannot be handled as a PolicyReport: '
                               'strict decoding error: unknown field "resultz"')
    code, body, resp = api.request("POST", path, {**report, "resultz": []})  # Warn, the default: stored with a warning
    assert code == 201 and "resultz" not in body
    assert resp.getheader("Warning") == '299 - "unknown field \\"resultz\\""'
    report["metadata"]["name"] = "r2"
    assert api.request("POST", f"{path}?fieldValidation=Strict", report)[0] == 201
    constraint = {"apiVersion": "constraints.gatekeeper.sh/v1beta1", "kind": "K8sRequiredLabels", "metadata": {"name": "c"},
                  "spec": {"match": {"kinds": [{"apiGroups": [""], "kinds": ["Namespace"]}]}, "parameters": {"labels": ["team"]}}}
    assert api.request("POST", "/apis/constraints.gatekeeper.sh/v1beta1/k8srequiredlabels?fieldValidation=Strict", constraint)[0] == 201


@pytest.mark.parametrize("validation", ["Warn", "Ignore"])
def test_unknown_fields_kept_under_warn_or_ignore_are_dropped(api, validation):
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm", "foo": 1}, "data": {"a": "b"}, "bogus": True}
    code, body, resp = api.request("POST", f"/api/v1/namespaces/default/configmaps?fieldValidation={validation}", cm)
    assert code == 201 and "bogus" not in body and "foo" not in body["metadata"] and body["data"] == {"a": "b"}
    assert bool(resp.getheader("Warning")) is (validation == "Warn")
    stored = api.request("GET", "/api/v1/namespaces/default/configmaps/cm")[1]
    assert "bogus" not in stored and "foo" not in stored["metadata"]


def test_stop_cuts_open_keep_alive_connections(tmp_path):
    from kubesim import testing

    handle = testing.start(tmp_path / "state")
    try:
        api = Client(handle, tmp=tmp_path)
        assert api.request("GET", "/api/v1/namespaces/default")[0] == 200  # the connection is now pooled
        started = time.monotonic()
        handle.stop()
        assert time.monotonic() - started < 5
        with pytest.raises((OSError, http.client.HTTPException)):
            api.request("GET", "/api/v1/namespaces/default")
    finally:
        handle.stop()
