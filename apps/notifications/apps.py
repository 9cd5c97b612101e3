from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "apps.notifications"
    label = "notifications"

    def ready(self):
        # Listens to the workflow's and the namespaces' signals; they never import us.
        from apps.notifications import receivers  # noqa: F401
