"""The customer site's Django session store: the database store, with its two hot paths
made lean — every request reads its session with one fixed statement (no query building),
and saving an existing session is one UPDATE on its own (autocommit) instead of BEGIN,
UPDATE, COMMIT (the form and confirmation of every transfer save the session)."""

from __future__ import annotations

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError, connections, router
from django.utils import timezone


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict:
        """As the database store loads: the unexpired row's data, else no session."""
        using = router.db_for_read(self.model)
        with connections[using].cursor() as cursor:
            cursor.execute("SELECT session_data FROM django_session "
                           "WHERE session_key = %s AND expire_date > %s",
                           [self.session_key, timezone.now()])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None
            return {}
        return self.decode(row[0])
    def save(self, must_create: bool = False) -> None:
        if must_create or self.session_key is None:
            return super().save(must_create=must_create)
        obj = self.create_model_instance(self._get_session())
        using = router.db_for_write(self.model, instance=obj)
        try:
            updated = self.model.objects.using(using).filter(session_key=obj.session_key).update(
                session_data=obj.session_data, expire_date=obj.expire_date)
        except DatabaseError as exc:
            raise UpdateError from exc
        if not updated:  # the row is gone (signed out elsewhere, or expired and cleared)
            raise UpdateError
        return None
