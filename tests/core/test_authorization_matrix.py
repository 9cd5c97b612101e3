"""The authorization matrix, as a permanent test.

Every route of the URL configuration (new ones are picked up automatically and
must be given a rule below) × every kind of person (anonymous, outsider,
member of another team, developer, team manager, platform admin, auditor) ×
an object of the developer's own team and one of another team:

* a read (GET) must not reveal what the person may not see: the response may
  not contain a marker (namespace names, request names, certificate serials,
  token names) of an object outside what that person is allowed to read;
* a write (POST, PATCH, DELETE) by someone the rule does not allow must leave
  the database exactly as it was (checked on a digest of the tables that
  matter; each cell runs in a savepoint that is rolled back, so cells are
  independent).

The size of the matrix is printed at the end of the run; any leak fails it.
"""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, User
from apps.accounts.services import api_token_issue
from apps.approvals.models import Request
from apps.clusters.models import Cluster
from apps.namespaces.models import Namespace
from apps.notifications.models import EmailOptOut, Notification
from apps.onboarding.models import IssuedCertificate
from apps.quotas.models import TeamBudget
from apps.teams.models import Membership, Team
from apps.violations.models import Violation
from tests.conftest import make_user
from tests.figures import report
from tests.pages import make_cluster, make_namespace, make_request

pytestmark = pytest.mark.django_db

ACTORS = ("anonymous", "outsider", "other_team_member", "developer", "manager", "admin", "auditor")
SKIP = ("admin/",)  # Django's admin: staff only, its own login; audited separately (tests/*/test_admin.py)
PUBLIC = {"login/", "logout/", "api/schema/", "api/docs/"}


# --- the world ------------------------------------------------------------------------------------


class World:
    """Two teams with one of everything, the people of the matrix, and what each may see."""

    def __init__(self):
        self.cluster = make_cluster("dev")
        self.teams = {"own": Team.objects.create(slug="payments", name="Payments"),
                      "other": Team.objects.create(slug="search", name="Search")}
        self.people = {
            "outsider": make_user("olga"),
            "other_team_member": make_user("sam"),
            "developer": make_user("alice"),
            "manager": make_user("bob"),
            "admin": make_user("carol", platform_role=User.PlatformRole.ADMIN),
            "auditor": make_user("dora", platform_role=User.PlatformRole.AUDITOR),
        }
        other_manager = make_user("sue")
        Membership.objects.create(user=self.people["developer"], team=self.teams["own"], role=Membership.Role.MEMBER)
        Membership.objects.create(user=self.people["manager"], team=self.teams["own"], role=Membership.Role.MANAGER)
        Membership.objects.create(user=self.people["other_team_member"], team=self.teams["other"], role=Membership.Role.MEMBER)
        Membership.objects.create(user=other_manager, team=self.teams["other"], role=Membership.Role.MANAGER)
        # Per side: the team member whose things these are.
        self.owner = {"own": self.people["developer"], "other": self.people["other_team_member"]}
        self.objects: dict[str, dict[str, object]] = {}
        self.markers: dict[str, list[tuple[str, set[str]]]] = {}
        now = timezone.now()
        for side, team in self.teams.items():
            owner = self.owner[side]
            ns = make_namespace(team, self.cluster, f"{team.slug}-secretns", owner=owner, purpose=f"{team.slug}-nspurpose",
                                expires_at=now + timedelta(hours=10))
            req = make_request(team, owner, self.cluster, f"{team.slug}-reqsecret")
            joiner = make_user(f"{team.slug}-joiner")
            join = Request.objects.create(kind=Request.Kind.MEMBERSHIP, team=team, requester=joiner, payload={"role": "member", "note": ""})
            quota_change = Request.objects.create(
                kind=Request.Kind.QUOTA, team=team, requester=owner, cluster=self.cluster, name=ns.name, namespace=ns,
                payload={"namespace_id": ns.pk, "quota": {"pods": "20"}, "previous": dict(ns.quota),
                         "reason": f"{team.slug}-quotareason", "tier": None, "limit_defaults": {}})
            cert = IssuedCertificate.objects.create(
                user=owner, cluster=self.cluster, namespace=ns, namespace_name=ns.name, subject=f"CN=portal:{owner.username}",
                serial=f"serial{team.slug}0001", fingerprint_sha256=f"fp-{team.slug}", not_before=now, not_after=now + timedelta(hours=1),
                csr_name=f"csr-{team.slug}", key_mode="server", reason="matrix")
            token, _ = api_token_issue(actor=None, user=owner, name=f"{team.slug}-token-secret")
            Violation.objects.create(cluster=self.cluster, source="gatekeeper", fingerprint=f"fp-{team.slug}", policy="K8sRequiredLabels/x",
                                     action="deny", message=f"{team.slug}-violationsecret", object_kind="Pod",
                                     object_namespace=ns.name, object_name="p", namespace=ns, team=team, first_seen=now)
            note = Notification.objects.create(user=owner, kind="request_decided", key=f"matrix:{team.slug}",
                                               title=f"{team.slug}-notesecret", url="/")
            self.objects[side] = {"team": team, "namespace": ns, "request": req, "join": join, "quota": quota_change,
                                  "certificate": cert, "notification": note,
                                  "token": token, "membership": Membership.objects.get(user=owner, team=team), "user": owner}
            members = {u.username for u in User.objects.filter(memberships__team=team)}
            readers = {"carol", "dora"}
            self.markers[side] = [
                (ns.name, members | readers),
                (ns.purpose, members | readers),
                (req.name, members | readers),
                (f"{team.slug}-quotareason", members | readers),
                (f"{team.slug}-violationsecret", members | readers),
                (cert.serial, {owner.username} | readers),
                (f"{team.slug}-token-secret", {owner.username} | readers),
                (f"{team.slug}-notesecret", {owner.username}),  # one's own inbox: not even admins read it
            ]
        self.tokens = {actor: api_token_issue(actor=None, user=user)[1] for actor, user in self.people.items()}

    def relation(self, actor: str, side: str) -> str:
        """none / member / manager / admin / auditor: what ``actor`` is to ``side``'s team."""
        if actor in ("admin", "auditor", "anonymous"):
            return actor
        role = Membership.objects.filter(user=self.people[actor], team=self.teams[side]).values_list("role", flat=True).first()
        return role or "none"


def digest() -> str:
    """What a refused write must not change."""
    rows = [
        list(Namespace.objects.order_by("pk").values_list("pk", "phase", "protected", "team_id", "adopted")),
        list(Request.objects.order_by("pk").values_list("pk", "state", "namespace_id")),
        list(TeamBudget.objects.order_by("pk").values_list("pk", "team_id", "cluster_id", "hard", "namespaces")),
        list(Membership.objects.order_by("pk").values_list("pk", "user_id", "team_id", "role")),
        list(ApiToken.objects.order_by("pk").values_list("pk", "revoked_at", "name")),
        list(User.objects.order_by("pk").values_list("pk", "is_active", "platform_role", "is_staff", "is_superuser")),
        list(Team.objects.order_by("pk").values_list("pk", "slug", "name", "contact", "description", "budget", "archived_at")),
        list(Cluster.objects.order_by("pk").values_list("pk", "name", "portal_namespace")),
        IssuedCertificate.objects.count(),
        list(Notification.objects.order_by("pk").values_list("pk", "read_at")),
        list(EmailOptOut.objects.order_by("pk").values_list("user_id", "kind")),
    ]
    return hashlib.sha256(repr(rows).encode()).hexdigest()


# --- routes, filled for one side ------------------------------------------------------------------


def _routes(patterns=None, prefix=""):
    for p in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


ROUTES = sorted({r.replace("^", "").replace("$", "") for r in _routes()
                 if not r.startswith(SKIP) and r not in PUBLIC})


def concrete(route: str, world: World, side: str) -> str:
    o = world.objects[side]
    pk_for = [
        (r"^namespaces/<int:pk>", o["namespace"].pk), (r"^api/v1/namespaces/\(\?P<pk>", o["namespace"].pk),
        (r"^api/v1/namespaces/<int:pk>", o["namespace"].pk),
        (r"^requests/<int:pk>", o["request"].pk), (r"^api/v1/namespace-requests/\(\?P<pk>", o["request"].pk),
        (r"^api/v1/membership-requests/\(\?P<pk>", o["join"].pk), (r"^onboarding/join/<int:pk>", o["join"].pk),
        (r"^api/v1/quota-requests/\(\?P<pk>", o["quota"].pk), (r"^api/v1/requests/\(\?P<pk>", o["request"].pk),
        (r"^api/v1/kubeconfigs/\(\?P<pk>", o["certificate"].pk),
        (r"^api/v1/notifications/\(\?P<pk>", o["notification"].pk), (r"^notifications/<int:pk>", o["notification"].pk),
        (r"^account/tokens/<int:pk>", o["token"].pk), (r"^api/v1/tokens/\(\?P<pk>", o["token"].pk),
        (r"^teams/<slug:slug>/members/<int:pk>", o["membership"].pk), (r"^teams/users/<int:pk>", o["user"].pk),
    ]
    pk = next((value for pattern, value in pk_for if re.match(pattern, route)), None)
    url = re.sub(r"<slug:name>", world.cluster.name, route)  # /api/v1/clusters/<name>/usage/
    url = re.sub(r"<slug:\w+>|\(\?P<slug>[^)]*\)", o["team"].slug, url)
    url = re.sub(r"\(\?P<username>[^)]*\)", o["user"].username, url)
    url = re.sub(r"\(\?P<cluster>[^)]*\)", world.cluster.name, url)
    if pk is not None:
        url = re.sub(r"<int:pk>|\(\?P<pk>\[0-9\]\+\)", str(pk), url)
    assert "<" not in url and "(?" not in url, f"new route {route}: tell the authorization matrix which object fills it"
    return "/" + url


def body(route: str, world: World, side: str) -> dict:
    """A write that would succeed for someone allowed, so a refusal is the rule, not bad input."""
    o = world.objects[side]
    team, cluster = o["team"].slug, world.cluster.name
    if "namespace-requests/" == route.removeprefix("api/v1/") or route == "namespaces/request/":
        return {"cluster": cluster, "team": team, "name": f"{team}-new", "quota": {"pods": "10"}, "tier": "small",
                "quota_pods": "10"}
    if route.endswith("members/") and route.startswith("api/"):
        return {"username": "olga", "role": "member"}
    if route == "teams/<slug:slug>/members/add/":
        return {"username": "olga", "role": "member"}
    if "members/" in route and (route.endswith("role/") or "username" in route):
        return {"role": "manager"}
    if route.endswith("protect/"):
        return {"protected": "true"}
    if route.endswith("extend/"):
        return {"ttl_hours": 100, "reason": "matrix"}
    if route.endswith("read/") or route.endswith("read-all/"):
        return {}
    if route in ("notifications/settings/", "api/v1/notifications/email-settings/"):
        return {"email_off": ["namespace_ready"]}
    if route in ("api/v1/membership-requests/", "onboarding/join/"):
        return {"team": team, "role": "member", "note": ""}
    if route in ("api/v1/kubeconfigs/", "onboarding/kubeconfig/"):
        return {"cluster": cluster, "namespace": o["namespace"].name, "namespace_name": o["namespace"].name, "mode": "server"}
    if route in ("api/v1/namespaces/adopt/", "namespaces/adopt/"):
        return {"cluster": cluster, "name": "kube-foo", "team": team, "confirm_uid": "x", "confirm_name": "kube-foo"}
    if route in ("api/v1/tokens/", "account/tokens/"):
        return {"name": "matrix", "expires_in_days": 1}
    if route == "api/v1/quota-requests/":
        return {"namespace": o["namespace"].pk, "quota": {"pods": "30"}, "reason": "matrix"}
    if "budgets/" in route:
        return {"hard": {"pods": "5"}, "namespaces": 1}
    if route in ("api/v1/teams/", "teams/new/"):
        return {"slug": "matrix-team", "name": "Matrix"}
    if re.match(r"^(api/v1/teams/\(\?P<slug>[^)]*\)/|teams/<slug:slug>/edit/)$", route):
        return {"slug": team, "name": o["team"].name, "contact": "#matrix", "description": "matrix"}
    if route == "account/lockouts/":
        return {"username": o["user"].username}
    return {"reason": "matrix"}


# --- who may write what ----------------------------------------------------------------------------
# Each rule: (route regex, who may change the database). ``who`` is a set of
# relations (none / member / manager / admin / auditor, as World.relation
# gives) or a callable (actor, relation, world, side) -> bool. The first
# matching rule wins; a route with no rule fails the test.

MANAGE = {"manager", "admin"}
EVERYONE = {"none", "member", "manager", "admin", "auditor"}
NOBODY: set[str] = set()


def requester_only(actor, relation, world, side):
    """Only whoever asked may withdraw a join request: the joiners, who are none of the matrix's people."""
    return False


def owner_or_admin(actor, relation, world, side):
    return relation == "admin" or world.people.get(actor) == world.owner[side]


def manager_not_requester(actor, relation, world, side):
    return relation in MANAGE and world.people.get(actor) != world.owner[side]


def requester_of_namespace_request(actor, relation, world, side):
    return world.people.get(actor) == world.owner[side]


def member_leaves_or_managed(actor, relation, world, side):
    return relation in MANAGE or world.people.get(actor) == world.owner[side]


WRITE_RULES: list[tuple[str, object]] = [
    (r"^api/v1/$", NOBODY),
    (r"^namespaces/request/(validate|quota)/$", EVERYONE),  # live validation: never writes
    (r"^(api/v1/namespace-requests/|namespaces/request/)$", {"member", "manager"}),
    (r"^(api/v1/(namespace-|quota-|)requests/\(\?P<pk>\[0-9\]\+\)|requests/<int:pk>)/(approve|reject)/$", manager_not_requester),
    (r"^(api/v1/(namespace-|quota-)requests/\(\?P<pk>\[0-9\]\+\)|requests/<int:pk>)/cancel/$", requester_of_namespace_request),
    (r"^api/v1/quota-requests/$", {"member", "manager"}),
    (r"^api/v1/teams/\(\?P<slug>[^)]*\)/budgets/\(\?P<cluster>[^)]*\)/$", {"admin"}),
    (r"^api/v1/membership-requests/\(\?P<pk>\[0-9\]\+\)/(approve|reject)/$", MANAGE),
    (r"^(api/v1/membership-requests/\(\?P<pk>\[0-9\]\+\)/cancel/|onboarding/join/<int:pk>/cancel/)$", requester_only),
    (r"^(api/v1/membership-requests/|onboarding/join/)$", {"none", "admin", "auditor"}),  # anyone not yet a member may ask
    (r"^(api/v1/namespaces/\(\?P<pk>\[0-9\]\+\)/|namespaces/<int:pk>/(delete|protect)/)$", MANAGE),
    (r"^(api/v1/namespaces/adopt/|namespaces/adopt/)$", {"admin"}),
    (r"^(api/v1/namespaces/\(\?P<pk>\[0-9\]\+\)|namespaces/<int:pk>)/extend/$", {"member", "manager"}),
    # One's own inbox: marking read, email settings.
    (r"^(api/v1/notifications/\(\?P<pk>\[0-9\]\+\)|notifications/<int:pk>)/read/$", requester_of_namespace_request),
    (r"^(api/v1/notifications/(read-all|email-settings)/|notifications/(read-all|settings)/)$", EVERYONE),
    (r"^(api/v1/kubeconfigs/|onboarding/kubeconfig/)$", {"member", "manager", "admin"}),
    (r"^(api/v1/tokens/|account/tokens/)$", EVERYONE),  # one's own token
    (r"^(api/v1/tokens/\(\?P<pk>\[0-9\]\+\)/|account/tokens/<int:pk>/revoke/)$", owner_or_admin),
    (r"^account/lockouts/$", {"admin"}),
    (r"^api/v1/teams/\(\?P<slug>[^)]*\)/members/\(\?P<username>[^)]*\)/$", member_leaves_or_managed),
    (r"^teams/<slug:slug>/members/<int:pk>/remove/$", member_leaves_or_managed),
    (r"^(api/v1/teams/\(\?P<slug>[^)]*\)/members/|teams/<slug:slug>/members/(add/|<int:pk>/role/))$", MANAGE),
    (r"^(api/v1/users/\(\?P<username>[^)]*\)/deactivate/|teams/users/<int:pk>/deactivate/)$", {"admin"}),
    (r"^(api/v1/teams/|teams/new/|teams/<slug:slug>/(archive|restore)/)$", {"admin"}),
    (r"^(api/v1/teams/\(\?P<slug>[^)]*\)/|teams/<slug:slug>/edit/)$", MANAGE),  # managers: description and contact
    # Everything else only reads (a write is refused with 405 or changes nothing).
    (r"^", NOBODY),
]


def may_write(route: str, actor: str, relation: str, world: World, side: str) -> bool:
    for pattern, who in WRITE_RULES:
        if re.search(pattern, route):
            return who(actor, relation, world, side) if callable(who) else relation in who
    raise AssertionError(f"new route {route} has no authorization rule")


# --- the matrix ----------------------------------------------------------------------------------------


def client_for(world: World, actor: str, api: bool):
    if actor == "anonymous":
        return APIClient() if api else Client()
    if api:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {world.tokens[actor]}")
        return client
    client = Client()
    client.force_login(world.people[actor])
    return client


def test_authorization_matrix(settings):
    settings.API_TOKEN_FAILURE_LIMIT = 10**6  # anonymous API calls must not trip the wrong-token throttle
    world = World()
    clients = {(actor, api): client_for(world, actor, api) for actor in ACTORS for api in (False, True)}
    cells, leaks = 0, []
    for route in ROUTES:
        api = route.startswith("api/")
        for side in ("own", "other"):
            url = concrete(route, world, side)
            for actor in ACTORS:
                client = clients[(actor, api)]
                username = world.people[actor].username if actor in world.people else ""
                # Reads: no marker of something this person may not see.
                response = client.get(url)
                cells += 1
                raw = b"".join(response.streaming_content) if response.streaming else response.content
                text = raw.decode("utf-8", "replace")
                for marker_side in ("own", "other"):
                    for marker, readers in world.markers[marker_side]:
                        if marker in text and username not in readers:
                            leaks.append(f"GET {url} as {actor}: shows {marker!r} ({response.status_code})")
                # Writes: refused ones change nothing.
                relation = world.relation(actor, side)
                if may_write(route, actor, relation, world, side):
                    continue
                for method in ("post", "patch", "delete"):
                    before = digest()
                    with transaction.atomic():
                        data = body(route, world, side)
                        if api:
                            response = getattr(client, method)(url, data, format="json")
                        else:
                            response = getattr(client, method)(url, data)
                        after = digest()
                        transaction.set_rollback(True)
                    cells += 1
                    if after != before:
                        leaks.append(f"{method.upper()} {url} as {actor} ({relation}) changed the database ({response.status_code})")
    report(f"authorization matrix: {len(ROUTES)} routes x {len(ACTORS)} people x own/other objects = {cells} cells, "
           f"{len(leaks)} leaks")
    assert not leaks, "\n".join(leaks)
    assert len(ROUTES) > 50 and cells > 1000  # the matrix really ran
