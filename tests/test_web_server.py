"""The gunicorn that `sitter_run` starts: the site's settings (config/gunicorn.py), the
environment's and the command line's changes to them, as gunicorn itself resolves them."""

import os
import re
import subprocess

from django.conf import settings

from portrait.management.commands.sitter_run import web_command


def served_with(env=None, web_workers=None, web_threads=None):
    command = web_command(
        {"bind": "127.0.0.1:8999", "web_workers": web_workers, "web_threads": web_threads}
    )
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("SITTER_WEB_")
    }
    done = subprocess.run(
        [*command, "--print-config"],
        cwd=settings.BASE_DIR,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return dict(re.findall(r"^(\w+)\s+= (.*)$", done.stdout, re.M))


def test_the_site_is_served_by_two_workers_of_four_threads_with_an_access_log():
    config = served_with()

    assert (config["workers"], config["threads"], config["accesslog"]) == ("2", "4", "-")
    assert config["bind"] == "['127.0.0.1:8999']"


def test_the_environment_sets_the_workers_and_threads():
    config = served_with({"SITTER_WEB_WORKERS": "3", "SITTER_WEB_THREADS": "1"})

    assert (config["workers"], config["threads"]) == ("3", "1")


def test_the_command_line_wins_over_the_environment():
    config = served_with({"SITTER_WEB_THREADS": "8"}, web_workers=5, web_threads=1)

    assert (config["workers"], config["threads"]) == ("5", "1")
