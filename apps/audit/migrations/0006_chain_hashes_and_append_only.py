"""Hash the events written before the chain existed, then make the audit tables append-only on PostgreSQL.

The trigger refuses UPDATE and DELETE on audit events and seals, except:
* an UPDATE that only sets ``actor_id`` / ``team_id`` to NULL (the database
  does that when the user or team is deleted; neither is in the hash);
* anything inside a transaction that ran ``SET LOCAL portal.audit_purge = 'on'``
  (``manage.py audit_purge``, which records an AuditCheckpoint).
"""

from django.db import migrations

TRIGGER = """
CREATE OR REPLACE FUNCTION portal_audit_append_only() RETURNS trigger AS $$
BEGIN
    IF current_setting('portal.audit_purge', true) = 'on' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_auditevent' THEN
        IF (to_jsonb(NEW) - 'actor_id' - 'team_id') = (to_jsonb(OLD) - 'actor_id' - 'team_id')
           AND (to_jsonb(NEW) ->> 'actor_id' IS NULL OR to_jsonb(NEW) -> 'actor_id' = to_jsonb(OLD) -> 'actor_id')
           AND (to_jsonb(NEW) ->> 'team_id' IS NULL OR to_jsonb(NEW) -> 'team_id' = to_jsonb(OLD) -> 'team_id') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % on % refused (use manage.py audit_purge for retention)', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION portal_audit_append_only();
DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_auditseal;
CREATE TRIGGER audit_seal_append_only BEFORE UPDATE OR DELETE ON audit_auditseal
    FOR EACH ROW EXECUTE FUNCTION portal_audit_append_only();
"""
DROP = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_seal_append_only ON audit_auditseal;
DROP FUNCTION IF EXISTS portal_audit_append_only();
"""


def hash_existing(apps, schema_editor):
    from apps.audit.chain import CONTENT_FIELDS, content_hash

    AuditEvent = apps.get_model("audit", "AuditEvent")
    for event in AuditEvent.objects.filter(content_hash="").iterator(chunk_size=2000):
        event.content_hash = content_hash({name: getattr(event, name) for name in CONTENT_FIELDS})
        event.save(update_fields=["content_hash"])


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER, params=None)


def uninstall(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0005_chain")]
    operations = [
        migrations.RunPython(hash_existing, migrations.RunPython.noop),
        migrations.RunPython(install, uninstall),
    ]
