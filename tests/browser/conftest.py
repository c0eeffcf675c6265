"""What the page's browser tests share: the function's address, tokens, API calls, and a
headless Chromium driven by chromedriver (Debian's chromium and chromium-driver, installed
by scripts/tools.sh --browser).

Environment (scripts/test.sh sets both): JOBS_TEST_WATCH_URL, the function under
`cargo lambda watch`; JOBS_JWT_SECRET, the HS256 secret it verifies tokens with.
Screenshots go to BROWSER_ARTEFACTS (default .local/browser/).
"""

import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))
from dev_token import mint  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 30


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the browser tests through scripts/test.sh", returncode=2)
    return value


BASE = env("JOBS_TEST_WATCH_URL").rstrip("/")
SECRET = env("JOBS_JWT_SECRET")
ARTEFACTS = Path(os.environ.get("BROWSER_ARTEFACTS", ROOT / ".local" / "browser"))


def token(organizations, sub="browser-user", ttl=3600):
    now = int(time.time())
    return mint(SECRET, {"sub": sub, "organizations": list(organizations), "iat": now, "exp": now + ttl})


def new_org(name: str) -> str:
    return f"browser-{name}-{secrets.token_hex(4)}"


class Api:
    """The API as a worker or a script calls it: bearer token, JSON."""

    def __init__(self, organization: str, sub: str = "browser-user"):
        self.organization = organization
        self.token = token([organization], sub=sub)

    def call(self, method, path, body=None, headers=None, expect=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(BASE + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read().decode()
        if expect is not None:
            assert status == expect, f"{method} {path}: {status} {text}"
        return json.loads(text) if text else None

    def create(self, **body):
        body.setdefault("job_type", "import")
        body.setdefault("total_items", 100)
        return self.call("POST", "/api/jobs/", body, expect=201)

    def report(self, job_id, **body):
        return self.call("POST", f"/api/jobs/{job_id}/progress", body, expect=200)

    def get(self, job_id):
        return self.call("GET", f"/api/jobs/{job_id}", expect=200)


@pytest.fixture(scope="session")
def browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        assert os.access(path, os.X_OK), f"{path} missing: scripts/tools.sh --browser installs it"
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="jobs-page-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    # The machine's network is closed: nothing of Chromium's own may try to reach out.
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1280,900",
                 "--lang=en-US"):
        options.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, log_output=str(ARTEFACTS / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture
def page(browser):
    """A clean tab state: no cookie, no token, desktop size."""
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    browser.get(BASE + "/app/icon.svg")  # on the origin, to clear its storage and cookies
    browser.delete_all_cookies()
    browser.execute_script("sessionStorage.clear()")
    yield browser


def sign_in_with_cookie(driver, organization_or_token, path="/"):
    """The browser holds the session JWT cookie, as after signing in to the web app."""
    value = organization_or_token if "." in organization_or_token else token([organization_or_token])
    driver.get(BASE + "/app/icon.svg")
    driver.add_cookie({"name": "stytch_session_jwt", "value": value, "path": "/"})
    driver.get(BASE + path)


def wait(driver, condition, what, seconds=WAIT_SECONDS):
    # The page re-renders what changes: an element read a moment ago may be gone.
    return WebDriverWait(driver, seconds, poll_frequency=0.2,
                         ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda d: condition(d), message=f"waited {seconds}s for: {what}")
