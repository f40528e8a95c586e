"""The web demo in a real (headless) browser: one visitor's edit end to end, then two visitors at once."""

import json
import os
import time
from pathlib import Path

import pytest

from tests.conftest import write_scene_clip
from tests.demo.conftest import CHROMEDRIVER, CHROMIUM, TINY_DEMO_ARGS

if os.environ.get("AUDIO_EDITING_REQUIRE_BROWSER") == "1" and not (CHROMIUM and CHROMEDRIVER):  # CI: no silent skip
    pytest.fail("AUDIO_EDITING_REQUIRE_BROWSER=1 but chromium/chromedriver are missing "
                "(apt-get install chromium chromium-driver)", pytrace=False)
pytest.importorskip("gradio", reason="the demo extra is not installed (pip install -e .[demo])")
pytest.importorskip("selenium", reason="selenium is not installed (pip install -e .[test])")
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                 reason="no chromium/chromedriver here (apt-get install chromium chromium-driver)")]

ETAS = 3  # TINY_DEMO_ARGS' --etas
GAINS = 6  # hparams/addition.yaml's layer_gains (addition's other method on the page, layer)
assert "--etas=[0,0.5,1]" in TINY_DEMO_ARGS


def by_css(driver, selector):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def open_page(driver, url):
    driver.get(url)
    deadline = time.time() + 60
    while not by_css(driver, "#input-audio input[type=file]"):
        assert time.time() < deadline, "the page did not load"
        time.sleep(0.5)


def status_text(driver) -> str:
    return by_css(driver, "#status")[0].text


def wait_status(driver, words, timeout=240) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = status_text(driver)
        if any(w in text for w in words):
            return text
        time.sleep(0.5)
    raise AssertionError(f"status never showed {words}; it shows {status_text(driver)!r}")


def upload(driver, path, expect=("Ready",)) -> str:
    by_css(driver, "#input-audio input[type=file]")[0].send_keys(str(path))
    return wait_status(driver, list(expect) + ["error"], timeout=60)


def clear_input(driver):
    by_css(driver, '#input-audio button[aria-label="Clear"]')[0].click()
    deadline = time.time() + 30
    while status_text(driver) or not by_css(driver, "#input-audio input[type=file]"):
        assert time.time() < deadline, "clearing the input did not clear the status"
        time.sleep(0.5)


def start_edit(driver, prompt):
    box = by_css(driver, "#prompt textarea")[0]
    box.clear()
    box.send_keys(prompt)
    by_css(driver, "#edit-button")[0].click()


def result_urls(driver):
    """The file URLs of the eta players' download links and of the download list."""
    players = [a.get_attribute("href") for a in by_css(driver, ".edit-player a[data-testid=download-link]")]
    downloads = [a.get_attribute("href") for a in by_css(driver, "#downloads a")]
    return players, downloads


def fetch_status(driver, url) -> int:
    """HTTP status of ``url`` fetched by the page itself (so with this browser's cookie)."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then(r => done(r.status)).catch(e => done(-1));", url)


def test_one_visitor_edits_a_clip_end_to_end(demo_server, open_browser, tmp_path):
    url, _ = demo_server
    driver = open_browser()
    open_page(driver, url)

    # A bad file gives the recipes' own message, shown in the page
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio\n")
    message = upload(driver, bad)
    assert "error:" in message and "cannot read 'notes.wav' as audio" in message, message

    clear_input(driver)
    clip = write_scene_clip(tmp_path / "knock.wav", ["knock"], seed=1)
    assert "knock.wav" in upload(driver, clip)
    start_edit(driver, "a dog barks while a door is knocked")
    status = wait_status(driver, ["Best edit", "error"])
    assert "Best edit" in status, status

    assert "Best edit: eta" in status, status  # addition's default on the page is the method
    players, downloads = result_urls(driver)
    assert len(players) == ETAS and all(u and "edit_1/edit_eta" in u for u in players), players
    assert [Path(u).name for u in downloads] == ["best.wav", "edit_1.zip", "scores.csv"], downloads
    assert all(fetch_status(driver, u) == 200 for u in players + downloads)
    for selector in ("#spectrograms img", "#scores-plot img"):
        image = by_css(driver, selector)
        assert image and driver.execute_script("return arguments[0].naturalWidth", image[0]) > 0, selector
    table = by_css(driver, "#scores")[0].text
    assert all(column in table for column in ("text_clap", "audio_clap", "sum")), table
    # Nothing was fetched from anywhere but this server (the demo works offline)
    resources = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert all(r.startswith(url) or r.startswith(("data:", "blob:")) for r in resources), resources

    # The layer on the same clip: one player per gain
    by_css(driver, '#method input[value="layer"]')[0].click()
    start_edit(driver, "a dog barks while a door is knocked")
    deadline = time.time() + 240
    while "Best edit: gain" not in status_text(driver):
        assert time.time() < deadline and "error" not in status_text(driver), status_text(driver)
        time.sleep(0.5)
    assert "Added:" in status_text(driver)
    players, downloads = result_urls(driver)
    assert len(players) == GAINS and all(u and "edit_2/edit_gain" in u for u in players), players

    shot = tmp_path / "demo.png"
    driver.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")


def test_two_visitors_edit_at_once_and_see_only_their_own_files(demo_server, open_browser, tmp_path):
    url, gradio_folder = demo_server
    visitors = [open_browser(), open_browser()]
    prompts = ["a dog barks while a door is knocked", "a phone rings while a door is knocked"]
    for i, driver in enumerate(visitors):
        open_page(driver, url)
        upload(driver, write_scene_clip(tmp_path / f"visitor{i}.wav", ["knock"], seed=10 + i))
    for driver, prompt in zip(visitors, prompts):
        start_edit(driver, prompt)
    for driver in visitors:
        assert "Best edit" in wait_status(driver, ["Best edit", "error"])

    (players_a, downloads_a), (players_b, downloads_b) = [result_urls(d) for d in visitors]
    # <visitor>/<tab>/edit_1/edit_eta0.00.wav: each tab's folder
    folder_a, folder_b = [Path(players[0].split("file=")[1]).parents[1] for players in (players_a, players_b)]
    assert folder_a != folder_b
    assert all(str(folder_a) in u for u in players_a + downloads_a)
    assert all(str(folder_b) in u for u in players_b + downloads_b)
    # Each prompt reached its own visitor's edit only
    for folder, prompt in ((folder_a, prompts[0]), (folder_b, prompts[1])):
        assert json.loads((folder / "edit_1" / "edit.json").read_text())["target_prompt"] == prompt
    # A visitor's files are theirs alone: the other browser, and a client without the cookie, get 403
    import urllib.error
    import urllib.request

    for own, other in ((visitors[0], visitors[1]), (visitors[1], visitors[0])):
        for file_url in result_urls(own)[0][:1] + result_urls(own)[1]:
            assert fetch_status(own, file_url) == 200
            assert fetch_status(other, file_url) == 403
    with pytest.raises(urllib.error.HTTPError, match="403"):
        urllib.request.urlopen(downloads_a[0])
    # The edits took turns (one at a time): one finished before the other's input was copied in
    first, second = sorted([folder_a, folder_b], key=lambda f: (f / "edit_1_input").stat().st_mtime)
    assert (first / "edit_1" / "best.wav").stat().st_mtime <= (second / "edit_1_input").stat().st_mtime

    # Closing a tab ends its session: that visitor's folder goes, the other's stays
    visitors[0].get("about:blank")
    deadline = time.time() + 60
    while folder_a.exists() and time.time() < deadline:
        time.sleep(1)
    assert not folder_a.exists() and folder_b.exists()
    assert gradio_folder in folder_a.parents
