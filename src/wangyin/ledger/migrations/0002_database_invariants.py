"""Invariants PostgreSQL enforces even if Python code is wrong.

- Every journal has at least two postings, they sum to zero, and every posted account
  has the journal's currency: checked by DEFERRED constraint triggers, i.e. at commit,
  after all postings of the journal are written.
- Journals and postings are append-only: UPDATE and DELETE are refused. (TRUNCATE is
  left to the table owner — the test suite resets tables with it; the runtime role of a
  production deployment should not own the tables, see docs/operations.md.)
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION ledger_check_journal(jid bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    n integer;
    total numeric;
    wrong_currency integer;
BEGIN
    SELECT count(*), coalesce(sum(p.amount), 0),
           count(*) FILTER (WHERE a.currency <> j.currency)
      INTO n, total, wrong_currency
      FROM ledger_journal j
      LEFT JOIN ledger_posting p ON p.journal_id = j.id
      LEFT JOIN ledger_account a ON a.id = p.account_id
     WHERE j.id = jid;
    IF n < 2 THEN
        RAISE EXCEPTION 'journal % has % posting(s); at least 2 are required', jid, n
            USING ERRCODE = '23514', CONSTRAINT = 'ledger_journal_min_postings';
    END IF;
    IF total <> 0 THEN
        RAISE EXCEPTION 'journal % is unbalanced: postings sum to %', jid, total
            USING ERRCODE = '23514', CONSTRAINT = 'ledger_journal_balanced';
    END IF;
    IF wrong_currency > 0 THEN
        RAISE EXCEPTION 'journal % posts to an account of another currency', jid
            USING ERRCODE = '23514', CONSTRAINT = 'ledger_journal_currency';
    END IF;
END $$;

CREATE FUNCTION ledger_posting_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_check_journal(NEW.journal_id);
    RETURN NULL;
END $$;

CREATE FUNCTION ledger_journal_check() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ledger_check_journal(NEW.id);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER ledger_posting_balanced
    AFTER INSERT ON ledger_posting DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_posting_check();

CREATE CONSTRAINT TRIGGER ledger_journal_has_postings
    AFTER INSERT ON ledger_journal DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_journal_check();

CREATE FUNCTION ledger_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = '42501';
END $$;

CREATE TRIGGER ledger_journal_append_only
    BEFORE UPDATE OR DELETE ON ledger_journal
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER ledger_posting_append_only
    BEFORE UPDATE OR DELETE ON ledger_posting
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
"""

REVERSE = r"""
DROP TRIGGER ledger_posting_append_only ON ledger_posting;
DROP TRIGGER ledger_journal_append_only ON ledger_journal;
DROP FUNCTION ledger_append_only();
DROP TRIGGER ledger_journal_has_postings ON ledger_journal;
DROP TRIGGER ledger_posting_balanced ON ledger_posting;
DROP FUNCTION ledger_journal_check();
DROP FUNCTION ledger_posting_check();
DROP FUNCTION ledger_check_journal(bigint);
"""


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, REVERSE)]
