"""Faults in the middle of a night. Each ends with every listener's episode complete or absent (never
a partial folder), every feed valid, the reason in the nightly summary, and a re-run that renders
only what is missing."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import feedparser
import psutil
import pytest
import yaml

from helpers import DATE, PROFILES, short_format

pytestmark = pytest.mark.slow


def make_store(root: Path, listeners: dict[str, str]) -> Path:
    """listener id → the example profile it copies; every one on the short `qa-check` format."""
    store = root / "store"
    store.mkdir()
    for listener, base in listeners.items():
        data = yaml.safe_load((PROFILES / f"{base}.yaml").read_text())
        data.update(id=listener, template="qa-check")
        (store / f"{listener}.yaml").write_text(yaml.safe_dump(data))
    return store


def assert_complete_or_absent(out: Path, listeners: list[str]) -> dict[str, bool]:
    """Whether each listener's episode is there; fails on anything half-made or a feed that does not parse."""
    there = {}
    for listener in listeners:
        folder = out / listener
        assert not list(folder.glob(".building-*")), f"{listener}: a build folder was left behind"
        episode = folder / f"{DATE}-qa-check"
        there[listener] = episode.exists()
        if there[listener]:
            manifest = json.loads((episode / "episode.json").read_text())
            assert (episode / manifest["files"]["audio"]).stat().st_size > 10_000
        feed = folder / "feed.xml"
        if feed.exists():
            parsed = feedparser.parse(feed.read_bytes())
            assert not parsed.bozo and len(parsed.entries) == int(there[listener]), listener
    return there


def kill_the_encoder_once(listener: str):
    """Wrap the master's pipe so that the first encode of `listener`'s episode has its ffmpeg
    encoder killed (SIGKILL) while it runs."""
    from nightcast.binaries import run_piped

    done = []

    def piped(first, second, what):
        if done or not any(f"/{listener}/" in arg for arg in second):
            return run_piped(first, second, what)
        done.append(True)
        me = psutil.Process()

        def kill() -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                for child in me.children(recursive=True):
                    try:
                        if "ffmpeg" in child.name() and any(f"/{listener}/" in a for a in child.cmdline()[-1:]):
                            child.send_signal(signal.SIGKILL)
                            return
                    except psutil.Error:
                        continue
                time.sleep(0.01)

        threading.Thread(target=kill, daemon=True).start()
        return run_piped(first, second, what)

    return piped


def test_disk_full_read_only_outputs_and_a_killed_encoder_cost_only_their_own_episodes(
        prefect_harness, tmp_path, monkeypatch):
    import nightcast.episode_store as episode_store
    import nightcast.flows.nightly as nightly_flow
    import nightcast.mix.master as master

    store = make_store(tmp_path, {"maya": "maya", "hiro": "hiro", "dre": "dre", "ana": "maya"})
    for name, value in {"PROFILES_DIR": store, "TEMPLATES_DIR": short_format(tmp_path),
                        "QA": json.dumps({"enabled": False}), "CACHE_DIR": tmp_path / "cache"}.items():
        monkeypatch.setenv(f"NIGHTCAST_{name}", str(value))
    out = tmp_path / "out"
    # one retry, at once: the killed encoder's episode is made again; the other faults stay
    monkeypatch.setattr(nightly_flow, "render_listener_task",
                        nightly_flow.render_listener_task.with_options(retries=1, retry_delay_seconds=0))

    real_encode, real_building = master.limit_and_encode, episode_store.building

    def disk_full_for_hiro(mixed, out_file, *args, **kwargs):
        # the master encodes into the stage cache; the cover it embeds is in hiro's build folder
        if "/hiro/" in str((out_file, args, kwargs)):
            Path(out_file).with_name(".partial.mp3").write_bytes(b"\xff" * 4096)  # what an encoder got written
            raise OSError(errno.ENOSPC, "No space left on device", str(out_file))
        return real_encode(mixed, out_file, *args, **kwargs)

    def read_only_for_dre(final_dir):
        if Path(final_dir).parent.name == "dre":
            raise OSError(errno.EROFS, "Read-only file system", str(Path(final_dir).parent))
        return real_building(final_dir)

    monkeypatch.setattr(master, "limit_and_encode", disk_full_for_hiro)
    monkeypatch.setattr(episode_store, "building", read_only_for_dre)
    monkeypatch.setattr(master, "run_piped", kill_the_encoder_once("ana"))

    report = nightly_flow.nightly(date=DATE, out_dir=str(out))
    assert sorted(report.rendered) == ["ana", "maya"], report.failed  # ana's killed encoder: retried
    assert "No space left on device" in report.failed["hiro"]
    assert "Read-only file system" in report.failed["dre"]
    summary = report.markdown()
    assert "No space left on device" in summary and "Read-only file system" in summary
    assert assert_complete_or_absent(out, ["maya", "hiro", "dre", "ana"]) == {
        "maya": True, "hiro": False, "dre": False, "ana": True}

    monkeypatch.undo()  # the disk has room again, outputs are writable
    for name, value in {"PROFILES_DIR": store, "TEMPLATES_DIR": tmp_path / "templates",
                        "QA": json.dumps({"enabled": False}), "CACHE_DIR": tmp_path / "cache"}.items():
        monkeypatch.setenv(f"NIGHTCAST_{name}", str(value))
    again = nightly_flow.nightly(date=DATE, out_dir=str(out))
    assert sorted(again.already) == ["ana", "maya"] and sorted(again.rendered) == ["dre", "hiro"], again.failed
    assert all(assert_complete_or_absent(out, ["maya", "hiro", "dre", "ana"]).values())


def test_a_nightly_killed_mid_render_leaves_no_partial_episode_and_the_rerun_finishes_it(tmp_path, prefect_home):
    store = make_store(tmp_path, {"maya": "maya", "hiro": "hiro"})
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(prefect_home(tmp_path / "prefect")), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               NIGHTCAST_PROFILES_DIR=str(store), NIGHTCAST_TEMPLATES_DIR=str(short_format(tmp_path)),
               NIGHTCAST_QA=json.dumps({"enabled": False}), NIGHTCAST_NIGHTLY_CONCURRENCY="4",
               NIGHTCAST_CACHE_DIR=str(tmp_path / "cache"))
    command = [sys.executable, "-m", "nightcast.cli", "nightly", "--date", str(DATE), "-o", str(out)]
    night = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             start_new_session=True)
    deadline = time.monotonic() + 240
    while not list(out.glob("*/.building-*")) and time.monotonic() < deadline and night.poll() is None:
        time.sleep(0.05)
    assert night.poll() is None, night.stdout.read()[-3000:]
    # The worker, its renders and its Prefect server, mid-render. The slots it held stay taken until
    # their leases run out (a minute); four slots for two listeners, so the re-run need not wait.
    os.killpg(night.pid, signal.SIGKILL)
    night.wait()
    there = assert_complete_or_absent_after_kill(out, ["maya", "hiro"])
    assert not all(there.values()), "killed mid-render, yet every episode was finished"

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    if any(there.values()):
        assert "already have this night's episode" in rerun.stdout + rerun.stderr
    assert all(assert_complete_or_absent(out, ["maya", "hiro"]).values())


def assert_complete_or_absent_after_kill(out: Path, listeners: list[str]) -> dict[str, bool]:
    """After a SIGKILL nothing could clean up: the killed build folder may stay (the next build of that
    episode removes it), but no episode folder is half-made and every feed parses."""
    there = {}
    for listener in listeners:
        episode = out / listener / f"{DATE}-qa-check"
        there[listener] = episode.exists()
        if there[listener]:
            assert (episode / "episode.json").is_file()
        feed = out / listener / "feed.xml"
        if feed.exists():
            assert not feedparser.parse(feed.read_bytes()).bozo
    return there


def _prefect_server(port: int, env: dict, log: Path) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                               "--port", str(port)], env=env, stdout=log.open("a"), stderr=subprocess.STDOUT,
                              start_new_session=True)
    import httpx

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.3)
    raise AssertionError(f"the Prefect server did not start:\n{log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_prefect_server_restarted_mid_night_costs_no_episode(tmp_path, prefect_home):
    """Stopped while a render runs and started again five seconds later (leases in files, as the
    README says to run it): the nightly carries on and renders everyone, and no slot stays taken."""
    from prefect.server.api.server import SubprocessASGIServer

    store = make_store(tmp_path, {"maya": "maya", "hiro": "hiro"})
    port = SubprocessASGIServer().find_available_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(prefect_home(tmp_path / "prefect")), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PREFECT_SERVER_CONCURRENCY_LEASE_STORAGE="prefect.server.concurrency.lease_storage.filesystem")
    server = _prefect_server(port, env, tmp_path / "server.log")
    env.update(PREFECT_API_URL=f"http://127.0.0.1:{port}/api", NIGHTCAST_PROFILES_DIR=str(store),
               NIGHTCAST_TEMPLATES_DIR=str(short_format(tmp_path)), NIGHTCAST_QA=json.dumps({"enabled": False}),
               NIGHTCAST_CACHE_DIR=str(tmp_path / "cache"), NIGHTCAST_NIGHTLY_CONCURRENCY="1")
    out = tmp_path / "out"
    night = subprocess.Popen([sys.executable, "-m", "nightcast.cli", "nightly", "--date", str(DATE), "-o", str(out)],
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 240
        while not list(out.glob("*/.building-*")) and time.monotonic() < deadline and night.poll() is None:
            time.sleep(0.05)
        _stop(server)
        time.sleep(5)
        server = _prefect_server(port, env, tmp_path / "server.log")
        output, _ = night.communicate(timeout=400)
        assert night.returncode == 0, output[-3000:]
        assert "2 of 2 listeners rendered" in output
        assert all(assert_complete_or_absent(out, ["maya", "hiro"]).values())
        from prefect import get_client
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}), get_client(sync_client=True) as client:
            assert client.read_global_concurrency_limit_by_name("nightcast-renders").active_slots == 0
    finally:
        if night.poll() is None:
            night.kill()
        _stop(server)
