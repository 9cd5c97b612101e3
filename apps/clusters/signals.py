"""What the clusters app tells listeners: a cluster's health check turned healthy after it was unreachable."""

from django.dispatch import Signal

# cluster=<Cluster>
cluster_recovered = Signal()
