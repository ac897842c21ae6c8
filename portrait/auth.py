"""Django's model authentication backend, with the one lookup every logged-in request makes
(the session's user, by primary key) written as SQL.

Building that query through the ORM cost twice as much as running it, on every request, the
progress panels' polls included (``python -m bench.web``). Everything else, logging in
included, is Django's own.
"""

from django.contrib.auth import backends, get_user_model
from django.db import connection


class ModelBackend(backends.ModelBackend):
    def get_user(self, user_id):
        model = get_user_model()
        table = connection.ops.quote_name(model._meta.db_table)
        column = connection.ops.quote_name(model._meta.pk.column)
        found = model._default_manager.raw(
            f"SELECT * FROM {table} WHERE {column} = %s",  # noqa: S608
            [model._meta.pk.to_python(user_id)],
        )
        user = next(iter(found), None)
        return user if user is not None and self.user_can_authenticate(user) else None
