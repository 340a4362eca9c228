"""A person's view: headless Chromium loads the served search page, searches, opens an item and buys it.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium chromium-driver``) and the
``selenium`` dev dependency; skips with the reason when Chromium or its driver cannot be found.
"""

from __future__ import annotations

import shutil

import pytest

from sdar_envs.webshop.catalog import catalog_cli_args, open_catalog
from sdar_envs.webshop.transport import local_server

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
CHROMEDRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="headless Chromium not found: install Debian's `chromium` and `chromium-driver` packages",
)


@pytest.fixture
def browser(tmp_path, monkeypatch):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium (the dev extra) is not installed")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    monkeypatch.setenv("SE_OFFLINE", "true")  # never let Selenium Manager look for drivers online
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def test_a_browser_can_search_open_an_item_and_buy_it(browser, tmp_path_factory):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    # Each click navigates; wait for the next page's elements instead of racing the page load on a busy machine.
    wait = WebDriverWait(browser, 30, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
    cache_dir = tmp_path_factory.getbasetemp() / "webshop-cache"
    catalog = open_catalog(cache_dir=cache_dir)
    url = local_server([*catalog_cli_args(cache_dir=cache_dir), "--search-backend", "default"]).url
    goal = catalog.goals[0]

    browser.get(f"{url}/fixed_0")
    assert "WebShop" in browser.title
    assert goal["instruction_text"] in browser.find_element(By.ID, "instruction-text").text
    box = browser.find_element(By.ID, "search_input")
    box.send_keys(goal["name"])
    browser.find_element(By.CSS_SELECTOR, "button.btn-search").click()

    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "a.product-link")))
    links = browser.find_elements(By.CSS_SELECTOR, "a.product-link")
    assert len(links) == 10 and "Page 1 (Total results:" in browser.page_source
    target = next(link for link in links if link.text == goal["asin"])
    target.click()

    wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "a.btn-buy")))
    assert browser.find_element(By.TAG_NAME, "h2").text == catalog.products[goal["asin"]]["Title"]
    for value in goal["goal_options"]:
        option = f"//a[contains(@class, 'option') and text()='{value}']"
        browser.find_element(By.XPATH, option).click()
        wait.until(
            lambda driver, option=option: "selected" in driver.find_element(By.XPATH, option).get_attribute("class")
        )
        chosen = browser.find_element(By.XPATH, f"//a[contains(@class, 'option') and text()='{value}']")
        assert "selected" in chosen.get_attribute("class")
    browser.find_element(By.CSS_SELECTOR, "a.btn-buy").click()

    wait.until(ec.presence_of_element_located((By.ID, "reward")))
    assert "Thank you for shopping with us!" in browser.find_element(By.TAG_NAME, "h1").text
    assert browser.find_element(By.ID, "reward").text == "1.0"
