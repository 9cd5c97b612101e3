"""The portal never adopts what it did not create, at every entry point.

The probe's takeover: a developer asks for a namespace that already exists
(the portal's own, or anyone's), a manager approves as routine, and the
reconcile binds the team in it. Each test below closes one way in; the
suite-wide guard (tests/ownership_guard.py) checks kubesim's request log
after every test on top of that.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from kubernetes import client as k8s

from apps.approvals.models import Request
from apps.approvals.services import request_approve
from apps.audit.models import AuditEvent
from apps.clusters.services import cluster_check_health
from apps.namespaces import services
from apps.namespaces.models import Namespace
from apps.namespaces.services import namespace_request_submit
from tests.conftest import official_client
from tests.ownership_guard import violations

Phase = Namespace.Phase
QUOTA = {"requests.cpu": "1", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"}
NOT_MANAGED = "exists on the cluster and is not managed by the portal"


@pytest.fixture
def admin_api(kubesim_cluster):
    with official_client(kubesim_cluster[0].admin_kubeconfig) as api:
        yield api


@pytest.fixture
def core(admin_api):
    return k8s.CoreV1Api(admin_api)


def submit(member, team, cluster, name="legacy-app"):
    return namespace_request_submit(actor=member, team=team, cluster=cluster, name=name, purpose="tests", quota=dict(QUOTA))


def approve(manager, request, capture):
    with capture(execute=False):
        return request_approve(actor=manager, request=request)


def portal_writes(handle):
    """What the portal wrote (a SelfSubjectReview, the health check's "who am I", stores nothing)."""
    return [e for e in handle.request_log.writes()
            if e.user_agent.startswith("platform-portal/") and e.resource != "selfsubjectreviews"]


# --- reserved names ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["platform-portal", "default", "kube-system", "kube-anything", "openshift-console"])
def test_reserved_names_are_refused_on_submit(cluster, member, team, name):
    with pytest.raises(ValidationError) as err:
        submit(member, team, cluster, name)

    assert "reserved" in " ".join(err.value.message_dict["name"])
    assert not Request.objects.exists()


def test_the_portals_own_namespace_is_detected_from_its_service_account(cluster, member, team, settings):
    # Even with a configuration that forgot it, the namespace the portal's
    # credentials live in on this cluster is never handed out.
    settings.RESERVED_NAMESPACES = ["default", "kube-*"]
    assert cluster.portal_namespace == "platform-portal"

    with pytest.raises(ValidationError) as err:
        submit(member, team, cluster, "platform-portal")

    assert "reserved" in " ".join(err.value.message_dict["name"])


def test_extra_reserved_names_come_from_settings(cluster, member, team, settings):
    settings.RESERVED_NAMESPACES = [*settings.RESERVED_NAMESPACES, "shared-*"]

    with pytest.raises(ValidationError):
        submit(member, team, cluster, "shared-ingress")


def test_health_check_records_the_portal_namespace_of_a_cluster(cluster):
    cluster.portal_namespace = ""
    cluster.save()

    assert cluster_check_health(cluster).portal_namespace == "platform-portal"
    cluster.refresh_from_db()
    assert cluster.portal_namespace == "platform-portal"


# --- never adopt through a team's request -------------------------------------------------------


def test_submitting_a_name_that_exists_on_the_cluster_is_refused(cluster, member, team, core):
    core.create_namespace({"metadata": {"name": "legacy-app"}})

    with pytest.raises(ValidationError) as err:
        submit(member, team, cluster)

    assert err.value.message_dict["name"] == [f'namespace "legacy-app" {NOT_MANAGED}']
    assert not Request.objects.exists()


def test_the_api_answers_400_for_a_name_that_exists_on_the_cluster(cluster, member, team, core, api_client_for):
    core.create_namespace({"metadata": {"name": "legacy-app"}})

    response = api_client_for(member).post("/api/v1/namespace-requests/", {
        "cluster": cluster.name, "team": team.slug, "name": "legacy-app", "quota": QUOTA}, format="json")

    assert response.status_code == 400
    assert NOT_MANAGED in response.json()["name"][0]
    assert not Request.objects.exists()


def test_approval_is_refused_when_the_name_appeared_on_the_cluster_after_submit(
        kubesim_cluster, member, manager, team, core, django_capture_on_commit_callbacks):
    handle, cluster = kubesim_cluster
    request = submit(member, team, cluster)
    core.create_namespace({"metadata": {"name": "legacy-app"}})

    with pytest.raises(ValidationError) as err:
        approve(manager, request, django_capture_on_commit_callbacks)

    assert NOT_MANAGED in err.value.message_dict["name"][0]
    request.refresh_from_db()
    assert request.state == Request.State.SUBMITTED and request.namespace is None
    assert not Namespace.objects.exists()
    assert portal_writes(handle) == []


def test_the_reconcile_never_adopts_a_namespace_created_after_approval(
        kubesim_cluster, member, manager, team, core, admin_api, django_capture_on_commit_callbacks):
    handle, cluster = kubesim_cluster
    request = approve(manager, submit(member, team, cluster), django_capture_on_commit_callbacks)
    core.create_namespace({"metadata": {"name": "legacy-app", "labels": {"owner": "someone-else"}}})
    handle.request_log.clear()

    result = services.namespace_reconcile(request.namespace.pk)

    namespace = Namespace.objects.get(pk=request.namespace.pk)
    assert result.outcome == "failed"
    assert namespace.phase == Phase.FAILED and NOT_MANAGED in namespace.last_error
    request.refresh_from_db()
    assert request.state == Request.State.FAILED and NOT_MANAGED in request.last_error
    assert portal_writes(handle) == []
    live = core.read_namespace("legacy-app")
    assert live.metadata.labels.get("owner") == "someone-else" and "app.kubernetes.io/managed-by" not in live.metadata.labels
    assert k8s.RbacAuthorizationV1Api(admin_api).list_namespaced_role_binding("legacy-app").items == []


def test_a_copied_label_does_not_make_a_namespace_the_portals(
        kubesim_cluster, member, manager, team, core, admin_api, django_capture_on_commit_callbacks):
    handle, cluster = kubesim_cluster
    request = approve(manager, submit(member, team, cluster), django_capture_on_commit_callbacks)
    core.create_namespace({"metadata": {"name": "legacy-app", "labels": {"app.kubernetes.io/managed-by": "platform-portal",
                                                                         "portal.platform.io/team": team.slug}}})
    handle.request_log.clear()

    assert services.namespace_reconcile(request.namespace.pk).outcome == "failed"

    assert portal_writes(handle) == []
    assert k8s.RbacAuthorizationV1Api(admin_api).list_namespaced_role_binding("legacy-app").items == []


def test_deleting_a_record_whose_namespace_is_not_ours_leaves_the_cluster_alone(
        kubesim_cluster, member, manager, team, core, django_capture_on_commit_callbacks):
    handle, cluster = kubesim_cluster
    request = approve(manager, submit(member, team, cluster), django_capture_on_commit_callbacks)
    core.create_namespace({"metadata": {"name": "legacy-app"}})
    services.namespace_reconcile(request.namespace.pk)
    with django_capture_on_commit_callbacks(execute=False):
        services.namespace_delete(actor=manager, namespace=request.namespace)
    handle.request_log.clear()

    result = services.namespace_finalize_delete(request.namespace.pk)

    namespace = Namespace.objects.get(pk=request.namespace.pk)
    assert result.outcome == "applied" and namespace.phase == Phase.DELETED
    assert NOT_MANAGED in namespace.last_error
    assert portal_writes(handle) == []
    assert core.read_namespace("legacy-app").status.phase == "Active"
    event = AuditEvent.objects.get(action="namespace.deleted", target_id=str(namespace.pk))
    assert event.message.startswith("deleted in the portal only; nothing was deleted on cluster")


def test_the_reaper_never_deletes_a_namespace_someone_recreated_under_the_same_name(
        kubesim_cluster, member, manager, team, core, django_capture_on_commit_callbacks):
    handle, cluster = kubesim_cluster
    request = approve(manager, submit(member, team, cluster), django_capture_on_commit_callbacks)
    assert services.namespace_reconcile(request.namespace.pk).outcome == "applied"
    # Someone deletes the portal's namespace by hand and makes their own, copying the whole mark.
    mine = core.read_namespace("legacy-app")
    core.delete_namespace("legacy-app")
    _wait_gone(core, "legacy-app")
    core.create_namespace({"metadata": {"name": "legacy-app", "labels": mine.metadata.labels, "annotations": mine.metadata.annotations}})
    with django_capture_on_commit_callbacks(execute=False):
        assert services.namespace_delete(actor=None, namespace=request.namespace).phase == Phase.TERMINATING
    handle.request_log.clear()

    services.namespace_finalize_delete(request.namespace.pk)

    assert portal_writes(handle) == []
    assert core.read_namespace("legacy-app").metadata.uid != mine.metadata.uid


def _wait_gone(core, name):
    from tests.conftest import wait_for

    def gone():
        try:
            core.read_namespace(name)
        except k8s.ApiException as exc:
            return exc.status == 404
        return False

    wait_for(gone, timeout=10, message=f"namespace {name} gone")


def test_a_row_with_a_reserved_name_is_never_written(kubesim_cluster, team, settings):
    """A row that predates a reservation (the setting changed) stays off the cluster."""
    handle, cluster = kubesim_cluster
    namespace = Namespace.objects.create(cluster=cluster, name="shared-ingress", team=team, quota=dict(QUOTA))
    settings.RESERVED_NAMESPACES = [*settings.RESERVED_NAMESPACES, "shared-*"]
    handle.request_log.clear()

    assert services.namespace_reconcile(namespace.pk).outcome == "failed"

    namespace.refresh_from_db()
    assert "reserved" in namespace.last_error
    assert portal_writes(handle) == []


def test_a_first_attempt_the_cluster_refuses_leaves_no_half_made_namespace(
        kubesim_cluster, member, manager, team, core, monkeypatch, django_capture_on_commit_callbacks):
    _, cluster = kubesim_cluster
    request = approve(manager, submit(member, team, cluster), django_capture_on_commit_callbacks)
    real_bundle = services.bundle_for_namespace

    def bundle_with_a_typo(namespace):
        objects = real_bundle(namespace)
        objects[3]["spec"]["policyType"] = ["Ingress"]  # a field the API server does not know
        return objects

    monkeypatch.setattr(services, "bundle_for_namespace", bundle_with_a_typo)

    assert services.namespace_reconcile(request.namespace.pk).outcome == "failed"

    namespace = Namespace.objects.get(pk=request.namespace.pk)
    assert "the namespace created for this attempt was removed" in namespace.last_error
    _wait_gone(core, "legacy-app")


# --- adoption: a platform admin's separate, audited action ------------------------------------------


def test_adoption_is_for_platform_admins_only(cluster, core, manager, member, team):
    uid = core.create_namespace({"metadata": {"name": "legacy-app"}}).metadata.uid

    for user in (manager, member):
        with pytest.raises(PermissionDenied):
            services.namespace_adopt(actor=user, cluster=cluster, name="legacy-app", team=team, confirm_uid=uid)
    assert not Namespace.objects.exists()


def test_adoption_needs_the_current_uid(cluster, core, admin_user, team):
    uid = core.create_namespace({"metadata": {"name": "legacy-app"}}).metadata.uid

    with pytest.raises(ValidationError) as err:
        services.namespace_adopt(actor=admin_user, cluster=cluster, name="legacy-app", team=team, confirm_uid="stale")

    assert uid in err.value.message_dict["confirm_uid"][0]
    assert not Namespace.objects.exists()


@pytest.mark.parametrize("name, message", [("kube-system", "reserved"), ("platform-portal", "reserved"), ("nothing-here", "no namespace")])
def test_adoption_refuses_reserved_and_missing_namespaces(cluster, admin_user, team, name, message):
    with pytest.raises(ValidationError) as err:
        services.namespace_adoption_preview(actor=admin_user, cluster=cluster, name=name, team=team)

    assert message in " ".join(err.value.message_dict["name"])


def test_adopted_namespace_gets_the_bundle_and_the_mark(kubesim_cluster, core, admin_api, admin_user, member, team,
                                                        django_capture_on_commit_callbacks):
    handle, cluster = kubesim_cluster
    uid = core.create_namespace({"metadata": {"name": "legacy-app"}}).metadata.uid
    preview = services.namespace_adoption_preview(actor=admin_user, cluster=cluster, name="legacy-app", team=team)
    assert preview.cluster_uid == uid and preview.objects[0]["kind"] == "Namespace"

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        namespace = services.namespace_adopt(actor=admin_user, cluster=cluster, name="legacy-app", team=team,
                                             confirm_uid=uid, purpose="legacy billing")
    assert len(callbacks) == 1
    assert services.namespace_reconcile(namespace.pk).outcome == "applied"

    namespace.refresh_from_db()
    assert (namespace.phase, namespace.adopted, namespace.cluster_uid) == (Phase.READY, True, uid)
    live = core.read_namespace("legacy-app")
    assert live.metadata.annotations["portal.platform.io/namespace-id"] == str(namespace.uid)
    bindings = {b.metadata.name for b in k8s.RbacAuthorizationV1Api(admin_api).list_namespaced_role_binding("legacy-app").items}
    assert "portal-alice-edit" in bindings
    event = AuditEvent.objects.get(action="namespace.adopt")
    assert event.actor == admin_user and event.after["cluster_uid"] == uid
    checked, bad = violations(handle.request_log.entries(), {"legacy-app"})
    assert checked and bad == []


def test_adoption_reuses_the_failed_record_of_a_refused_request(kubesim_cluster, core, admin_user, member, manager, team,
                                                                django_capture_on_commit_callbacks):
    _, cluster = kubesim_cluster
    request = approve(manager, submit(member, team, cluster), django_capture_on_commit_callbacks)
    uid = core.create_namespace({"metadata": {"name": "legacy-app"}}).metadata.uid
    assert services.namespace_reconcile(request.namespace.pk).outcome == "failed"

    with django_capture_on_commit_callbacks(execute=False):
        adopted = services.namespace_adopt(actor=admin_user, cluster=cluster, name="legacy-app", team=team, confirm_uid=uid)

    assert adopted.pk == request.namespace.pk
    assert services.namespace_reconcile(adopted.pk).outcome == "applied"


# --- adoption over HTTP ---------------------------------------------------------------------------------


def test_adopt_page_two_steps(cluster, core, admin_user, team, client_for, django_capture_on_commit_callbacks):
    uid = core.create_namespace({"metadata": {"name": "legacy-app"}}).metadata.uid
    client = client_for(admin_user)
    form = {"cluster": cluster.name, "name": "legacy-app", "team": team.slug, "purpose": ""}

    preview = client.post("/namespaces/adopt/", form)
    assert preview.status_code == 200
    body = preview.content.decode()
    assert uid in body and "kind: ResourceQuota" in body and 'name="confirm_uid"' in body
    assert not Namespace.objects.exists()

    wrong = client.post("/namespaces/adopt/", {**form, "confirm_uid": uid, "confirm_name": "legacy"})
    assert wrong.status_code == 400 and not Namespace.objects.exists()

    with django_capture_on_commit_callbacks(execute=False):
        done = client.post("/namespaces/adopt/", {**form, "confirm_uid": uid, "confirm_name": "legacy-app"})
    namespace = Namespace.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/namespaces/{namespace.pk}/"


def test_adopt_page_refuses_everyone_but_platform_admins(cluster, manager, member, outsider, auditor, client_for):
    for user in (manager, member, outsider, auditor):
        client = client_for(user)
        assert client.get("/namespaces/adopt/").status_code == 403
        assert client.post("/namespaces/adopt/", {"cluster": cluster.name, "name": "x", "team": "payments"}).status_code == 403


def test_adopt_page_bad_input_changes_nothing(cluster, admin_user, team, client_for):
    response = client_for(admin_user).post("/namespaces/adopt/", {"cluster": "nope", "name": "", "team": team.slug})

    assert response.status_code == 400
    assert not Namespace.objects.exists()


def test_adopt_api(cluster, core, admin_user, manager, team, api_client_for, django_capture_on_commit_callbacks):
    uid = core.create_namespace({"metadata": {"name": "legacy-app"}}).metadata.uid
    body = {"cluster": cluster.name, "name": "legacy-app", "team": team.slug, "confirm_uid": uid}

    assert api_client_for(manager).post("/api/v1/namespaces/adopt/", body, format="json").status_code == 403
    stale = api_client_for(admin_user).post("/api/v1/namespaces/adopt/", {**body, "confirm_uid": "x"}, format="json")
    assert stale.status_code == 400 and uid in stale.json()["confirm_uid"][0]
    unknown = api_client_for(admin_user).post("/api/v1/namespaces/adopt/", {**body, "force": True}, format="json")
    assert unknown.status_code == 400 and unknown.json()["force"] == ["unknown field"]
    assert not Namespace.objects.exists()

    with django_capture_on_commit_callbacks(execute=False):
        created = api_client_for(admin_user).post("/api/v1/namespaces/adopt/", body, format="json")

    assert created.status_code == 201
    assert created.json()["name"] == "legacy-app" and created.json()["team"] == team.slug


def test_the_suite_wide_guard_flags_a_write_into_someone_elses_namespace():
    from kubesim.faults import RequestLogEntry

    def entry(user_agent, verb, method, path, resource, namespace="", name="", status=201):
        return RequestLogEntry(time=0, user="u", verb=verb, method=method, path=path, status=status, resource=resource,
                               namespace=namespace, name=name, user_agent=user_agent)

    portal, admin = "platform-portal/1.0", "kubectl/v1.37"
    log = [
        entry(admin, "create", "POST", "/api/v1/namespaces", "namespaces", name="theirs"),
        entry(portal, "create", "POST", "/api/v1/namespaces", "namespaces", name="ours"),
        entry(portal, "patch", "PATCH", "/api/v1/namespaces/ours/resourcequotas/q", "resourcequotas", namespace="ours", name="q"),
        entry(portal, "patch", "PATCH", "/api/v1/namespaces/theirs/resourcequotas/q", "resourcequotas", namespace="theirs", name="q"),
        entry(portal, "delete", "DELETE", "/api/v1/namespaces/theirs", "namespaces", name="theirs", status=200),
    ]

    checked, bad = violations(log, adopted=set())

    assert checked == 4
    assert bad == ["PATCH /api/v1/namespaces/theirs/resourcequotas/q -> 201", "DELETE /api/v1/namespaces/theirs -> 200"]
    assert violations(log, adopted={"theirs"})[1] == []
