"""Every action the audit log records: ``audit_record`` accepts nothing else.

The values are what the rows store and what the history page filters on
(``namespace.`` matches every namespace action), so they never change; a
new kind of change gets a new member. Grouped by the object they act on.
"""

from django.db import models


class Action(models.TextChoices):
    # Sign-in (accounts)
    AUTH_LOGIN = "auth.login", "Signed in"
    AUTH_LOGIN_FAILED = "auth.login_failed", "Sign-in failed"
    AUTH_LOCKOUT = "auth.lockout", "Locked out after failed sign-ins"
    AUTH_UNLOCK = "auth.unlock", "Sign-in unlocked"

    # Users (accounts; create/update/delete come from the admin)
    USER_CREATE = "user.create", "User created"
    USER_UPDATE = "user.update", "User changed"
    USER_DELETE = "user.delete", "User deleted"
    USER_SET_PASSWORD = "user.set_password", "Password set"
    USER_DEACTIVATE = "user.deactivate", "User deactivated"

    # Permission groups (the admin)
    GROUP_CREATE = "group.create", "Group created"
    GROUP_UPDATE = "group.update", "Group changed"
    GROUP_DELETE = "group.delete", "Group deleted"

    # API tokens (create/update/delete come from the admin)
    API_TOKEN_ISSUE = "api_token.issue", "API token issued"
    API_TOKEN_REVOKE = "api_token.revoke", "API token revoked"
    API_TOKEN_CREATE = "api_token.create", "API token created"
    API_TOKEN_UPDATE = "api_token.update", "API token changed"
    API_TOKEN_DELETE = "api_token.delete", "API token deleted"

    # Teams and memberships
    TEAM_CREATE = "team.create", "Team created"
    TEAM_UPDATE = "team.update", "Team changed"
    TEAM_ARCHIVE = "team.archive", "Team archived"
    TEAM_RESTORE = "team.restore", "Team restored from the archive"
    TEAM_DELETE = "team.delete", "Team deleted"
    MEMBERSHIP_ADD = "membership.add", "Member added"
    MEMBERSHIP_CHANGE_ROLE = "membership.change_role", "Member's role changed"
    MEMBERSHIP_REMOVE = "membership.remove", "Member removed"
    MEMBERSHIP_ACCESS_READY = "membership.access_ready", "New member's access confirmed"
    MEMBERSHIP_ACCESS_FAILED = "membership.access_failed", "New member's access not confirmed"

    # Clusters
    CLUSTER_REGISTER = "cluster.register", "Cluster registered"
    CLUSTER_UPDATE = "cluster.update", "Cluster changed"

    # Requests (every kind): the decision, then what applying it did
    REQUEST_SUBMIT = "request.submit", "Request submitted"
    REQUEST_APPROVE = "request.approve", "Request approved"
    REQUEST_REJECT = "request.reject", "Request rejected"
    REQUEST_CANCEL = "request.cancel", "Request cancelled"
    REQUEST_APPLYING = "request.applying", "Request being applied"
    REQUEST_DONE = "request.done", "Request done"
    REQUEST_FAILED = "request.failed", "Request failed"

    # Namespaces
    NAMESPACE_CREATE = "namespace.create", "Namespace created"
    NAMESPACE_ADOPT = "namespace.adopt", "Namespace adopted"
    NAMESPACE_PROVISION = "namespace.provision", "Namespace being applied"
    NAMESPACE_READY = "namespace.ready", "Namespace ready"
    NAMESPACE_DRIFT_REPAIRED = "namespace.drift_repaired", "Namespace drift repaired"
    NAMESPACE_FAIL = "namespace.fail", "Namespace failed"
    NAMESPACE_PROTECT = "namespace.protect", "Namespace protected from expiry"
    NAMESPACE_UNPROTECT = "namespace.unprotect", "Namespace no longer protected from expiry"
    NAMESPACE_DELETE = "namespace.delete", "Namespace deletion started"
    NAMESPACE_EXPIRE = "namespace.expire", "Namespace expired"
    NAMESPACE_DELETED = "namespace.deleted", "Namespace deleted"
    NAMESPACE_QUOTA_CHANGE = "namespace.quota_change", "Namespace quota changed"
    NAMESPACE_EXTEND = "namespace.extend", "Namespace lifetime extended"

    # Quota configuration (tiers, team budgets, auto-approval rules)
    QUOTA_TIER_CREATE = "quota_tier.create", "Quota tier created"
    QUOTA_TIER_UPDATE = "quota_tier.update", "Quota tier changed"
    QUOTA_TIER_DELETE = "quota_tier.delete", "Quota tier deleted"
    TEAM_BUDGET_CREATE = "team_budget.create", "Team budget set"
    TEAM_BUDGET_UPDATE = "team_budget.update", "Team budget changed"
    TEAM_BUDGET_DELETE = "team_budget.delete", "Team budget removed"
    APPROVAL_RULE_CREATE = "approval_rule.create", "Approval rule created"
    APPROVAL_RULE_UPDATE = "approval_rule.update", "Approval rule changed"
    APPROVAL_RULE_DELETE = "approval_rule.delete", "Approval rule deleted"

    # Credentials
    KUBECONFIG_ISSUE = "kubeconfig.issue", "Kubeconfig issued"
