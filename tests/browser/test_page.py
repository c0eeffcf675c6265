"""The jobs page in a real headless Chromium, against the function under `cargo lambda
watch`: what a person sees and does, and what another site cannot make it do."""

import http.server
import json
import threading
import time
import urllib.error
import urllib.request

import pytest
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import ARTEFACTS, BASE, Api, new_org, sign_in_with_cookie, token, wait

ROWS = "#jobs-body tr"


def rows(driver):
    return driver.find_elements(By.CSS_SELECTOR, ROWS)


def row_of(driver, job_id):
    return driver.find_element(By.CSS_SELECTOR, f'#jobs-body tr[data-job-id="{job_id}"]')


def bar_value(driver, job_id):
    return driver.execute_script(
        "const r = document.querySelector(`#jobs-body tr[data-job-id='${arguments[0]}'] progress`);"
        "return r ? r.value : null;", job_id)


def status_requests(driver):
    return driver.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.endsWith('/status')).length")


def paste_token(driver, value):
    wait(driver, lambda d: d.find_element(By.ID, "sign-in").is_displayed(), "the sign-in panel")
    field = driver.find_element(By.ID, "token")
    field.send_keys(value)
    field.send_keys(Keys.ENTER)


def set_width(driver, width, height=900):
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 800})


def screenshot(driver, name, width):
    """A full-height screenshot at `width` CSS pixels, written as a test artefact; the
    layout must not overflow sideways."""
    set_width(driver, width)
    height = driver.execute_script("return Math.max(document.body.scrollHeight, 600)")
    set_width(driver, width, min(height, 4000))
    overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
    path = ARTEFACTS / f"{name}-{width}.png"
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 5000, path
    assert overflow <= 0, f"{name} at {width}px is {overflow}px wider than the screen"
    return path


def test_401_says_how_to_sign_in_and_a_pasted_token_stays_in_the_tab(page):
    api = Api(new_org("list"))
    created = [api.create(job_type=kind, total_items=n) for kind, n in
               (("import", 10), ("crawl", 20), ("export", 30))]
    page.get(BASE + "/")
    paste_token(page, api.token)
    wait(page, lambda d: len(rows(d)) == 3, "three rows")
    shown = [row.get_attribute("data-job-id") for row in rows(page)]
    assert shown == [job["job_id"] for job in reversed(created)], "newest first"
    first = row_of(page, created[0]["job_id"])
    assert first.find_element(By.CSS_SELECTOR, ".type").text == "import"
    assert first.find_element(By.CSS_SELECTOR, ".status").text == "pending"
    assert first.find_element(By.CSS_SELECTOR, ".items").text == "0 / 10"
    assert first.find_element(By.CSS_SELECTOR, ".triggered-by").text == "browser-user"
    # The token: in this tab's sessionStorage only, never in the URL or the document.
    assert page.execute_script("return sessionStorage.getItem('jobs.token')") == api.token
    assert api.token not in page.current_url
    assert api.token not in page.page_source
    assert "signed in with the pasted token" in page.find_element(By.ID, "identity-text").text
    # Pending jobs have not ended: the page polls their light /status.
    wait(page, lambda d: status_requests(d) >= 3, "the pending jobs polled")


def test_a_caller_of_several_organizations_picks_one(page):
    first, second = new_org("orgs-a"), new_org("orgs-b")
    Api(first).create(job_type="import")
    mine = Api(second).create(job_type="export")
    page.get(BASE + "/")
    paste_token(page, token([first, second]))
    wait(page, lambda d: d.find_element(By.ID, "organization-needed").is_displayed(), "the organization picker")
    options = [o.text for o in page.find_elements(By.CSS_SELECTOR, "#organization-choice option")]
    assert options == [first, second]
    page.find_element(By.CSS_SELECTOR, f'#organization-choice option[value="{second}"]').click()
    page.find_element(By.CSS_SELECTOR, "#organization-form button").click()
    wait(page, lambda d: [r.get_attribute("data-job-id") for r in rows(d)] == [mine["job_id"]], "the second organization's job")


def test_a_progress_report_moves_the_bar_without_reloading_and_polling_stops_when_it_ends(page):
    org = new_org("progress")
    api = Api(org)
    job = api.create(total_items=200)
    api.report(job["job_id"], mark_started=True)
    sign_in_with_cookie(page, org)
    wait(page, lambda d: bar_value(d, job["job_id"]) == 0, "the running job's bar at 0")
    page.execute_script("window.__sameDocument = true")
    api.report(job["job_id"], processed_items=50, failed_items=10, message="halfway")
    wait(page, lambda d: bar_value(d, job["job_id"]) == 30, "the bar at 30 (50 + 10 of 200)")
    row = row_of(page, job["job_id"])
    assert row.find_element(By.CSS_SELECTOR, ".percent").text == "30%"
    assert row.find_element(By.CSS_SELECTOR, ".items").text == "50 / 200 · 10 failed"
    bar = row.find_element(By.CSS_SELECTOR, "progress")
    assert bar.get_attribute("max") == "100" and bar.get_attribute("aria-label") == f"Progress of job {job['job_id']}"
    assert page.execute_script("return window.__sameDocument") is True, "the page was reloaded"
    api.report(job["job_id"], processed_items=190, mark_completed=True)
    wait(page, lambda d: row_of(d, job["job_id"]).find_element(By.CSS_SELECTOR, ".status").text == "partial success",
         "the ended status")
    assert bar_value(page, job["job_id"]) == 100
    assert page.execute_script("return window.__sameDocument") is True
    polled = status_requests(page)
    time.sleep(4)
    assert status_requests(page) == polled, "a page with nothing running keeps polling"


def test_a_jobs_history_pages(page):
    org = new_org("history")
    api = Api(org)
    job = api.create(total_items=100)
    for n in range(1, 26):
        api.report(job["job_id"], error={"entity_key": f"row-{n}", "entity_type": "row",
                                         "error_type": "parse", "message": f"bad date in row {n}",
                                         "details": {"row": n}})
    api.report(job["job_id"], warning={"entity_key": "file", "error_type": "encoding", "message": "latin-1 guessed"})
    sign_in_with_cookie(page, org, f"/#job/{job['job_id']}")
    messages = lambda d: [m.text for m in d.find_elements(By.CSS_SELECTOR, "#errors .issue-message")]  # noqa: E731
    wait(page, lambda d: len(messages(d)) == 20, "the first 20 errors")
    assert messages(page)[0] == "bad date in row 1" and messages(page)[-1] == "bad date in row 20"
    assert page.find_element(By.ID, "errors-state").text == "Errors 1–20, oldest first."
    assert [m.text for m in page.find_elements(By.CSS_SELECTOR, "#warnings .issue-message")] == ["latin-1 guessed"]
    page.find_element(By.ID, "errors-next").click()
    wait(page, lambda d: messages(d) == [f"bad date in row {n}" for n in range(21, 26)], "errors 21-25")
    assert page.find_element(By.ID, "errors").get_attribute("start") == "21"
    assert not page.find_element(By.ID, "errors-next").is_displayed()
    page.find_element(By.ID, "errors-first").click()
    wait(page, lambda d: len(messages(d)) == 20, "back on the first page")
    facts = page.find_element(By.ID, "job-facts").text
    assert "Failed\n25" in facts, facts


def test_cancel_asks_first_then_ends_the_job_and_the_page_shows_it(page):
    org = new_org("cancel")
    api = Api(org)
    job = api.create(total_items=10)
    api.report(job["job_id"], mark_started=True, stage="fetch", message="3 of 10 fetched")
    sign_in_with_cookie(page, org, f"/#job/{job['job_id']}")
    cancel = wait(page, lambda d: d.find_element(By.ID, "cancel").is_displayed() and d.find_element(By.ID, "cancel"),
                  "the cancel button")
    facts = page.find_element(By.ID, "job-facts").text
    assert "Stage\nfetch" in facts and "Last message\n3 of 10 fetched" in facts, facts
    cancel.click()
    page.find_element(By.ID, "cancel-keep").click()
    time.sleep(1)
    assert api.get(job["job_id"])["status"] == "in_progress", "keeping it cancelled it"
    cancel.click()
    page.find_element(By.ID, "cancel-confirm").click()
    wait(page, lambda d: d.find_element(By.ID, "job-status").text == "cancelled", "the cancelled status")
    assert not page.find_element(By.ID, "cancel").is_displayed()
    stored = api.get(job["job_id"])
    assert stored["status"] == "cancelled" and stored["completed_at"]


PAYLOADS = [
    '<img src=x onerror="window.__xss=1">',
    "<script>window.__xss=1</script>",
    '"><b id="pwned">bold</b>',
    "<svg onload=window.__xss=1>",
    "javascript:window.__xss=1",
]


def test_xss_payloads_in_every_field_stay_text(page):
    org = new_org("xss")
    api = Api(org)
    payload = " ".join(PAYLOADS)
    job = api.create(total_items=5, triggered_by=payload,
                     metadata={payload: payload, "nested": {"html": PAYLOADS[0]}})
    api.report(job["job_id"], mark_started=True, stage=PAYLOADS[2], message=PAYLOADS[1],
               error={"entity_key": PAYLOADS[0], "entity_type": PAYLOADS[3], "error_type": PAYLOADS[2],
                      "message": payload, "details": {payload: payload}, "step": PAYLOADS[4]},
               warning={"entity_key": "k", "error_type": "w", "message": PAYLOADS[1]})

    def inert(driver):
        assert driver.execute_script("return window.__xss") is None, "a payload ran"
        assert driver.find_elements(By.ID, "pwned") == [], "a payload became an element"
        assert driver.find_elements(By.CSS_SELECTOR, "main img, main svg, main script, main b") == [], \
            "a payload became an element"

    sign_in_with_cookie(page, org)
    wait(page, lambda d: len(rows(d)) == 1, "the job")
    assert row_of(page, job["job_id"]).find_element(By.CSS_SELECTOR, ".triggered-by").text == payload
    inert(page)
    page.find_element(By.CSS_SELECTOR, ".job-link").click()
    wait(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#errors .issue-message")) == 1, "the error")
    assert page.find_element(By.CSS_SELECTOR, "#errors .issue-message").text == payload
    assert page.find_element(By.CSS_SELECTOR, "#warnings .issue-message").text == PAYLOADS[1]
    assert PAYLOADS[0] in page.find_element(By.CSS_SELECTOR, "#errors .issue-entity").text
    facts = page.find_element(By.ID, "job-facts").text
    assert f"Stage\n{PAYLOADS[2]}" in facts and f"Last message\n{PAYLOADS[1]}" in facts, facts
    assert json.loads(page.find_element(By.ID, "job-metadata").text)[payload] == payload
    inert(page)


class Attacker(http.server.BaseHTTPRequestHandler):
    """Another origin (another port of the same host, so the browser still attaches the
    session cookie: same site) serving a form that posts a cancel to the API."""
    target = ""

    def do_GET(self):
        body = (f'<!doctype html><form id="f" method="post" action="{self.target}" '
                'enctype="text/plain"><input name=\'{"a":"\' value=\'b"}\'>'
                '<button id="go">win a prize</button></form>').encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def attacker():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_cross_site_form_cannot_cancel_a_job(page, attacker):
    org = new_org("csrf")
    api = Api(org)
    job = api.create(total_items=10)
    api.report(job["job_id"], mark_started=True)
    sign_in_with_cookie(page, org)  # the victim is signed in
    wait(page, lambda d: len(rows(d)) == 1, "the job")
    for form_type in ("text/plain", "application/x-www-form-urlencoded"):
        Attacker.target = f"{BASE}/api/jobs/{job['job_id']}/cancel"
        page.get(attacker + "/")
        page.execute_script("document.getElementById('f').enctype = arguments[0]", form_type)
        page.find_element(By.ID, "go").click()
        wait(page, lambda d: d.current_url.startswith(BASE), "the form's post")
        answer = page.find_element(By.TAG_NAME, "body").text
        # The cookie went along (same site) and the function refused the write.
        assert "Cross-site request refused" in answer, answer
        assert api.get(job["job_id"])["status"] == "in_progress"
    # The same cookie on the page itself may cancel: the refusal was about the origin.
    page.get(f"{BASE}/#job/{job['job_id']}")
    wait(page, lambda d: d.find_element(By.ID, "cancel").is_displayed(), "the cancel button")
    page.find_element(By.ID, "cancel").click()
    page.find_element(By.ID, "cancel-confirm").click()
    wait(page, lambda d: d.find_element(By.ID, "job-status").text == "cancelled", "cancelled from the page")


def test_the_page_is_served_with_a_strict_policy(page):
    with urllib.request.urlopen(BASE + "/", timeout=30) as response:
        headers = response.headers
        html = response.read().decode()
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "<script src=" in html and "<script>" not in html
    # The browser enforces it: an inline script injected by hand is refused.
    page.get(BASE + "/")
    page.execute_script("const s = document.createElement('script'); s.textContent = 'window.__inline = 1';"
                        "document.body.append(s);")
    assert page.execute_script("return window.__inline") is None


def test_the_keyboard_path(page):
    org = new_org("keys")
    api = Api(org)
    job = api.create(total_items=10)
    api.report(job["job_id"], mark_started=True)
    sign_in_with_cookie(page, org)
    wait(page, lambda d: len(rows(d)) == 1, "the job")
    active = lambda d: d.switch_to.active_element  # noqa: E731

    def press(key):
        # To whatever has the focus, as a keyboard does (an element's send_keys would
        # focus that element first).
        ActionChains(page).send_keys(key).perform()

    def tab_to(predicate, what, limit=60):
        for _ in range(limit):
            press(Keys.TAB)
            if predicate(active(page)):
                return active(page)
        raise AssertionError(f"Tab never reached {what}")

    page.execute_script("document.activeElement.blur()")
    skip = tab_to(lambda e: True, "anything")
    assert skip.text == "Skip to content", "the first stop skips the header"
    press(Keys.ENTER)
    assert active(page).get_attribute("id") == "main", "the skip link moves the focus"
    assert page.find_element(By.ID, "list-view").is_displayed() and "#" not in page.current_url
    tab_to(lambda e: e.get_attribute("class") == "job-link", "the job's link")
    press(Keys.ENTER)
    wait(page, lambda d: d.find_element(By.ID, "cancel").is_displayed(), "the job's view")
    assert active(page).get_attribute("id") == "job-title", "focus moves to the job's heading"
    tab_to(lambda e: e.get_attribute("id") == "cancel", "the cancel button")
    press(Keys.ENTER)
    wait(page, lambda d: d.find_element(By.ID, "cancel-dialog").is_displayed(), "the dialog")
    assert active(page).get_attribute("id") == "cancel-keep", "the safe choice has the focus"
    press(Keys.ESCAPE)
    wait(page, lambda d: not d.find_element(By.ID, "cancel-dialog").is_displayed(), "Escape closes it")
    assert api.get(job["job_id"])["status"] == "in_progress"
    assert active(page).get_attribute("id") == "cancel"
    press(Keys.ENTER)
    wait(page, lambda d: d.find_element(By.ID, "cancel-dialog").is_displayed(), "the dialog again")
    press(Keys.TAB)
    assert active(page).get_attribute("id") == "cancel-confirm"
    press(Keys.ENTER)
    wait(page, lambda d: d.find_element(By.ID, "job-status").text == "cancelled", "cancelled by keyboard")
    assert api.get(job["job_id"])["status"] == "cancelled"


def test_screenshots_of_the_list_and_a_job_at_1280_and_375(page):
    org = new_org("shots")
    api = Api(org, sub="maria@example.com")
    imports = api.create(job_type="import", total_items=12000, metadata={"source": "s3://exports/leads-2026-11-30.csv"})
    api.report(imports["job_id"], mark_started=True, stage="load", processed_items=7400, failed_items=3,
               message="7,400 rows loaded")
    for n in (1, 2, 3):
        api.report(imports["job_id"], error={"entity_key": f"row-{1200 * n}", "entity_type": "row",
                                             "error_type": "invalid_date", "message": f"created_on '31/02/2026' is not a date (row {1200 * n})",
                                             "details": {"column": "created_on"}})
    done = api.create(job_type="enrichment", total_items=500)
    api.report(done["job_id"], mark_started=True, processed_items=500)
    api.report(done["job_id"], warning={"entity_key": "acme.example", "entity_type": "domain",
                                        "error_type": "stale", "message": "last seen 2024"})
    api.report(done["job_id"], mark_completed=True)
    api.create(job_type="export", total_items=80)
    sign_in_with_cookie(page, token([org], sub="maria@example.com"))
    wait(page, lambda d: len(rows(d)) == 3, "three jobs")
    shots = [screenshot(page, "list", 1280), screenshot(page, "list", 375)]
    page.get(f"{BASE}/#job/{imports['job_id']}")
    wait(page, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#errors .issue")) == 3, "the job's errors")
    shots += [screenshot(page, "job", 1280), screenshot(page, "job", 375)]
    assert all(shot.exists() for shot in shots)


def test_filters_and_pages(page):
    org = new_org("filters")
    api = Api(org)
    created = [api.create(job_type="export" if n % 2 else "import", total_items=5) for n in range(22)]
    running = created[3]
    api.report(running["job_id"], mark_started=True)
    sign_in_with_cookie(page, org)
    ids = lambda d: [r.get_attribute("data-job-id") for r in rows(d)]  # noqa: E731
    newest_first = [job["job_id"] for job in reversed(created)]
    wait(page, lambda d: ids(d) == newest_first[:20], "the first page of 20")
    page.find_element(By.ID, "page-next").click()
    wait(page, lambda d: ids(d) == newest_first[20:], "the second page")
    assert page.find_element(By.ID, "page-number").text == "Page 2"
    assert not page.find_element(By.ID, "page-next").is_displayed()
    page.find_element(By.ID, "page-previous").click()
    wait(page, lambda d: ids(d) == newest_first[:20], "back on the first page")

    page.find_element(By.CSS_SELECTOR, "#filter-box summary").click()
    page.find_element(By.CSS_SELECTOR, '#f-status option[value="in_progress"]').click()
    page.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait(page, lambda d: ids(d) == [running["job_id"]], "only the running job")
    page.find_element(By.ID, "f-clear").click()
    page.find_element(By.ID, "f-type").send_keys("export")
    page.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    exports = [job["job_id"] for job in reversed(created) if job["job_type"] == "export"]
    wait(page, lambda d: ids(d) == exports, "only the exports")
    page.find_element(By.ID, "f-clear").click()
    page.find_element(By.ID, "f-triggered-by").send_keys("someone-else")
    page.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait(page, lambda d: d.find_element(By.ID, "list-state").text == "No jobs match these filters.", "the empty state")
    page.find_element(By.ID, "f-clear").click()
    # Created between: a window in the browser's local time that holds none of them.
    page.execute_script("document.getElementById('f-before').value = '2020-01-01T00:00'")
    page.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait(page, lambda d: d.find_element(By.ID, "list-state").text == "No jobs match these filters.", "none before 2020")
    page.execute_script("document.getElementById('f-before').value = ''; "
                        "document.getElementById('f-after').value = '2020-01-01T00:00'")
    page.find_element(By.CSS_SELECTOR, "#filters button[type=submit]").click()
    wait(page, lambda d: ids(d) == newest_first[:20], "all of them after 2020")


class FlakyGateway(http.server.BaseHTTPRequestHandler):
    """The function behind a gateway that answers its first API calls `503` with
    `Retry-After: 1`, then passes everything through (the page is served through it too,
    so the page and its API calls share its origin)."""
    failures_left = 0

    def do_GET(self):
        if self.path.startswith("/api/") and FlakyGateway.failures_left > 0:
            FlakyGateway.failures_left -= 1
            body = b'{"detail":"Service temporarily unavailable, retry later"}'
            self.send_response(503)
            self.send_header("Content-Type", "application/json")
            self.send_header("Retry-After", "1")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        headers = {name: value for name, value in self.headers.items()
                   if name.lower() in ("authorization", "cookie", "x-organization-id", "accept")}
        request = urllib.request.Request(BASE + self.path, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                status, body, kept = response.status, response.read(), response.headers
        except urllib.error.HTTPError as error:
            status, body, kept = error.code, error.read(), error.headers
        self.send_response(status)
        for name in ("Content-Type", "Content-Security-Policy", "Cache-Control", "Retry-After"):
            if kept.get(name):
                self.send_header(name, kept[name])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_503_says_it_is_retrying_and_retries(page):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    gateway = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        org = new_org("unavailable")
        job = Api(org).create(total_items=3)
        FlakyGateway.failures_left = 2
        page.get(gateway + "/app/icon.svg")
        page.add_cookie({"name": "stytch_session_jwt", "value": token([org]), "path": "/"})
        page.get(gateway + "/")
        state = wait(page, lambda d: "unavailable" in d.find_element(By.ID, "list-state").text
                     and d.find_element(By.ID, "list-state").text, "the retrying state")
        assert "retrying in 1 s" in state, state
        wait(page, lambda d: [r.get_attribute("data-job-id") for r in rows(d)] == [job["job_id"]],
             "the list once the service answers")
        assert FlakyGateway.failures_left == 0
    finally:
        server.shutdown()
        server.server_close()
