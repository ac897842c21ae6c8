"""Django's model authentication backend, with the one lookup every logged-in request makes
(the session's user, by primary key) written as SQL.

Building that query through the ORM cost twice as much as running it, on every request, the
progress panels' polls included, and a raw queryset still worked out its columns and
conversions each time (``python -m bench.web``). Everything else, logging in included, is
Django's own.
"""

from django.contrib.auth import backends, get_user_model
from django.db import connection

# {(model, database alias): [(column index, converters, column)]}, worked out once.
_conversions = {}


def conversions(model):
    """What the ORM does to each of ``model``'s columns as the database returns them (SQLite
    keeps dates as text and booleans as integers), for the columns that need it."""
    key = (model, connection.alias)
    if key not in _conversions:
        columns = [field.get_col(model._meta.db_table) for field in model._meta.concrete_fields]
        _conversions[key] = [
            (index, converters, column)
            for index, column in enumerate(columns)
            if (
                converters := connection.ops.get_db_converters(column)
                + column.get_db_converters(connection)
            )
        ]
    return _conversions[key]


class ModelBackend(backends.ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        fields = model._meta.concrete_fields
        quote = connection.ops.quote_name
        columns = ", ".join(quote(field.column) for field in fields)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {columns} FROM {quote(model._meta.db_table)} "  # noqa: S608
                f"WHERE {quote(model._meta.pk.column)} = %s",
                [model._meta.pk.to_python(user_id)],
            )
            row = cursor.fetchone()
        if row is None:
            return None
        values = list(row)
        for index, converters, column in conversions(model):
            for converter in converters:
                values[index] = converter(values[index], column, connection)
        user = model.from_db(connection.alias, [field.attname for field in fields], values)
        return user if self.user_can_authenticate(user) else None
