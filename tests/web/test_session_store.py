"""The customer site's Django session store saves an existing session in one statement and
still refuses to resurrect a session that is gone."""

import pytest
from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.models import Session

from wangyin.web.session_store import SessionStore

pytestmark = pytest.mark.django_db


def test_an_existing_session_is_updated_in_one_statement(django_assert_num_queries):
    store = SessionStore()
    store["sid"] = "abc"
    store.save(must_create=True)
    again = SessionStore(store.session_key)
    again["transfer_pending"] = {"amount": "12.34"}  # reads the session, then changes it
    with django_assert_num_queries(1):
        again.save()
    assert SessionStore(store.session_key).load() == {"sid": "abc",
                                                      "transfer_pending": {"amount": "12.34"}}


def test_a_deleted_session_is_not_written_back():
    store = SessionStore()
    store["sid"] = "abc"
    store.save(must_create=True)
    Session.objects.filter(session_key=store.session_key).delete()
    store["sid"] = "def"
    with pytest.raises(UpdateError):
        store.save()
    assert not Session.objects.exists()


def test_a_session_is_read_in_one_statement_until_it_expires(django_assert_num_queries):
    from datetime import timedelta

    from django.utils import timezone

    store = SessionStore()
    store["sid"] = "abc"
    store.save(must_create=True)
    with django_assert_num_queries(1):
        assert SessionStore(store.session_key).load() == {"sid": "abc"}
    Session.objects.filter(session_key=store.session_key).update(
        expire_date=timezone.now() - timedelta(seconds=1))
    expired = SessionStore(store.session_key)
    assert expired.load() == {} and expired.session_key is None
    assert SessionStore("no-such-key").load() == {}
