"""Cluster pages: the list with health, for platform admins."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.views.decorators.http import require_GET

from apps.clusters.models import Cluster
from apps.core.htmx import render_page


@login_required
@require_GET
def cluster_list(request):
    """Every cluster with its health, server version, last check, labels and live namespace count.

    Admins only: the list shows every team's footprint. One query whatever
    the number of clusters (the count is an annotation).
    """
    if not request.user.is_platform_admin:
        raise PermissionDenied("Only platform admins see the cluster list.")
    clusters = Cluster.objects.annotate(
        namespace_count=Count("namespaces", filter=~Q(namespaces__phase="Deleted"))
    ).order_by("name")
    return render_page(request, "clusters/list.html", {"clusters": clusters})
