"""OpenID Connect sign-in with mozilla-django-oidc, configured from the environment only.

Why mozilla-django-oidc rather than django-allauth: the portal needs exactly
one thing from it, the authorization-code flow (with PKCE) against one
provider, plugged into Django's own auth and session machinery; mozilla's
library is that and only that (a backend and two views), where allauth
brings its own account model, templates and flows we would have to switch off.

``OIDC_ISSUER`` turns it on. The provider's endpoints come from its discovery
document (``<issuer>/.well-known/openid-configuration``), read on first use
and cached for ``OIDC_DISCOVERY_CACHE_SECONDS``.

People are matched by the ``sub`` claim (stored on the user; never by email,
which an IdP may let people change), created on first sign-in and updated at
every sign-in: name, email, and, when the groups mapping is configured, their
platform role and team memberships (``oidc_sync_groups``), each change
audited by the usual services. A membership the IdP granted is removed
through the usual offboarding path (``membership_remove``: RoleBindings go)
when its group disappears; memberships granted in the portal (join requests,
managers) are left alone.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation, ValidationError
from django.db import transaction
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from apps.audit.actions import Action
from apps.audit.services import audit_record
from apps.core.errors import ServiceError

log = logging.getLogger(__name__)
User = get_user_model()

# mozilla-django-oidc setting -> discovery document field.
_DISCOVERED = {
    "OIDC_OP_AUTHORIZATION_ENDPOINT": "authorization_endpoint",
    "OIDC_OP_TOKEN_ENDPOINT": "token_endpoint",
    "OIDC_OP_USER_ENDPOINT": "userinfo_endpoint",
    "OIDC_OP_JWKS_ENDPOINT": "jwks_uri",
}
_cache: dict = {"at": 0.0, "document": None}
_cache_lock = threading.Lock()


def oidc_enabled() -> bool:
    return bool(settings.OIDC_ISSUER)


def provider_configuration() -> dict:
    """The issuer's discovery document (cached); ImproperlyConfigured when it cannot be read or does not match."""
    with _cache_lock:
        if _cache["document"] is not None and time.monotonic() - _cache["at"] < settings.OIDC_DISCOVERY_CACHE_SECONDS:
            return _cache["document"]
    issuer = settings.OIDC_ISSUER.rstrip("/")
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT, verify=settings.OIDC_VERIFY_SSL)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise ImproperlyConfigured(f"cannot read the OpenID provider's discovery document {url}: {exc}") from None
    if document.get("issuer", "").rstrip("/") != issuer:
        raise ImproperlyConfigured(f"{url} names issuer {document.get('issuer')!r}, not OIDC_ISSUER {issuer!r}")
    missing = [field for field in _DISCOVERED.values() if not document.get(field)]
    if missing:
        raise ImproperlyConfigured(f"{url} lacks {', '.join(missing)}")
    with _cache_lock:
        _cache.update(at=time.monotonic(), document=document)
    return document


def oidc_setting(attr: str, *args):
    """mozilla-django-oidc's settings lookup, with the provider's endpoints taken from discovery."""
    if attr in _DISCOVERED and oidc_enabled():
        return provider_configuration()[_DISCOVERED[attr]]
    return import_from_settings(attr, *args)


def end_session_url(request) -> str | None:
    """Where to send the browser to end the IdP session too (RP-initiated logout), or None when the IdP offers none."""
    if not oidc_enabled():
        return None
    try:
        endpoint = provider_configuration().get("end_session_endpoint")
    except ImproperlyConfigured as exc:
        log.warning("OIDC logout: %s", exc)
        return None
    id_token = request.session.get("oidc_id_token")
    if not endpoint or not id_token:
        return None
    params = {"id_token_hint": id_token, "client_id": settings.OIDC_RP_CLIENT_ID,
              "post_logout_redirect_uri": request.build_absolute_uri(settings.LOGOUT_REDIRECT_URL_PATH)}
    return f"{endpoint}?{urlencode(params)}"


# --- groups -> roles and memberships --------------------------------------------------------------


def _groups(claims: dict) -> set[str]:
    value = claims.get(settings.OIDC_GROUPS_CLAIM) or []
    if isinstance(value, str):
        value = [value]
    return {g for g in value if isinstance(g, str)}


def platform_role_for(groups: set[str]) -> str | None:
    """admin / auditor / "" from the groups; None when no role mapping is configured (roles stay as set in the portal)."""
    if not (settings.OIDC_ADMIN_GROUPS or settings.OIDC_AUDITOR_GROUPS):
        return None
    if groups & set(settings.OIDC_ADMIN_GROUPS):
        return User.PlatformRole.ADMIN
    if groups & set(settings.OIDC_AUDITOR_GROUPS):
        return User.PlatformRole.AUDITOR
    return User.PlatformRole.NONE


def team_roles_for(groups: set[str]) -> dict[str, str] | None:
    """team slug -> role from ``OIDC_TEAM_GROUP_PATTERN`` (named groups ``team`` and ``role``); None when not configured.

    A person in several groups of one team gets the strongest role.
    """
    if not settings.OIDC_TEAM_GROUP_PATTERN:
        return None
    from apps.teams.models import Membership

    pattern = re.compile(settings.OIDC_TEAM_GROUP_PATTERN)
    rank = {Membership.Role.VIEWER: 0, Membership.Role.MEMBER: 1, Membership.Role.MANAGER: 2}
    roles: dict[str, str] = {}
    for group in sorted(groups):
        match = pattern.fullmatch(group)
        if not match:
            continue
        team, role = match.group("team"), match.groupdict().get("role") or Membership.Role.MEMBER
        if role not in rank:
            continue
        if team not in roles or rank[role] > rank[roles[team]]:
            roles[team] = role
    return roles


def oidc_sync_groups(user, claims: dict) -> list[str]:
    """Apply the IdP's groups to ``user`` (platform role, IdP-granted memberships); returns what changed.

    Runs at every sign-in. Every change goes through the audited services,
    with the system as actor. A team named by a group that does not exist in
    the portal is skipped (logged): the IdP does not create teams.
    """
    from apps.teams.models import Membership, Team
    from apps.teams.services import membership_add, membership_change_role, membership_remove

    groups = _groups(claims)
    changes: list[str] = []
    role = platform_role_for(groups)
    if role is not None and user.platform_role != role and not user.is_superuser:
        before = {"platform_role": user.platform_role}
        user.platform_role = role
        user.save(update_fields=["platform_role"])
        audit_record(actor=None, action=Action.USER_UPDATE, target=user, before=before, after={"platform_role": role},
                     message=f"platform role from the identity provider's groups ({settings.OIDC_GROUPS_CLAIM} claim)")
        changes.append(f"platform role {role or 'none'}")
    wanted = team_roles_for(groups)
    if wanted is None:
        return changes
    teams = {t.slug: t for t in Team.objects.filter(slug__in=wanted, archived_at__isnull=True)}
    for slug in sorted(set(wanted) - set(teams)):
        log.warning("OIDC: %s's group names team %s, which the portal does not have (or it is archived); skipped", user.username, slug)
    current = {m.team.slug: m for m in Membership.objects.filter(user=user).select_related("team")}
    for slug, team in sorted(teams.items()):
        membership = current.get(slug)
        try:
            if membership is None:
                membership_add(actor=None, team=team, user=user, role=wanted[slug], source=Membership.Source.IDP)
                changes.append(f"joined {slug} as {wanted[slug]}")
            elif membership.role != wanted[slug]:
                membership_change_role(actor=None, membership=membership, role=wanted[slug])
                changes.append(f"{slug}: {wanted[slug]}")
        except (ServiceError, ValidationError) as exc:  # e.g. the last manager of a team cannot be demoted
            log.warning("OIDC: cannot give %s role %s in %s: %s", user.username, wanted[slug], slug, exc)
    for slug, membership in sorted(current.items()):
        if slug not in wanted and membership.source == Membership.Source.IDP:
            try:
                membership_remove(actor=None, membership=membership)
                changes.append(f"left {slug}")
            except ServiceError as exc:
                log.warning("OIDC: cannot remove %s from %s: %s", user.username, slug, exc)
    return changes


class PortalOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend: discovery, users matched by ``sub``, groups applied at each sign-in.

    Django builds every backend for every ``authenticate()`` call, local
    password sign-ins included: the provider's endpoints are looked up only
    when an OIDC callback is being handled, so a local (break-glass) sign-in
    works while the IdP is down or not configured.
    """

    def __init__(self, *args, **kwargs):
        self.UserModel = get_user_model()

    @staticmethod
    def get_settings(attr, *args):
        return oidc_setting(attr, *args)

    def authenticate(self, request, **kwargs):
        if not oidc_enabled() or request is None or "code" not in request.GET or "state" not in request.GET:
            return None
        self.OIDC_OP_TOKEN_ENDPOINT = self.get_settings("OIDC_OP_TOKEN_ENDPOINT")
        self.OIDC_OP_USER_ENDPOINT = self.get_settings("OIDC_OP_USER_ENDPOINT")
        self.OIDC_OP_JWKS_ENDPOINT = self.get_settings("OIDC_OP_JWKS_ENDPOINT")
        self.OIDC_RP_CLIENT_ID = settings.OIDC_RP_CLIENT_ID
        self.OIDC_RP_CLIENT_SECRET = settings.OIDC_RP_CLIENT_SECRET
        self.OIDC_RP_SIGN_ALGO = settings.OIDC_RP_SIGN_ALGO
        self.OIDC_RP_IDP_SIGN_KEY = None
        return super().authenticate(request, **kwargs)

    def verify_claims(self, claims):
        return bool(claims.get("sub"))

    def filter_users_by_claims(self, claims):
        return self.UserModel.objects.filter(oidc_subject=claims["sub"])

    def _username_for(self, claims) -> str:
        wanted = str(claims.get(settings.OIDC_USERNAME_CLAIM) or claims.get("email", "").split("@")[0] or "user")
        base = re.sub(r"[^A-Za-z0-9.@+_-]", "-", wanted)[:140] or "user"
        name, n = base, 1
        while self.UserModel.objects.filter(username=name).exists():
            n += 1
            name = f"{base}-{n}"
        return name

    def _profile(self, claims) -> dict:
        return {"email": str(claims.get("email", ""))[:254], "first_name": str(claims.get("given_name", ""))[:150],
                "last_name": str(claims.get("family_name", ""))[:150]}

    @transaction.atomic
    def create_user(self, claims):
        user = self.UserModel.objects.create_user(username=self._username_for(claims), oidc_subject=claims["sub"],
                                                  **self._profile(claims))
        user.set_unusable_password()
        user.save(update_fields=["password"])
        audit_record(actor=None, action=Action.USER_CREATE, target=user, after={"username": user.username, "email": user.email},
                     message=f"first sign-in through {settings.OIDC_ISSUER}")
        oidc_sync_groups(user, claims)
        return user

    @transaction.atomic
    def update_user(self, user, claims):
        if not user.is_active:
            raise SuspiciousOperation(f"{user.username} is deactivated in the portal")
        profile = self._profile(claims)
        changed = {field: value for field, value in profile.items() if getattr(user, field) != value}
        if changed:
            before = {field: getattr(user, field) for field in changed}
            for field, value in changed.items():
                setattr(user, field, value)
            user.save(update_fields=list(changed))
            audit_record(actor=None, action=Action.USER_UPDATE, target=user, before=before, after=changed,
                         message="profile from the identity provider")
        oidc_sync_groups(user, claims)
        return user
