from django.apps import AppConfig


class OnboardingConfig(AppConfig):
    name = "apps.onboarding"
    label = "onboarding"

    def ready(self):
        # Importing the teams services registers the "membership" approval
        # handler with the request workflow, for every process (web and worker).
        import apps.teams.services  # noqa: F401
