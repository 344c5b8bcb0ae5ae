import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from nightcast.episode_store import EpisodeStore, building
from nightcast.errors import EpisodeBusy
from nightcast.publish import podcasting20_chapters
from nightcast.publish.transcript import _stamp
from nightcast.schema import Chapter


def test_building_renames_only_when_complete(tmp_path):
    final = tmp_path / "maya" / "ep1"
    with building(final) as tmp:
        (tmp / "episode.mp3").write_bytes(b"x")
        assert not final.exists()
    assert (final / "episode.mp3").read_bytes() == b"x"
    assert [p.name for p in final.parent.iterdir()] == ["ep1"]


def test_failed_build_leaves_nothing_and_keeps_the_previous_episode(tmp_path):
    final = tmp_path / "maya" / "ep1"
    with building(final) as tmp:
        (tmp / "episode.mp3").write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with building(final) as tmp:
            (tmp / "episode.mp3").write_bytes(b"half")
            raise RuntimeError("crash mid-render")
    assert (final / "episode.mp3").read_bytes() == b"old"
    assert [p.name for p in final.parent.iterdir()] == ["ep1"]


def test_rebuild_replaces_the_previous_episode(tmp_path):
    final = tmp_path / "ep"
    for content in (b"one", b"two"):
        with building(final) as tmp:
            (tmp / "episode.mp3").write_bytes(content)
    assert (final / "episode.mp3").read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ep"]


def test_podcasting20_chapters_shape():
    chapters = [Chapter(start_s=0, end_s=30.5, title="Hello", segment_id="s01-intro"),
                Chapter(start_s=30.5, end_s=60, title="Why X", segment_id="s02-pick")]
    data = json.loads(json.dumps(podcasting20_chapters(chapters)))
    assert data["version"] == "1.2.0"
    assert data["chapters"] == [{"startTime": 0, "endTime": 30.5, "title": "Hello"},
                                {"startTime": 30.5, "endTime": 60, "title": "Why X"}]


def test_vtt_timestamps():
    assert _stamp(0) == "00:00:00.000" and _stamp(3723.4567) == "01:02:03.457"


HOLD = """
import sys, time
from pathlib import Path
from nightcast.episode_store import EpisodeStore
with EpisodeStore(Path(sys.argv[1])).rendering("maya", "2026-11-23-nightly-digest", wait_s=0):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(root, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(root), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_second_render_of_the_same_episode_gives_up_naming_the_first(tmp_path):
    holder = _holder(tmp_path, 60)
    try:
        with pytest.raises(EpisodeBusy, match=rf"maya/2026-11-23-nightly-digest is being rendered by pid {holder.pid} "):
            with EpisodeStore(tmp_path).rendering("maya", "2026-11-23-nightly-digest", wait_s=0.5):
                pass
        with EpisodeStore(tmp_path).rendering("maya", "2026-11-23-morning-drive", wait_s=0):
            pass  # another episode of the same listener is not held up
    finally:
        holder.kill()
        holder.wait()


def test_a_render_waits_for_the_first_and_a_killed_holder_holds_nothing(tmp_path):
    store = EpisodeStore(tmp_path)
    holder = _holder(tmp_path, 1.5)
    started = time.monotonic()
    with store.rendering("maya", "2026-11-23-nightly-digest", wait_s=30):
        waited = time.monotonic() - started
    holder.wait()
    assert 0.5 < waited < 10
    killed = _holder(tmp_path, 600)
    os.kill(killed.pid, signal.SIGKILL)  # the kernel drops its lock: no stale lock file to clean up
    killed.wait()
    with store.rendering("maya", "2026-11-23-nightly-digest", wait_s=0):
        pass


def test_feed_rebuilds_take_turns(tmp_path):
    store, order = EpisodeStore(tmp_path), []

    def rebuild(name: str) -> None:
        with store.feed_writer("maya"):
            order.append(f"{name} in")
            time.sleep(0.3)
            order.append(f"{name} out")

    threads = [threading.Thread(target=rebuild, args=(n,)) for n in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])
