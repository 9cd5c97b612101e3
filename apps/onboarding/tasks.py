"""Onboarding background work: confirm a newcomer's RoleBindings reached the clusters."""

from __future__ import annotations

from celery import shared_task

from apps.core.context import acting_via

# Poll quickly at first (the team's reconcile usually lands within a second),
# then keep trying for about two minutes before calling it failed.
_FAST_RETRIES = 50
_FAST_DELAY = 0.1
_SLOW_DELAY = 2.0
MAX_RETRIES = _FAST_RETRIES + 60


@shared_task(bind=True, max_retries=MAX_RETRIES, ignore_result=True)
def confirm_access(self, onboarding_id: int) -> None:
    """Check the approved member's RoleBindings in all team namespaces; done, retry, or give up.

    Read-only against the clusters, so re-running it is harmless.
    """
    from apps.onboarding.models import Onboarding
    from apps.onboarding.services import onboarding_check_access, onboarding_give_up

    with acting_via("worker"):
        try:
            ready = onboarding_check_access(onboarding_id)
        except Onboarding.DoesNotExist:
            return
        if ready:
            return
        if self.request.retries >= MAX_RETRIES:
            onboarding_give_up(onboarding_id, "the member's RoleBindings did not appear on every cluster in time; "
                                              "the namespace reconcile keeps retrying, see the namespaces' errors")
            return
    delay = _FAST_DELAY if self.request.retries < _FAST_RETRIES else _SLOW_DELAY
    raise self.retry(countdown=delay)
