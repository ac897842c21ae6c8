"""``details`` becomes the canonical JSON text that the row hash covers (a text column on every
database: PostgreSQL's jsonb would not give the same text back).

SQLite changes a column's type by building a new table and dropping the old one, which drops
the append-only triggers with it; they are created again on the new table, in both directions.
"""

from importlib import import_module

from django.db import migrations

import audit.models

append_only = import_module("audit.migrations.0002_append_only_triggers")


def restore_sqlite_triggers(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    for statement in append_only.SQLITE_REVERSE + append_only.SQLITE:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_append_only_triggers"),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_triggers),
        migrations.AlterField(
            model_name="auditevent",
            name="details",
            field=audit.models.CanonicalJSONField(default=dict),
        ),
        migrations.RunPython(restore_sqlite_triggers, migrations.RunPython.noop),
    ]
