"""Receipts are written once: UPDATE and DELETE are refused (a correction is a new
receipt of a new event, never an edit). TRUNCATE is left to the table owner, as for the
ledger (the test suite resets tables with it)."""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION receipts_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = '42501';
END $$;

CREATE TRIGGER receipts_receipt_append_only
    BEFORE UPDATE OR DELETE ON receipts_receipt
    FOR EACH ROW EXECUTE FUNCTION receipts_append_only();
CREATE TRIGGER receipts_signer_append_only
    BEFORE UPDATE OR DELETE ON receipts_signer
    FOR EACH ROW EXECUTE FUNCTION receipts_append_only();
"""

REVERSE = r"""
DROP TRIGGER receipts_signer_append_only ON receipts_signer;
DROP TRIGGER receipts_receipt_append_only ON receipts_receipt;
DROP FUNCTION receipts_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [("receipts", "0001_receipts")]

    operations = [migrations.RunSQL(FORWARD, REVERSE)]
