"""Model fields shared by the apps."""

from __future__ import annotations

from typing import Any

from django.db import models

from wangyin.core import crypto


class EncryptedTextField(models.BinaryField):
    """Text stored AES-GCM encrypted (see ``core.crypto``); Python code sees plain ``str``.

    ``purpose`` is bound into the ciphertext as associated data and must never change for
    a column. The column cannot be searched: pair it with a blind-index column.
    """

    def __init__(self, *args: Any, purpose: str, **kwargs: Any) -> None:
        self.purpose = purpose
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["purpose"] = self.purpose
        kwargs.pop("editable", None)
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        if value is None:
            return None
        return crypto.decrypt(value, purpose=self.purpose)

    def get_db_prep_value(self, value, connection, prepared=False):
        if value is None:
            return None
        if isinstance(value, str):
            value = crypto.encrypt(value, purpose=self.purpose)
        return super().get_db_prep_value(value, connection, prepared)

    def to_python(self, value):
        return value
