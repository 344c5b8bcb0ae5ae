import json

import pytest

from nightcast.episode_store import building
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
