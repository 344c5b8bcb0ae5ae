"""Two renders of the same listener's episode at once (a double API call, the CLI beside the nightly):
the second waits for the first instead of racing it, then finds its stages cached; the feed lists the
episode once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import feedparser
import pytest

from helpers import DATE, PROFILES, short_format

pytestmark = pytest.mark.slow


def test_a_second_render_of_the_same_episode_waits_then_reuses_the_first(tmp_path, prefect_home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(prefect_home(tmp_path / "prefect")), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               NIGHTCAST_TEMPLATES_DIR=str(short_format(tmp_path)))
    command = [sys.executable, "-m", "nightcast.cli", "render", str(PROFILES / "maya.yaml"), "-t", "qa-check",
               "--date", str(DATE), "-o", str(tmp_path / "out"), "--no-qa"]
    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # both start their Prefect servers; the first takes the episode's lock
    second = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = [(p.wait(timeout=300), *p.communicate()) for p in (first, second)]
    assert [code for code, _, _ in results] == [0, 0], [err[-2000:] for _, _, err in results]
    waited = [err for _, _, err in results if "is being rendered by pid" in err]
    assert len(waited) == 1, "exactly one render waited for the other"

    episode = tmp_path / "out" / "maya" / f"{DATE}-qa-check"
    counts = json.loads((episode / "episode.json").read_text())["stage_cache"]
    assert all(c["ran"] == 0 for c in counts.values()), counts  # the later render: all cached, the master too
    assert counts["master"] == {"ran": 0, "cached": 1}
    feed = feedparser.parse((tmp_path / "out" / "maya" / "feed.xml").read_bytes())
    assert not feed.bozo and len(feed.entries) == 1
    assert not list((tmp_path / "out" / "maya").glob(".building-*"))
