from django.apps import AppConfig


class ViolationsConfig(AppConfig):
    name = "apps.violations"
    label = "violations"
