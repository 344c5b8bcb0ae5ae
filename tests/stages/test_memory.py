"""Memory across episodes: recent script.json files steer picks, phrasing, stories and callbacks."""

from __future__ import annotations

import datetime as dt
import json

from nightcast.data_files import load_profile, load_template
from nightcast.generators.script import load_writer, write_script
from nightcast.generators.script.memory import recall
from nightcast.settings import Settings
from nightcast.text import sentence_key, split_sentences

from chat_server import ChatServer, completion, good_draft
from helpers import PROFILES, TEMPLATES

START = dt.date(2026, 11, 16)


def render_week(out, days: int = 4, **settings):
    settings = Settings.from_env(outputs_dir=out, **settings)
    profile = load_profile(PROFILES / "maya.yaml")
    template = load_template("nightly-digest", TEMPLATES)
    scripts = []
    for offset in range(days):
        script = write_script(profile, template, START + dt.timedelta(days=offset), speaker="host",
                              words_per_minute=180, settings=settings)
        episode = out / profile.id / script.episode_id
        episode.mkdir(parents=True)
        (episode / "script.json").write_text(script.model_dump_json())
        scripts.append(script)
    return scripts


def picks(script):
    return [s.artist for s in script.segments if s.kind == "pick"]


def keys(script):
    return {sentence_key(x) for s in script.segments for x in split_sentences(s.text)}


def test_consecutive_episodes_do_not_repeat_picks_or_lines(tmp_path):
    scripts = render_week(tmp_path)
    for before, after in zip(scripts, scripts[1:]):
        assert not set(picks(before)) & set(picks(after)), (picks(before), picks(after))
        assert not keys(before) & keys(after)


def test_the_intro_calls_back_to_the_last_episode(tmp_path):
    scripts = render_week(tmp_path, days=2)
    intro = scripts[1].segments[0].text
    assert picks(scripts[0])[0] in intro and "ast night" in intro, intro


def test_without_memory_the_same_day_renders_the_same_script(tmp_path):
    first = render_week(tmp_path / "a", days=1, memory_days=0)[0]
    again = render_week(tmp_path / "b", days=1, memory_days=0)[0]
    assert first == again


def test_memory_window_and_bad_files(tmp_path):
    render_week(tmp_path, days=3)
    (tmp_path / "maya" / "2026-11-18-broken").mkdir()
    (tmp_path / "maya" / "2026-11-18-broken" / "script.json").write_text("{not json")
    (tmp_path / "maya" / ".building-x").mkdir()
    memory = recall(tmp_path, "maya", dt.date(2026, 11, 19), days=2)
    assert [s.date for s in memory.episodes] == [dt.date(2026, 11, 18), dt.date(2026, 11, 17)]
    assert recall(tmp_path, "maya", START, days=7).episodes == []  # nothing before the first
    assert recall(tmp_path, "nobody", START, days=7).episodes == []


def test_llm_writers_see_recent_episodes_as_data(tmp_path):
    render_week(tmp_path, days=2)
    seen = []

    def reply(payload):
        seen.append(payload["messages"][-1]["content"])
        return 200, completion(json.dumps(good_draft(payload)))

    load_writer.cache_clear()
    with ChatServer(reply) as server:
        settings = Settings.from_env(outputs_dir=tmp_path, writer="openai", writer_url=server.url)
        write_script(load_profile(PROFILES / "maya.yaml"), load_template("nightly-digest", TEMPLATES),
                     START + dt.timedelta(days=2), speaker="host", words_per_minute=180, settings=settings)
    data = json.loads(seen[0].split("<listener_data>\n", 1)[1].rsplit("\n</listener_data>", 1)[0])
    assert [e["when"] for e in data["previous_episodes"]] == ["last night", "on Monday"]
    assert data["previous_episodes"][0]["featured"]
    assert data["do_not_repeat"]
