import uuid

from django.db import migrations, models


def fill_uids(apps, schema_editor):
    Namespace = apps.get_model("namespaces", "Namespace")
    for pk in Namespace.objects.values_list("pk", flat=True):
        Namespace.objects.filter(pk=pk).update(uid=uuid.uuid4())


class Migration(migrations.Migration):
    dependencies = [("namespaces", "0002_reconcile_state")]

    operations = [
        # Added nullable, filled row by row, then made unique: a callable
        # default in AddField would give every existing row the same uuid.
        migrations.AddField(model_name="namespace", name="uid", field=models.UUIDField(null=True, editable=False)),
        migrations.RunPython(fill_uids, migrations.RunPython.noop),
        migrations.AlterField(model_name="namespace", name="uid",
                              field=models.UUIDField(default=uuid.uuid4, unique=True, editable=False)),
        migrations.AddField(model_name="namespace", name="cluster_uid", field=models.CharField(blank=True, max_length=64)),
        migrations.AddField(model_name="namespace", name="adopted", field=models.BooleanField(default=False)),
    ]
