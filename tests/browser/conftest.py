"""A real browser against a real server: Debian's Chromium, driven headless by Selenium through
Debian's chromedriver, and `sitter_run` (gunicorn and a queue worker cluster per queue) serving
a database and data folder of the test's own.

Where Chromium is not installed the tests are skipped, saying so; CI (`.ci/run`) installs it.
A failing test leaves a screenshot and the page's HTML in ``test-artifacts/``.
"""

import os
import shutil
import signal
import subprocess
import sys

import pytest
from django.conf import settings

from tests.conftest import REPO_ROOT
from tests.local_server import free_port, wait_until_serving
from tests.scratch_database import scratch_database

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = REPO_ROOT / "test-artifacts"
# What the issue asks Chromium to run with: headless, no sandbox (CI runs as root), and none
# of its own network traffic.
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]
# Small enough for the tiny model to train and render in seconds.
FLOW_ENV = {
    "SITTER_MIN_PHOTOS": "3",
    "SITTER_TRAIN_STEPS": "6",
    "SITTER_RENDER_STEPS": "2",
    "SITTER_RENDER_CANDIDATES": "2",
}


def missing_browser():
    if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
        return (
            "Debian's chromium and chromium-driver are not installed "
            "(apt-get install -y chromium chromium-driver; .ci/run installs them)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install -e '.[dev]')"
    return None


def pytest_collection_modifyitems(config, items):
    reason = missing_browser()
    if reason:
        for item in items:
            if "tests/browser" in str(item.fspath):
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    browser = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and browser is not None:
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / f"{item.name}.png"))
        (ARTIFACTS / f"{item.name}.html").write_text(browser.page_source, encoding="utf-8")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory):
    """A database of the module's own: the server and its workers are separate processes."""
    with scratch_database(
        settings.DATABASES["default"],
        "sitter_browser",
        tmp_path_factory.mktemp("browser-db") / "site.sqlite3",
    ) as url:
        yield url


@pytest.fixture(scope="module")
def live_site(tmp_path_factory, database_url):
    """The site's address, served by `sitter_run` with real queue workers.

    The queue uses the ORM broker in the module's own database whatever the run's broker: a
    shared Redis would hand this site's tasks to any other test run's workers.
    """
    if missing_browser():
        pytest.skip(missing_browser())
    data = tmp_path_factory.mktemp("browser-data")
    env = {
        **os.environ,
        **FLOW_ENV,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SITTER_DATA_DIR": str(data),
        "DATABASE_URL": database_url,
        "SITTER_QUEUE_SYNC": "0",
        "SITTER_BROKER": "orm",
        "SITTER_CACHE": "",
        "SITTER_WEB_WORKERS": "1",
    }
    for command in (
        ["migrate", "--noinput"],
        ["sitter_setup"],
        ["collectstatic", "--noinput", "--verbosity", "0"],
    ):
        done = subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr[-3000:]
    port = free_port()
    log = (data / "server.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "manage.py", "sitter_run", "--bind", f"127.0.0.1:{port}"],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{url}/", server)
        yield url
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if ARTIFACTS.exists():
            shutil.copy(data / "server.log", ARTIFACTS / "server.log")


@pytest.fixture(scope="module")
def downloads(tmp_path_factory):
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(live_site, downloads):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "intl.accept_languages": "en",
        },
    )
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.implicitly_wait(0)
    yield driver
    driver.quit()
