"""The customer site's Django session store: the database store, except that saving an
existing session is one UPDATE on its own (autocommit) instead of BEGIN, UPDATE, COMMIT —
the form and confirmation of every transfer save the session."""

from __future__ import annotations

from django.contrib.sessions.backends.base import UpdateError
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.db import DatabaseError, router


class SessionStore(DatabaseSessionStore):
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
