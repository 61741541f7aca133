"""Database and file helpers shared by every app's services."""

from __future__ import annotations

import logging

from django.db import connections, transaction

logger = logging.getLogger(__name__)


def instance_update(instance, fields: dict):
    """Set fields, validate the whole row, and write only those fields (plus updated_at)."""
    if not fields:
        return instance
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save(update_fields=[*fields, "updated_at"])
    return instance


def rows_delete_returning(queryset, column: str) -> list:
    """DELETE the queryset's rows in one statement; returns `column` of each deleted row.

    RETURNING names exactly the rows removed (rows added meanwhile included) without loading
    them into Python, where an event may hold 100k photos. Django's cascades and signals are
    skipped: delete what references these rows in the same transaction (foreign keys are
    checked at commit).
    """
    model = queryset.model
    qn = connections[queryset.db].ops.quote_name
    pk_sql, params = queryset.order_by().values("pk").query.sql_with_params()
    sql = (
        f"DELETE FROM {qn(model._meta.db_table)} WHERE {qn(model._meta.pk.column)} "
        f"IN ({pk_sql}) RETURNING {qn(column)}"
    )
    with connections[queryset.db].cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def files_delete_on_commit(storage, names: list[str]) -> None:
    """Remove files once the rows naming them are gone for good: a rollback keeps both."""
    names = [name for name in names if name]
    if names:
        transaction.on_commit(lambda: _files_delete(storage, names))


def _files_delete(storage, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except OSError:
            logger.exception("could not delete private file %s", name)
