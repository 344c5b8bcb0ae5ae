"""Deployments against a real Prefect server: served by `nightcast deploy --serve`, triggered through
Prefect's client as the UI does, producing a playable episode; the nightly schedule is registered."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DATE

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def served_deployments(prefect_harness, rendered, tmp_path):
    from prefect.settings import get_current_settings

    env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url),
           "NIGHTCAST_OUTPUTS_DIR": str(tmp_path / "outputs"), "NIGHTCAST_TIMEZONE": "Europe/Berlin",
           "NIGHTCAST_CACHE_DIR": str(rendered["maya"].parent.parent / ".cache"), "PREFECT_LOGGING_LEVEL": "WARNING"}
    log = (tmp_path / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "nightcast.cli", "deploy", "--serve"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        yield tmp_path / "outputs"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def wait_for_deployment(client, name: str, timeout_s: float = 90):
    from prefect.exceptions import ObjectNotFound

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return client.read_deployment_by_name(name)
        except ObjectNotFound:
            time.sleep(1)
    raise AssertionError(f"deployment {name} never appeared")


def test_served_deployments_render_from_a_ui_style_run_and_schedule_the_nightly(served_deployments):
    from prefect import get_client
    from prefect.deployments import run_deployment

    with get_client(sync_client=True) as client:
        render = wait_for_deployment(client, "render-episode/render-episode")
        nightly = wait_for_deployment(client, "nightly/nightly")
    # the UI's form comes from the typed parameters
    form = render.parameter_openapi_schema["properties"]
    assert {"listener", "template", "date", "backends"} <= set(form)
    assert nightly.schedules and nightly.schedules[0].schedule.cron == "0 3 * * *"
    assert nightly.schedules[0].schedule.timezone == "Europe/Berlin"

    run = run_deployment("render-episode/render-episode", timeout=420,
                         parameters={"listener": "maya", "template": "nightly-digest", "date": DATE.isoformat(),
                                     "backends": {"audio_format": "mp3"}})
    assert run.state.is_completed(), run.state
    episode = served_deployments / "maya" / f"{DATE}-nightly-digest" / "episode.mp3"
    probe = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                            str(episode)], capture_output=True, text=True, check=True)
    assert float(probe.stdout) > 120
