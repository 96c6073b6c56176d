"""Check each journal once per transaction instead of once per row.

A journal inserted by the current transaction is checked by its own deferred trigger at
commit, after every posting is written, so the per-posting trigger only needs to act on
postings added to a journal some other transaction created. (A journal inserted inside
a savepoint has a subtransaction's xmin and is simply checked again: slower, not weaker.)
"""

from django.db import migrations

FORWARD = r"""
CREATE OR REPLACE FUNCTION ledger_posting_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM ledger_journal
                WHERE id = NEW.journal_id AND xmin = pg_current_xact_id()::xid) THEN
        RETURN NULL;  -- ledger_journal_has_postings checks this journal at commit
    END IF;
    PERFORM ledger_check_journal(NEW.journal_id);
    RETURN NULL;
END $$;
"""

BACKWARD = r"""
CREATE OR REPLACE FUNCTION ledger_posting_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_check_journal(NEW.journal_id);
    RETURN NULL;
END $$;
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_database_invariants")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
