"""What namespaces tell listeners (notifications), sent inside the transition's transaction.

Receivers that do work outside the database must defer it with
``transaction.on_commit``. Every signal carries ``namespace`` and ``at``
(when it happened).
"""

from django.dispatch import Signal

# The bundle is on the cluster for the first time since the namespace was Pending/Provisioning/Failed.
namespace_ready = Signal()
# Applying failed for good (not retried); ``error`` says why.
namespace_failed = Signal()

# The drift pass listed every portal-managed ResourceQuota of ``cluster`` (``quotas``: the live objects) with
# ``list_calls`` requests: listeners (usage history) use it instead of listing again. Sent outside any transaction.
quotas_listed = Signal()
