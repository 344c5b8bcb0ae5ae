"""Deployments against a real Prefect server: served by `nightcast deploy --serve`, triggered through
Prefect's client as the UI does, producing a playable episode; the nightly schedule is registered."""

import os
import subprocess
import sys
import time

import pytest

from helpers import DATE, ROOT


@pytest.fixture(scope="module")
def served_deployments(prefect_harness, rendered, tmp_path_factory):
    from prefect.settings import get_current_settings

    tmp_path = tmp_path_factory.mktemp("served")
    env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url),
           "NIGHTCAST_OUTPUTS_DIR": str(tmp_path / "outputs"), "NIGHTCAST_TIMEZONE": "Europe/Berlin",
           "NIGHTCAST_CACHE_DIR": str(rendered.cache_holding("maya")), "PREFECT_LOGGING_LEVEL": "WARNING"}
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
    # the UI's form comes from the typed parameters, with the CLI's help text and the choices known at deploy time
    schema = render.parameter_openapi_schema
    form = schema["properties"]
    assert {"listener", "template", "date", "backends"} <= set(form)
    assert all(field["description"] for field in form.values())
    # counted, never named: Prefect's event log keeps old descriptions, which no erasure can reach
    assert "listener(s) at deploy time" in form["listener"]["description"] and "maya" not in render.description
    assert "nightcast profiles list" in render.description
    assert "time zone" in form["date"]["description"]
    assert form["template"]["anyOf"][0]["enum"] == ["morning-drive", "nightly-digest", "two-hosts"]
    voices = schema["definitions"]["Backends"]["properties"]["voice"]["anyOf"][0]["enum"]
    assert {"host", "kai", "robot"} <= set(voices)
    # a bad value is refused when the run is created, not minutes later inside it
    from prefect.exceptions import PrefectHTTPStatusError

    for bad in ({"listener": '"maya"'}, {"listener": "maya", "template": "nightly digest"},
                {"listener": "maya", "backends": {"voice": "alto"}}):
        with get_client(sync_client=True) as client, pytest.raises(PrefectHTTPStatusError) as refused:
            client.create_flow_run_from_deployment(render.id, parameters=bad)
        assert refused.value.response.status_code in (409, 422), refused.value
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


TOKEN, HIRO_ONLY = "t" * 24, "h" * 24


def api_client(outputs, **overrides):
    from fastapi.testclient import TestClient

    from nightcast.api import create_app
    from nightcast.settings import Settings

    settings = Settings(outputs_dir=outputs, api_tokens=f"{TOKEN},{HIRO_ONLY}:hiro", **overrides)
    return TestClient(create_app(settings))


def auth(token=TOKEN):
    return {"Authorization": f"Bearer {token}"}


def test_api_renders_through_the_deployment_and_serves_the_episode_with_ranges(served_deployments):
    client = api_client(served_deployments)
    with client:
        started = client.post("/v1/renders", headers=auth(), json={"listener": "maya", "template": "nightly-digest",
                                                                  "date": DATE.isoformat()})
        assert started.status_code == 202, started.text
        run_id = started.json()["id"]
        deadline = time.monotonic() + 420
        while True:
            status = client.get(f"/v1/renders/{run_id}", headers=auth()).json()
            if status["state"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED") or time.monotonic() > deadline:
                break
            time.sleep(2)
        assert status["state"] == "COMPLETED", status
        links = status["episode"]
        assert links["audio"] == f"/v1/episodes/maya/{DATE}-nightly-digest/episode.mp3"
        whole = client.get(links["audio"], headers=auth())
        assert whole.status_code == 200 and whole.headers["content-type"] == "audio/mpeg"
        size = len(whole.content)
        part = client.get(links["audio"], headers={**auth(), "Range": "bytes=100-199"})
        assert part.status_code == 206 and part.headers["content-range"] == f"bytes 100-199/{size}"
        assert part.content == whole.content[100:200]
        feed = client.get(links["feed"], headers=auth())
        assert feed.status_code == 200 and b"<rss" in feed.content and b"episode.mp3" in feed.content
        # a token for hiro only cannot see maya's render or files: 404, as if they did not exist
        assert client.get(f"/v1/renders/{run_id}", headers=auth(HIRO_ONLY)).status_code == 404
        assert client.get(links["audio"], headers=auth(HIRO_ONLY)).status_code == 404
        assert client.post("/v1/renders", headers=auth(HIRO_ONLY), json={"listener": "maya"}).status_code == 404


def test_api_refuses_missing_tokens_bad_ids_big_bodies_and_floods(tmp_path):
    client = api_client(tmp_path, api_rate_per_minute=8)
    assert client.get("/v1/listeners/maya/feed.xml").status_code == 401
    assert client.get("/v1/listeners/maya/feed.xml", headers=auth("x" * 24)).status_code == 401
    assert client.get("/v1/listeners/maya/feed.xml", headers={"Authorization": f"Basic {TOKEN}"}).status_code == 401
    assert client.post("/v1/renders", headers=auth(), json={"listener": "../etc"}).status_code == 422
    assert client.post("/v1/renders", headers=auth(), json={"listener": "nobody"}).status_code == 404
    for path in ("/v1/episodes/maya/..%2F..%2Fetc/passwd", "/v1/episodes/maya/2026-11-23-x/..%2Fepisode.json",
                 "/v1/episodes/maya/2026-11-23-x/secrets.txt", "/v1/listeners/..%2Fmaya/feed.xml"):
        assert client.get(path, headers=auth()).status_code in (404, 422), path
    big = client.post("/v1/renders", headers=auth(), content=b"{" + b" " * 20_000 + b"}")
    assert big.status_code == 413
    codes = [client.get("/v1/listeners/maya/feed.xml", headers=auth(HIRO_ONLY)).status_code for _ in range(12)]
    assert codes[:8] == [404] * 8 and set(codes[8:]) == {429}  # 8 a minute for this token, then 429
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/v1/renders", "/v1/renders/{run_id}",
                                                                  "/v1/listeners/{listener}/feed.xml"}


def test_deploy_registers_the_flows_on_cpu_and_the_heavy_stages_on_gpu(prefect_harness):
    from prefect import get_client

    from nightcast.flows import deployments
    from nightcast.settings import Settings

    ids = deployments.deploy(Settings(timezone="America/Chicago"))
    assert len(ids) == 5
    with get_client(sync_client=True) as client:
        assert client.read_work_pool("cpu").type == "process" and client.read_work_pool("gpu").type == "process"
        render = client.read_deployment_by_name("render-episode/render-episode")
        night = client.read_deployment_by_name("nightly/nightly")
        stages = [client.read_deployment_by_name(f"{name}/gpu")
                  for name in ("speech-stage", "music-stage", "batch-heavy-stages")]
    assert render.work_pool_name == "cpu" and night.work_pool_name == "cpu"
    assert [s.work_pool_name for s in stages] == ["gpu", "gpu", "gpu"]
    assert stages[2].entrypoint == "stage_major.py:batch_heavy_stages"
    assert stages[1].entrypoint == "gpu_stages.py:music_stage"  # in the flows package, wherever it is installed
    assert render.entrypoint == "episode.py:render_episode"
    assert night.schedules[0].schedule.timezone == "America/Chicago"
    deployments.deploy(Settings())  # again: pools exist already, deployments update in place
