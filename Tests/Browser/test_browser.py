"""The dashboard in a real browser: Debian's Chromium, headless, driven by Selenium through
chromium-driver (`make test-browser`; docs/dashboard.md). A household member on a 360-pixel
phone signs in, sees the home, switches the heater to heat and watches the card follow, is
refused the front door (the hub's sentence on the card), and signs out; a sensitive member
unlocks and sees SUCCEEDED. Screenshots of each step go to .build/screenshots/ to be looked at.
"""
import sys
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "Integration"))
from conftest import ROOT  # noqa: E402
from test_dashboard import web  # noqa: E402,F401  (the fixture: a hub with the dashboard and two members)

SHOTS = ROOT / ".build/screenshots"


@pytest.fixture
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=360,800",
                     "--ignore-certificate-errors", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=webdriver.ChromeService(executable_path="/usr/bin/chromedriver"),
                              options=options)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def wait(driver, condition, what, seconds=20):
    # Cards are drawn again as the hub's events come: an element found a moment ago may be gone.
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException, NoSuchElementException)
                         ).until(lambda d: condition(d), message=f"waiting for {what}")


def act(driver, locate, action, what):
    """Finds and acts in one step, again if the card was drawn anew in between."""
    def attempt(d):
        action(locate(d))
        return True
    wait(driver, attempt, what)


def card(driver, thing):
    return driver.find_element(By.CSS_SELECTOR, f'article[data-thing="{thing}"]')


def sign_in(driver, base, name, password):
    driver.get(base + "/")
    wait(driver, lambda d: d.find_element(By.ID, "signin").is_displayed(), "the sign-in form")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, 'article[data-thing="livingroom"] input, '
                                                            'article[data-thing="livingroom"] button'), "the cards")


def test_a_member_sets_the_heat_is_refused_the_door_and_signs_out(web, browser):
    sign_in(browser, web.base, "anna", "anna-password-1")
    wait(browser, lambda d: d.find_element(By.ID, "live").text == "Live", "the live feed")
    browser.save_screenshot(str(SHOTS / "1-home.png"))
    act(browser, lambda d: card(d, "livingroom").find_element(
        By.XPATH, './/div[@data-attribute="mode"]/button[text()="heat"]'), lambda e: e.click(), "the heat button")
    wait(browser, lambda d: card(d, "livingroom").find_element(
        By.XPATH, './/div[@data-attribute="mode"]/button[text()="heat"]').get_attribute("aria-pressed") == "true",
        "the card to show heat")
    assert web.request("GET", "/things/livingroom/shadow?name=climate")[2]["state"]["desired"]["mode"] == "heat"
    # 22 °C, typed, as a person with a keyboard would; the card converges as the device reports it.
    exact = 'input.exact[data-attribute="targetTemperature"]'
    act(browser, lambda d: card(d, "livingroom").find_element(By.CSS_SELECTOR, exact), lambda e: e.click(),
        "the target field focused")
    # Focused, the field stays put while the heater reports: the card waits for the member.
    field = browser.switch_to.active_element
    field.send_keys("\b" * 6 + "22\n")
    browser.find_element(By.TAG_NAME, "h1").click()  # the field's change leaves it
    wait(browser, lambda d: web.request("GET", "/things/livingroom/shadow?name=climate")[2]["state"]["reported"]
         .get("targetTemperature") == 22, "the heater at 22")
    wait(browser, lambda d: not card(d, "livingroom").find_elements(By.CSS_SELECTOR, ".pending")
         and card(d, "livingroom").find_element(By.CSS_SELECTOR, 'input.exact[data-attribute="targetTemperature"]')
         .get_attribute("value") == "22", "the card converged on 22")
    browser.save_screenshot(str(SHOTS / "2-heat.png"))
    act(browser, lambda d: card(d, "livingroom").find_element(By.XPATH, './/button[text()="24 h"]'),
        lambda e: e.click(), "the history button")
    line = wait(browser, lambda d: card(d, "livingroom").find_elements(
        By.CSS_SELECTOR, '.history polyline[data-series="climate/currentTemperature"]'), "the history chart")[0]
    assert len(line.get_attribute("points").split()) >= 2
    browser.execute_script("arguments[0].scrollIntoView()", line)
    browser.save_screenshot(str(SHOTS / "2b-history.png"))
    act(browser, lambda d: card(d, "frontdoor").find_element(By.XPATH, './/button[starts-with(text(), "Unlock")]'),
        lambda e: e.click(), "the unlock button")
    wait(browser, lambda d: "may not run the sensitive command 'unlock'" in card(d, "frontdoor").find_element(
        By.CSS_SELECTOR, ".error").text, "the refusal on the card")
    browser.save_screenshot(str(SHOTS / "3-refused.png"))
    browser.find_element(By.ID, "signout").click()
    wait(browser, lambda d: d.find_element(By.ID, "signin").is_displayed(), "signed out")
    browser.save_screenshot(str(SHOTS / "4-signed-out.png"))
    assert web.request("GET", "/v1/commands?thing=frontdoor")[2]["commands"] == []


def test_a_sensitive_member_unlocks_and_watches_it_happen(web, browser):
    sign_in(browser, web.base, "bob", "bob-password-1")
    # Every text the command's line shows, as it changes.
    browser.execute_script("""
        window.seen = [];
        const line = document.querySelector('article[data-thing="frontdoor"] .command-state');
        new MutationObserver(() => window.seen.push(line.textContent))
            .observe(line, {childList: true, characterData: true, subtree: true});""")
    act(browser, lambda d: card(d, "frontdoor").find_element(By.XPATH, './/button[starts-with(text(), "Unlock")]'),
        lambda e: e.click(), "the unlock button")
    state = wait(browser, lambda d: card(d, "frontdoor").find_element(By.CSS_SELECTOR, ".command-state")
                 if card(d, "frontdoor").find_element(By.CSS_SELECTOR, ".command-state").get_attribute("data-final")
                 else None, "the command's end")
    assert state.get_attribute("data-final") == "SUCCEEDED", state.text
    seen = browser.execute_script("return window.seen")
    assert any("RUNNING" in text for text in seen) and "SUCCEEDED" in seen[-1], seen
    browser.save_screenshot(str(SHOTS / "5-unlocked.png"))


def test_the_week_the_ledger_and_the_plugins_pages(web, browser):
    sign_in(browser, web.base, "bob", "bob-password-1")
    act(browser, lambda d: card(d, "frontdoor").find_element(By.XPATH, './/button[starts-with(text(), "Lock")]'),
        lambda e: e.click(), "the lock button")
    browser.find_element(By.CSS_SELECTOR, 'nav button[data-page="schedules"]').click()
    wait(browser, lambda d: d.find_element(By.ID, "schedule-form").is_displayed(), "the schedules page")
    from selenium.webdriver.support.ui import Select
    Select(browser.find_element(By.ID, "schedule-thing")).select_by_visible_text("livingroom")
    browser.find_element(By.ID, "schedule-program").send_keys(
        "weekdays 06:30 targetTemperature=21; weekdays 08:00 targetTemperature=17; "
        "weekends 08:00 targetTemperature=21; daily 22:30 targetTemperature=16")
    browser.find_element(By.CSS_SELECTOR, "#schedule-form button[type=submit]").click()
    line = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, '.schedule svg path[data-attribute="targetTemperature"]'),
                "the week's chart")[0]
    # The step line visits every level of the program.
    label = browser.find_element(By.CSS_SELECTOR, ".schedule svg").get_attribute("aria-label")
    assert "Mon 06:30 21" in label and "Mon 08:00 17" in label and "Sat 08:00 21" in label and "22:30 16" in label
    assert line.get_attribute("d").count("V") == 19  # 5 weekdays × 3 firings + 2 weekend days × 2
    rows = browser.find_elements(By.CSS_SELECTOR, '.schedule table tbody tr')
    assert len(rows) == 8
    # Edit it in place: the weekends warmer.
    browser.find_element(By.CSS_SELECTOR, '.schedule button[aria-label^="Edit"]').click()
    program = browser.find_element(By.ID, "schedule-program")
    assert "weekends 08:00 targetTemperature=21" in program.get_attribute("value")
    edited = program.get_attribute("value").replace("weekends 08:00 targetTemperature=21", "weekends 08:00 targetTemperature=22")
    program.clear()
    program.send_keys(edited)
    browser.find_element(By.CSS_SELECTOR, "#schedule-form button[type=submit]").click()
    wait(browser, lambda d: "Sat 08:00 22" in d.find_element(By.CSS_SELECTOR, ".schedule svg").get_attribute("aria-label"),
         "the edited week")
    browser.execute_script("arguments[0].scrollIntoView()", browser.find_element(By.CSS_SELECTOR, ".schedule svg"))
    browser.save_screenshot(str(SHOTS / "6-week.png"))
    browser.find_element(By.CSS_SELECTOR, 'nav button[data-page="commands"]').click()
    wait(browser, lambda d: any("lock" in row.text and "SUCCEEDED" in row.text
                                for row in d.find_elements(By.CSS_SELECTOR, "#commands-table tbody tr")),
         "the lock command in the ledger")
    browser.save_screenshot(str(SHOTS / "7-commands.png"))
    browser.find_element(By.CSS_SELECTOR, 'nav button[data-page="plugins"]').click()
    wait(browser, lambda d: "running" in d.find_element(By.CSS_SELECTOR, 'tr[data-plugin="homehub.heater"]').text,
         "the heater plugin running")
    browser.save_screenshot(str(SHOTS / "8-plugins.png"))
