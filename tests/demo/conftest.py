"""The web demo on the tiny model, served on a free 127.0.0.1 port, and headless browsers to visit it.

The browser is Debian's chromium driven through its chromedriver (``apt-get install chromium
chromium-driver``); the browser tests skip, saying so, where it, selenium or gradio is missing.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import REPO

# Edits on the tiny model in seconds: three etas, a handful of steps.
TINY_DEMO_ARGS = ["--device=cpu", "--emb_steps=2", "--ft_steps=2", "--sample_steps=3", "--etas=[0,0.5,1]"]
CHROMIUM = next(filter(None, (shutil.which(n) for n in ("chromium", "chromium-browser"))), None)
CHROMEDRIVER = shutil.which("chromedriver")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo_server(tiny_model_dir, tmp_path_factory):
    """(page URL, Gradio's temporary folder) of ``recipes/demo/app.py`` running on the tiny model."""
    tmp = tmp_path_factory.mktemp("demo_server")
    port = free_port()
    env = dict(os.environ, GRADIO_TEMP_DIR=str(tmp / "gradio"), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    log = open(tmp / "server.log", "w")
    server = subprocess.Popen([sys.executable, "recipes/demo/app.py", "hparams/demo.yaml", f"--port={port}",
                               f"--backbone_source={tiny_model_dir}", *TINY_DEMO_ARGS],
                              cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while True:
        try:
            urllib.request.urlopen(url, timeout=5)
            break
        except OSError:
            if server.poll() is not None or time.time() > deadline:
                server.kill()
                pytest.fail(f"the demo did not start:\n{(tmp / 'server.log').read_text()[-3000:]}")
            time.sleep(1)
    yield url, tmp / "gradio"
    server.terminate()
    server.wait(timeout=30)
    log.close()
    assert not list((tmp / "gradio").glob("audio_editing_demo_*")), "the demo left visitors' files behind"


@pytest.fixture
def open_browser():
    """Opens headless chromium windows, each with a profile (cookies) of its own; closes them after."""
    from selenium import webdriver

    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager must not look for drivers online
    drivers = []

    def start():
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2000"):
            options.add_argument(arg)
        drivers.append(webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options))
        drivers[-1].set_script_timeout(30)
        return drivers[-1]

    yield start
    for driver in drivers:
        driver.quit()
