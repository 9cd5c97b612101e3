from datetime import timedelta

from django.conf import settings
from django.db import migrations, models


def give_existing_tokens_an_expiry(apps, schema_editor):
    # Tokens issued before expiry existed get the default lifetime from their
    # creation, so none of them lives forever.
    ApiToken = apps.get_model("accounts", "ApiToken")
    days = timedelta(days=settings.API_TOKEN_DEFAULT_DAYS)
    for token in ApiToken.objects.filter(expires_at__isnull=True):
        ApiToken.objects.filter(pk=token.pk).update(expires_at=token.created_at + days)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.AddField(model_name="apitoken", name="expires_at", field=models.DateTimeField(null=True)),
        migrations.RunPython(give_existing_tokens_an_expiry, migrations.RunPython.noop),
        migrations.AlterField(model_name="apitoken", name="expires_at", field=models.DateTimeField()),
        migrations.AddField(model_name="apitoken", name="revoked_at", field=models.DateTimeField(blank=True, null=True)),
        migrations.AlterModelOptions(name="apitoken", options={"ordering": ["-created_at", "-id"]}),
    ]
