from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "apps.usage"
    label = "usage"

    def ready(self):
        # The drift pass lists every portal-managed ResourceQuota of a cluster anyway: record the usage it carries.
        from apps.namespaces.signals import quotas_listed

        quotas_listed.connect(_record_listed_quotas, dispatch_uid="usage-record-listed-quotas")


def _record_listed_quotas(sender, cluster, quotas, list_calls=0, **kwargs):
    from apps.usage.services import record_quotas

    record_quotas(cluster, quotas, list_calls=list_calls)
