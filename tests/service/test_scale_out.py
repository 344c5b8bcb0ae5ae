"""Scale-out: the same render-episode flow with its tasks on a Dask cluster (prefect-dask), chosen by
configuration alone. The cluster is a real local one: a scheduler and two worker processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nightcast.errors import InputError
from nightcast.settings import Settings

from helpers import DATE, PROFILES, ffprobe_duration


@pytest.fixture
def dask_cluster(prefect_harness):
    import distributed  # the dask extra is part of `make setup-test`: missing is a failure, not a skip
    from prefect.settings import PREFECT_API_URL

    # worker processes report their task runs to the same Prefect server as the flow
    env = {"PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_LOGGING_LEVEL": "WARNING"}
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  env=env) as cluster:
        yield cluster


def test_render_runs_its_tasks_on_a_dask_cluster(dask_cluster, rendered, tmp_path, monkeypatch):
    from distributed import Client

    from nightcast.flows.episode import render_episode

    monkeypatch.setenv("NIGHTCAST_TASK_RUNNER", "dask")
    monkeypatch.setenv("NIGHTCAST_CLUSTER_ADDRESS", dask_cluster.scheduler_address)
    episode = Path(render_episode(str(PROFILES / "maya.yaml"), template="nightly-digest", out_dir=str(tmp_path),
                                  date=DATE, qa=False))

    with Client(dask_cluster) as client:
        done = client.run_on_scheduler(
            lambda dask_scheduler: {name: prefix.state_counts["memory"]
                                    for name, prefix in dask_scheduler.task_prefixes.items()})
    assert done.get("write_script_task") == 1
    assert done.get("speak_task") == 6 and done.get("music_task") == 6  # every stage task ran on the cluster

    manifest = json.loads((episode / "episode.json").read_text())
    assert manifest["stage_cache"]["speech"] == {"ran": 6, "cached": 0}
    assert (episode / "script.json").read_text() == (rendered["maya"] / "script.json").read_text()
    assert ffprobe_duration(episode / "episode.mp3") == pytest.approx(
        ffprobe_duration(rendered["maya"] / "episode.mp3"), abs=0.03)


def test_task_runner_comes_from_settings():
    from prefect.task_runners import ThreadPoolTaskRunner

    from nightcast.flows.runners import task_runner_for

    runner = task_runner_for(Settings(max_threads=3))
    assert isinstance(runner, ThreadPoolTaskRunner) and runner._max_workers == 3
    dask = task_runner_for(Settings(task_runner="dask", cluster_address="tcp://10.0.0.5:8786"))
    assert type(dask).__name__ == "DaskTaskRunner" and dask.address == "tcp://10.0.0.5:8786"


def test_a_missing_cluster_integration_is_named_with_the_install(monkeypatch):
    import builtins

    from nightcast.flows.runners import task_runner_for

    real_import = builtins.__import__

    def without_ray(name, *args, **kwargs):
        if name == "prefect_ray":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_ray)
    with pytest.raises(InputError, match=r"pip install 'nightcast\[ray\]'"):
        task_runner_for(Settings(task_runner="ray"))
