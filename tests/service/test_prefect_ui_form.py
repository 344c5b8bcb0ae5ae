"""The Prefect UI's Run form for `render-episode`, driven in a real browser as an operator would: it
explains every field, offers the formats as choices, refuses a listener typed with quotes before any
run exists, and runs a good one to completion."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

from helpers import ROOT

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(check, what: str, timeout_s: float = 120):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.5)
    raise AssertionError(f"{what} within {timeout_s:.0f} s")


@pytest.fixture(scope="module")
def ui(tmp_path_factory, prefect_home):
    """`prefect server start` with its UI, and `nightcast deploy --serve` registered on it."""
    tmp = tmp_path_factory.mktemp("ui")
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(prefect_home(tmp / "prefect")), PREFECT_UI_API_URL=api, PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_LOGGING_LEVEL="WARNING")
    procs = [subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp)]
    try:
        _wait(lambda: _healthy(api), "the Prefect server did not answer")
        served = {**env, "PREFECT_API_URL": api, "NIGHTCAST_OUTPUTS_DIR": str(tmp / "outputs")}
        procs.append(subprocess.Popen([sys.executable, "-m", "nightcast.cli", "deploy", "--serve"], cwd=ROOT,
                                      env=served, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deployment = _wait(lambda: _deployment(api), "render-episode was not deployed")
        yield f"http://127.0.0.1:{port}", api, deployment
    finally:
        for proc in reversed(procs):
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def _healthy(api: str) -> bool:
    try:
        return httpx.get(f"{api}/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _deployment(api: str) -> dict | None:
    answer = httpx.get(f"{api}/deployments/name/render-episode/render-episode", timeout=5)
    return answer.json() if answer.status_code == 200 else None


def _runs(api: str, deployment: dict) -> list[dict]:
    """render-episode's runs (the server also schedules the nightly's)."""
    return httpx.post(f"{api}/flow_runs/filter", json={"limit": 10, "sort": "EXPECTED_START_TIME_DESC",
                                                       "deployments": {"id": {"any_": [deployment["id"]]}}}).json()


def test_the_run_form_guides_refuses_a_bad_listener_and_renders_a_good_one(ui, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    base, api, deployment = ui
    browser.set_window_size(1400, 2000)
    browser.get(f"{base}/deployments/deployment/{deployment['id']}/run")

    def field(name: str):
        fields = browser.find_elements(By.CSS_SELECTOR, ".schema-form-property")
        return next((f for f in fields
                     if f.find_element(By.CSS_SELECTOR, ".schema-form-property__label").text.split(" ")[0] == name), None)

    def pick_type(name: str, kind: str) -> None:
        next(b for b in field(name).find_elements(By.TAG_NAME, "button") if b.text == kind).click()
        _wait(lambda: field(name).find_elements(By.CSS_SELECTOR, "fieldset *"), f"{name} did not switch to {kind}", 10)

    _wait(lambda: field("listener"), "the form did not load", 60)
    listener_help = field("listener").text
    assert "without quotes" in listener_help and "listener(s)" in listener_help  # counted, not named
    assert "time zone" in field("date").text
    pick_type("template", "str")
    formats = Select(field("template").find_element(By.TAG_NAME, "select"))
    assert [o.get_attribute("value") for o in formats.options] == ["morning-drive", "nightly-digest", "two-hosts"]
    formats.select_by_value("nightly-digest")
    pick_type("qa", "bool")  # off: the gate is tested elsewhere, this is about the form

    # what the form's JSON look invites: a quoted id. Refused when the run would be created; none is.
    textarea = field("listener").find_element(By.TAG_NAME, "textarea")
    textarea.send_keys('"maya"')
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    # the form's own check (against the schema, through the API) or the server's refusal, whichever comes first
    _wait(lambda: "does not match" in browser.find_element(By.TAG_NAME, "body").text, "no refusal was shown", 30)
    time.sleep(1)
    assert _runs(api, deployment) == []

    textarea = field("listener").find_element(By.TAG_NAME, "textarea")
    textarea.clear()
    textarea.send_keys("maya")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    [run] = _wait(lambda: _runs(api, deployment), "the form created no run", 30)
    assert run["parameters"]["listener"] == "maya" and run["parameters"]["template"] == "nightly-digest"
    finished = _wait(lambda: (r := httpx.get(f"{api}/flow_runs/{run['id']}").json())["state"]["type"] in
                     ("COMPLETED", "FAILED", "CRASHED") and r, "the run did not finish", 420)
    assert finished["state"]["type"] == "COMPLETED", finished["state"]
