"""Database triggers that make the audit table append-only: UPDATE and DELETE are rejected by
the database itself, whoever connects."""

from django.db import migrations

TABLE = "audit_auditevent"

SQLITE = [
    f"""CREATE TRIGGER audit_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only: UPDATE rejected'); END""",
    f"""CREATE TRIGGER audit_no_delete BEFORE DELETE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'audit log is append-only: DELETE rejected'); END""",
]
SQLITE_REVERSE = ["DROP TRIGGER IF EXISTS audit_no_update", "DROP TRIGGER IF EXISTS audit_no_delete"]

POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION audit_reject_change() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit log is append-only: % rejected', TG_OP; END;
       $$ LANGUAGE plpgsql""",
    f"""CREATE TRIGGER audit_no_update BEFORE UPDATE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_reject_change()""",
    f"""CREATE TRIGGER audit_no_delete BEFORE DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION audit_reject_change()""",
    f"""CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON {TABLE}
        FOR EACH STATEMENT EXECUTE FUNCTION audit_reject_change()""",
]
POSTGRESQL_REVERSE = [
    f"DROP TRIGGER IF EXISTS audit_no_update ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_no_delete ON {TABLE}",
    f"DROP TRIGGER IF EXISTS audit_no_truncate ON {TABLE}",
    "DROP FUNCTION IF EXISTS audit_reject_change()",
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        statements = statements_by_vendor.get(schema_editor.connection.vendor)
        if statements is None:
            raise NotImplementedError(
                f"no append-only triggers for {schema_editor.connection.vendor}"
            )
        for statement in statements:
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        )
    ]
