from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("ticketing", "0004_audit_references_without_constraints")]

    operations = [
        migrations.RenameModel("Transaction", "AuditEntry"),
        migrations.RenameIndex(
            model_name="auditentry", new_name="auditentry_csv_pending", old_name="transaction_csv_pending"
        ),
        migrations.AlterModelOptions(
            name="auditentry", options={"ordering": ["-id"], "verbose_name_plural": "audit entries"}
        ),
    ]
