"""End to end in a real headless browser: Debian's chromium driven by Playwright against `hub serve`."""
from __future__ import annotations

import os

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason=f"{CHROMIUM} is missing (apt-get install -y chromium; .ci/run installs it)")


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def open_page(browser, server, role, page_path):
    page = browser.new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{server.url}{page_path}")
    page.fill("#api-key", server.keys[role])
    page.dispatch_event("#api-key", "change")
    return page


def test_screen_pop_shows_the_caller_card(browser, live_server, tmp_path):
    page = open_page(browser, live_server, "agent", "/ui/")
    page.select_option("#search-kind", "phone")
    page.fill("#search-value", "(217) 555-0101")
    page.click("#search-button")
    page.wait_for_selector("#card-name")
    assert page.inner_text("#card-name") == "Alice Johnson"
    assert page.inner_text("[data-fact=balance] .value") == "$120.50"
    assert page.inner_text("[data-fact=payment_terms] .value") == "NET30"
    assert page.inner_text("[data-field=email]") == "alice.johnson@gmail.com"
    page.screenshot(path=str(tmp_path / "screen-pop.png"))

    # a fuzzy name search lists candidates; clicking one shows its card
    page.select_option("#search-kind", "name")
    page.fill("#search-value", "smith")
    page.click("#search-button")
    page.wait_for_selector("#matches li")
    names = page.locator("#matches li strong").all_inner_texts()
    assert "Bob Smith" in names
    page.click(f"#matches li[data-customer={live_server.warehouse.ids['bob']}]")
    page.wait_for_function("document.querySelector('#card-name').textContent === 'Bob Smith'")

    # bad input shows the service's 4xx message, not a broken page
    page.select_option("#search-kind", "phone")
    page.fill("#search-value", "12")
    page.click("#search-button")
    page.wait_for_selector("#status.error")
    assert "400" in page.inner_text("#status")


def test_analyst_sees_masked_contact_details(browser, live_server):
    page = open_page(browser, live_server, "analyst", "/ui/")
    page.select_option("#search-kind", "email")
    page.fill("#search-value", "carol@example.org")
    page.click("#search-button")
    page.wait_for_selector("#card-name")
    assert page.inner_text("[data-field=email]") == "c***@example.org"
    assert page.inner_text("[data-field=national_id_last4]") == "***"


def test_review_page_records_a_decision(browser, live_server):
    from warehouse.security import warehouse_session

    page = open_page(browser, live_server, "admin", "/ui/review.html")
    page.click("#load-queue")
    page.wait_for_selector("#pair-table tr[data-field=full_name]")
    row = page.inner_text("#pair-table tr[data-field=full_name]")
    assert "Robert Smyth" in row and "Bob Smith" in row
    page.fill("#note", "different people")
    page.click("#decide-non-match")
    page.wait_for_function("document.querySelector('#queue-count').textContent.startsWith('0 pair')")
    with warehouse_session(live_server.warehouse.path) as con:
        decisions = con.execute("SELECT decision, reviewer, note FROM identity.review_decisions").fetchall()
    assert decisions == [("non_match", "test-admin", "different people")]
