"""Heavy stages on the `gpu` work pool, under the `nightcast-gpu` global concurrency limit.

A real `prefect worker start --pool gpu` process picks up the music stage of a render that uses
MusicGen (a tiny random-weight checkpoint, so it runs on CPU here: the dispatch is the same)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from helpers import DATE, PROFILES, ROOT, ffprobe_duration, short_format


def test_the_gpu_limit_lets_one_heavy_stage_at_a_time(prefect_harness):
    from nightcast.flows.gpu_stages import GPU_LIMIT, gpu_slot
    from nightcast.flows.limits import ensure_global_limit
    from nightcast.settings import Settings

    def hold(settings, spans):
        with gpu_slot(settings) as held:
            time.sleep(0.6)
        spans.append(tuple(held))

    for slots, overlap_expected in ((1, False), (2, True)):
        spans: list[tuple[float, float]] = []
        ensure_global_limit(GPU_LIMIT, slots)  # as a running system would have it already
        threads = [threading.Thread(target=hold, args=(Settings(gpu_concurrency=slots), spans)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        (a_start, a_end), (b_start, b_end) = sorted(spans)
        assert (b_start < a_end) == overlap_expected, (slots, spans)


def test_cpu_backends_are_light_and_gpu_backends_heavy():
    from nightcast.flows.gpu_stages import music_is_heavy, speech_is_heavy
    from nightcast.voices.presets import VoicePreset

    assert music_is_heavy("musicgen") and not music_is_heavy("procedural") and not music_is_heavy("stems")
    hibari = VoicePreset(id="host", engine="hibari", display_name="Host")
    vits = VoicePreset(id="vits", engine="transformers", display_name="VITS", model="/models/vits")
    assert not speech_is_heavy({"host": hibari}) and speech_is_heavy({"host": hibari, "vits": vits})


@pytest.fixture
def gpu_worker(prefect_harness, tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from prefect.settings import PREFECT_API_URL

    from nightcast.flows import deployments
    from nightcast.settings import Settings

    deployments.deploy(Settings())
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_WORKER_PREFETCH_SECONDS": "1", "PREFECT_LOGGING_LEVEL": "WARNING"}
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", "gpu", "--type", "process",
                               "--name", "gpu-test-worker"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    yield worker
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:  # still winding down a flow run's subprocess: stop them all
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    log.close()


def test_musicgen_beds_render_on_the_gpu_pool_worker(gpu_worker, tmp_path, tmp_path_factory, monkeypatch):
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    from nightcast.flows.episode import render_episode
    from nightcast.flows.nightly import nightly
    from nightcast.render.request import Backends

    from tiny_musicgen import build_tiny_musicgen

    model = build_tiny_musicgen(tmp_path_factory.mktemp("musicgen"))
    monkeypatch.setenv("NIGHTCAST_GPU_DISPATCH", "pool")
    monkeypatch.setenv("NIGHTCAST_MUSICGEN__MAX_CHUNK_S", "2")  # tiny random weights: short loops suffice
    monkeypatch.setenv("NIGHTCAST_TEMPLATES_DIR", str(short_format(tmp_path)))
    episode = Path(render_episode(str(PROFILES / "hiro.yaml"), template="qa-check", out_dir=str(tmp_path),
                                  date=DATE, backends=Backends(music="musicgen", music_model=str(model)), qa=False))

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["gpu"])),
                                     limit=50, sort=FlowRunSort.START_TIME_DESC)  # 3.8.8's client sends None otherwise
    music_runs = [r for r in runs if r.work_pool_name == "gpu" and r.state.is_completed()]
    assert music_runs, f"no completed run on the gpu pool:\n{(tmp_path / 'worker.log').read_text()[-3000:]}"

    manifest = json.loads((episode / "episode.json").read_text())
    assert manifest["backends"]["music"]["name"] == "musicgen"
    assert manifest["stage_cache"]["music"] == {"ran": 1, "cached": 0}  # one batched generate for every bed
    assert 70 <= ffprobe_duration(episode / "episode.mp3") <= 110  # qa-check's range

    # The nightly, stage-major: the chunk's beds are made on the gpu worker, the render finds them cached.
    store = tmp_path / "store"
    store.mkdir()
    for name in ("hiro",):
        data = yaml.safe_load((PROFILES / f"{name}.yaml").read_text())
        data["template"] = "qa-check"
        (store / f"{name}.yaml").write_text(yaml.safe_dump(data))
    for name, value in {"PROFILES_DIR": store, "MUSIC": "musicgen",
                        "MUSIC_MODEL": model, "QA": json.dumps({"enabled": False})}.items():
        monkeypatch.setenv(f"NIGHTCAST_{name}", str(value))
    report = nightly(date=DATE, out_dir=str(tmp_path / "night"))
    assert list(report.rendered) == ["hiro"], report.failed
    assert [(p.phase, p.batches) for p in report.phases] == [("music", [4])], report.phases  # a 4-slot episode
    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["gpu"])),
                                     limit=50, sort=FlowRunSort.START_TIME_DESC)
    assert any(r.name == "chunk-0" and r.work_pool_name == "gpu" and r.state.is_completed() for r in runs)
    for who in ("hiro",):
        night_manifest = json.loads((tmp_path / "night" / who / "2026-11-23-qa-check" / "episode.json").read_text())
        assert night_manifest["stage_cache"]["music"] == {"ran": 0, "cached": 1}


def test_a_gpu_pool_nobody_serves_costs_one_pickup_timeout_then_its_breaker_skips_it(prefect_harness, tmp_path):
    """No worker on the `gpu` pool: the stage run is cancelled after gpu_pickup_timeout_s and the stage
    runs in the render; with the breaker open, the next render does not even create a run."""
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
    from prefect.client.schemas.sorting import FlowRunSort

    from nightcast.flows import deployments
    from nightcast.flows.caching import StageFolder
    from nightcast.flows.gpu_stages import MusicRequest, music_stage, on_gpu_pool
    from nightcast.settings import Settings

    settings = Settings(gpu_dispatch="pool", gpu_pickup_timeout_s=2, cache_dir=tmp_path / "cache",
                        breaker={"failures": 1, "cooloff_s": 600})
    deployments.deploy(settings)
    request = MusicRequest(cues=[], entries=[], seeds=[], generator="musicgen", batched=True,
                           folder=StageFolder(stages_root=None, fallback=tmp_path))

    def music_runs():
        with get_client(sync_client=True) as client:
            return client.read_flow_runs(deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["gpu"])),
                                         limit=200, sort=FlowRunSort.START_TIME_DESC)  # 3.8.8's client sends None

    before = {r.id for r in music_runs()}
    started = time.monotonic()
    assert on_gpu_pool(music_stage, request, settings) is None
    assert time.monotonic() - started < 15
    [missed] = [r for r in music_runs() if r.id not in before]
    assert missed.state.is_cancelled() and "no gpu worker started it in 2 s" in missed.state.message

    started = time.monotonic()
    assert on_gpu_pool(music_stage, request, settings) is None
    assert time.monotonic() - started < 2
    assert len([r for r in music_runs() if r.id not in before]) == 1  # the open breaker sent nothing
