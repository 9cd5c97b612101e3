"""A suite-wide invariant: the portal writes only into namespaces it created or an admin adopted.

Every test that runs a kubesim is checked when it ends, from kubesim's
request log: each write the portal made (its requests carry the
``platform-portal/`` user agent, whatever credentials the cluster row holds)
must target a CertificateSigningRequest (cluster-scoped, the kubeconfig
flow), the create of a new namespace (which the cluster refuses when the
name exists), or something inside / the Namespace object of a namespace
the portal itself created earlier in the same log, or that a platform
admin adopted (``Namespace.adopted``). A namespace someone else created
afterwards under the same name stops counting as the portal's. Server-side
dry runs (``dryRun=All``, the approval preflight) persist nothing and are
not writes (``RequestLogEntry.is_write``).

The totals are printed at the end of the run (``pytest_terminal_summary``).
"""

from __future__ import annotations

import pytest

PORTAL_USER_AGENT = "platform-portal/"
CLUSTER_SCOPED_OK = {"certificatesigningrequests", "selfsubjectreviews"}

totals = {"clusters": 0, "writes": 0, "violations": 0}


def _adopted_names() -> set[str]:
    try:
        from apps.namespaces.models import Namespace

        return set(Namespace.objects.filter(adopted=True).values_list("name", flat=True))
    except Exception:  # no database in this test (or it is already gone): nothing was adopted
        return set()


def violations(entries, adopted: set[str]) -> tuple[int, list[str]]:
    """(portal writes checked, descriptions of writes outside the portal's namespaces)."""
    created: set[str] = set()
    checked, bad = 0, []
    for e in entries:
        portal = e.user_agent.startswith(PORTAL_USER_AGENT)
        if e.resource == "namespaces" and e.verb == "create" and not e.subresource and 200 <= e.status < 300:
            (created.add if portal else created.discard)(e.name)
        if not portal or not e.is_write:
            continue
        checked += 1
        if e.resource in CLUSTER_SCOPED_OK or (e.resource == "namespaces" and e.verb == "create"):
            continue
        namespace = e.namespace or (e.name if e.resource == "namespaces" else "")
        if namespace not in created and namespace not in adopted:
            bad.append(f"{e.method} {e.path} -> {e.status}")
    return checked, bad


@pytest.fixture(autouse=True)
def portal_writes_only_where_owned(request):
    if "kubesim" not in request.fixturenames:
        yield
        return
    # The database fixture first, so it is torn down after this check reads
    # which namespaces were adopted (fixtures are finalised last-in first-out).
    for name in ("transactional_db", "db"):
        if name in request.fixturenames:
            request.getfixturevalue(name)
            break
    handle = request.getfixturevalue("kubesim")
    yield
    checked, bad = violations(handle.request_log.history(), _adopted_names())
    totals["clusters"] += 1
    totals["writes"] += checked
    totals["violations"] += len(bad)
    assert not bad, "the portal wrote outside the namespaces it created or an admin adopted:\n" + "\n".join(bad)


def summary(terminalreporter) -> None:
    if totals["clusters"]:
        terminalreporter.write_line(
            f"ownership: {totals['writes']} portal writes checked on {totals['clusters']} kubesim clusters; "
            f"{totals['violations']} outside namespaces the portal created or an admin adopted")
