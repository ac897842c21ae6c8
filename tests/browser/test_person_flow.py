"""One person's whole way through the site in a real browser: sign up, consent with a selfie,
upload three photos, build the clone, render a portrait, download it; then every page on a
phone-sized screen, in both languages, with the keyboard."""

import time

import pytest

from tests.browser.conftest import ARTIFACTS
from tests.conftest import FACES
from tests.flow import SELFIE, SET

pytestmark = pytest.mark.slow

PASSWORD = "a-long-browser-password-7"
PAGES = ["/", "/consent/", "/photos/", "/clone/", "/styles/", "/gallery/", "/my-data/", "/verify/"]


def wait_for(condition, timeout=30, every=0.25, what="the page"):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (NoSuchElementException, StaleElementReferenceException):
            # A navigation still under way, as after a form is sent: the new page has no
            # element yet, or replaced one between finding it and reading it.
            value = None
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"waited {timeout} s for {what}")


def find(browser, selector):
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, selector)


def one(browser, selector):
    found = wait_for(lambda: find(browser, selector), what=selector)
    return found[0]


def policy_violations(browser):
    return [
        entry["message"]
        for entry in browser.get_log("browser")
        if "Content Security Policy" in entry["message"]
    ]


def test_sign_up_consent_upload_clone_render_and_download(browser, live_site, downloads):
    browser.get(f"{live_site}/")
    one(browser, 'a[href="/accounts/signup/"]').click()
    one(browser, "#id_username").send_keys("browser-person")
    one(browser, "#id_password1").send_keys(PASSWORD)
    one(browser, "#id_password2").send_keys(PASSWORD)
    one(browser, "main form button[type=submit]").click()

    # Consent: the policy, each purpose ticked separately, the age, and the selfie.
    wait_for(lambda: browser.current_url.endswith("/consent/"), what="the consent page")
    for box in find(browser, "main form input[type=checkbox]"):
        box.click()
    one(browser, "input[name=selfie]").send_keys(str(FACES / SELFIE))
    one(browser, "main form button[type=submit]").click()
    wait_for(lambda: browser.current_url == f"{live_site}/", what="the studio page")

    # Upload: three photos at once; each is drawn here, sent on its own and judged.
    browser.get(f"{live_site}/photos/")
    one(browser, "#id_photos").send_keys("\n".join(str(FACES / name) for name in SET))
    wait_for(
        lambda: len(find(browser, "#upload-list li.ok")) == 3,
        timeout=120,
        what="three accepted photos",
    )
    assert len(find(browser, "#upload-list canvas")) == 3  # thumbnails drawn in the browser
    build = one(browser, "#build-clone")
    assert build.is_displayed()
    build.click()

    # Clone: the progress panel polls until training is done, then the page shows the result.
    one(browser, "main form button[type=submit]").click()
    one(browser, ".job")
    wait_for(
        lambda: find(browser, 'main a.button[href="/styles/"]'),
        timeout=300,
        what="the trained clone",
    )

    # Render one style, follow its progress on the gallery, then download the portrait.
    browser.get(f"{live_site}/styles/")
    one(browser, "form:has(input[name=style][value=business]) button[type=submit]").click()
    wait_for(lambda: browser.current_url.endswith("/gallery/"), what="the gallery")
    image = one_slowly(browser, ".gallery img")
    wait_for(
        lambda: browser.execute_script(
            "return arguments[0].complete && arguments[0].naturalWidth > 0", image
        ),
        what="the thumbnail",
    )
    one(browser, ".gallery a[download]").click()
    saved = wait_for(
        lambda: [p for p in downloads.iterdir() if p.suffix == ".jpg"],
        timeout=30,
        what="the download",
    )
    assert saved[0].read_bytes()[:3] == b"\xff\xd8\xff"

    assert policy_violations(browser) == []


def one_slowly(browser, selector):
    """An element that appears once a queued job has finished (the page reloads then)."""
    found = wait_for(lambda: find(browser, selector), timeout=300, what=selector)
    return found[0]


def test_every_page_fits_a_phone_screen(browser, live_site):
    ARTIFACTS.mkdir(exist_ok=True)
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True},
    )
    try:
        too_wide = {}
        for path in PAGES:
            browser.get(f"{live_site}{path}")
            one(browser, "main h1")
            width = browser.execute_script("return document.documentElement.scrollWidth")
            if width > 360:
                too_wide[path] = width
            name = path.strip("/").replace("/", "-") or "home"
            browser.save_screenshot(str(ARTIFACTS / f"phone-360-{name}.png"))
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})

    assert too_wide == {}
    assert policy_violations(browser) == []


def test_the_language_switch_turns_the_site_chinese(browser, live_site):
    from selenium.webdriver.support.ui import Select

    browser.get(f"{live_site}/verify/")
    Select(one(browser, "#language")).select_by_value("zh-hans")
    one(browser, "form.lang button[type=submit]").click()

    wait_for(
        lambda: browser.find_element("css selector", "html").get_attribute("lang") == "zh-hans",
        what="the Chinese page",
    )
    assert browser.current_url.endswith("/verify/")
    assert one(browser, "main h1").text == "验证图片"

    Select(one(browser, "#language")).select_by_value("en")
    one(browser, "form.lang button[type=submit]").click()
    wait_for(
        lambda: browser.find_element("css selector", "html").get_attribute("lang") == "en",
        what="the English page",
    )


def test_the_keyboard_reaches_the_content_first(browser, live_site):
    from selenium.webdriver.common.keys import Keys

    browser.get(f"{live_site}/gallery/")
    one(browser, "body").send_keys(Keys.TAB)
    focused = browser.switch_to.active_element

    assert focused.get_attribute("class") == "skip"
    focused.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"


def test_every_image_has_a_text_alternative(browser, live_site):
    missing = {}
    for path in PAGES:
        browser.get(f"{live_site}{path}")
        one(browser, "main h1")
        images = [
            image.get_attribute("outerHTML")[:80]
            for image in find(browser, "img")
            if image.get_attribute("alt") is None
        ]
        if images:
            missing[path] = images

    assert missing == {}
