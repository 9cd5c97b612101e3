"""The three tiers the request form has always offered, now as data an admin can change."""

from django.db import migrations

TIERS = [
    ("small", "Small", "The portal's default: a team's development namespace", 10,
     {"requests.cpu": "2", "limits.cpu": "4", "requests.memory": "4Gi", "limits.memory": "8Gi", "pods": "50"},
     {"cpu": "500m", "memory": "512Mi"}, {"cpu": "100m", "memory": "256Mi"}),
    ("medium", "Medium", "A busier service or a shared test environment", 20,
     {"requests.cpu": "4", "limits.cpu": "8", "requests.memory": "16Gi", "limits.memory": "32Gi", "pods": "100"},
     {"cpu": "500m", "memory": "512Mi"}, {"cpu": "100m", "memory": "256Mi"}),
    ("large", "Large", "10 cores and 100 GiB, requests and limits", 30,
     {"requests.cpu": "10", "limits.cpu": "10", "requests.memory": "100Gi", "limits.memory": "100Gi", "pods": "200"},
     {"cpu": "1", "memory": "1Gi"}, {"cpu": "250m", "memory": "512Mi"}),
]


def create(apps, schema_editor):
    QuotaTier = apps.get_model("namespaces", "QuotaTier")
    for name, display, description, order, hard, default, default_request in TIERS:
        QuotaTier.objects.get_or_create(name=name, defaults={
            "display_name": display, "description": description, "order": order, "hard": hard,
            "limit_default": default, "limit_default_request": default_request})


class Migration(migrations.Migration):
    dependencies = [("namespaces", "0004_tiers")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
