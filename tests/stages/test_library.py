"""The listener's music library: scanning and caching, choosing tracks for them, and playing the
tracks in the episode (DJ over the intro, entry on the bridge's bar line, exit on the track's)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from nightcast.data_files import load_profile, load_template
from nightcast.errors import InputError
from nightcast.schema import MixSettings, MusicCue, TrackRef

from helpers import DATE, PROFILES, SETTINGS, TEMPLATES, short_format
from synthetic_library import write_library, write_track

librosa = pytest.importorskip("librosa")


@pytest.fixture(scope="module")
def library_dir(tmp_path_factory):
    return write_library(tmp_path_factory.mktemp("music") / "library")


@pytest.fixture(scope="module")
def library(library_dir, tmp_path_factory):
    from nightcast.generators.music.library import scan_library

    return scan_library(library_dir, tmp_path_factory.mktemp("cache"))


def by_title(library) -> dict[str, TrackRef]:
    return {t.title: t for t in library.tracks}


def test_scan_reads_tags_and_durations_and_names_files_without_tags(library):
    tracks = by_title(library)
    assert set(tracks) == {"Peace Piece", "Feeling Good", "Journey in Satchidananda", "Songbird", "Elsewhere"}
    assert tracks["Feeling Good"].artist == "Nina Simone" and tracks["Feeling Good"].genre == "Soul"
    assert tracks["Songbird"].artist == "Kenny G"  # from "Kenny G - Songbird.mp3"
    bars_s = 16 * 4 * 60 / 110
    assert tracks["Feeling Good"].duration_s == pytest.approx(0.25 + bars_s, abs=0.1)


def test_scan_estimates_tempo_key_and_downbeat(library):
    tracks = by_title(library)
    expected = {"Peace Piece": (96, "A minor"), "Feeling Good": (110, "C major"), "Elsewhere": (130, "A minor")}
    for title, (bpm, key) in expected.items():
        track = tracks[title]
        assert track.bpm == pytest.approx(bpm, rel=0.01), title
        assert track.key == key, title
        # Every song starts with 0.25 s of silence and then its first downbeat (codec delays add a few ms).
        assert track.first_beat_s == pytest.approx(0.25, abs=0.06), title


def test_tags_from_dj_software_win_over_estimates(tmp_path):
    from nightcast.generators.music.library import read_track

    path = write_track(tmp_path / "tagged.mp3", artist="A", title="B", bpm=100, bpm_tag="101.5", key_tag="Ebm")
    track = read_track(path)
    assert (track.bpm, track.key) == (101.5, "Eb minor")
    camelot = read_track(write_track(tmp_path / "c.flac", artist="A", title="C", bpm=100, key_tag="8B"))
    assert camelot.key == "C major"


def test_unplayable_files_are_skipped_with_a_reason(library):
    assert "ID3" in library.skipped["broken.mp3"] or "audio" in library.skipped["broken.mp3"]
    assert "too short" in library.skipped["jingle.wav"]


def test_second_scan_reads_nothing_but_changed_files(library_dir, tmp_path, monkeypatch):
    from nightcast.generators.music import library as library_module

    first = library_module.scan_library(library_dir, tmp_path)
    reads = []
    real = library_module.read_track
    monkeypatch.setattr(library_module, "read_track", lambda path, **kw: reads.append(path.name) or real(path, **kw))
    assert library_module.scan_library(library_dir, tmp_path).tracks == first.tracks
    assert reads == ["broken.mp3"]  # only the file that never read cleanly is tried again
    changed = library_dir / "stranger.ogg"
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    library_module.scan_library(library_dir, tmp_path)
    assert sorted(reads) == ["broken.mp3", "broken.mp3", "stranger.ogg"]


def test_a_missing_or_empty_library_is_a_clear_error(tmp_path):
    from nightcast.generators.music.library import scan_library

    with pytest.raises(InputError, match="not a folder") as missing:
        scan_library(tmp_path / "nope")
    assert missing.value.source == "--library"
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no music here")
    with pytest.raises(InputError, match="no playable tracks"):
        scan_library(tmp_path / "empty")


def test_a_listeners_own_folder_inside_a_shared_library_wins(tmp_path):
    from nightcast.generators.music.library import library_folder

    (tmp_path / "maya").mkdir()
    assert library_folder(tmp_path, "maya") == tmp_path / "maya"
    assert library_folder(tmp_path, "hiro") == tmp_path


# ---------------------------------------------------------------- choosing tracks


def test_tracks_are_chosen_for_the_listener_and_avoided_ones_never(library):
    import random

    from nightcast.generators.script.track_picks import choose_tracks

    maya = load_profile(PROFILES / "maya.yaml")  # most played: Bill Evans; avoids smooth jazz
    chosen = choose_tracks(library.tracks, maya, 3, random.Random(1))
    titles = [t.title for t in chosen]
    assert titles[0] == "Peace Piece"
    assert set(titles) == {"Peace Piece", "Feeling Good", "Journey in Satchidananda"}
    everything = choose_tracks(library.tracks, maya, 10, random.Random(1))
    assert "Songbird" not in [t.title for t in everything]  # tagged Smooth Jazz
    assert [t.title for t in everything][-1] != "Peace Piece"


def test_running_order_takes_short_steps_on_the_camelot_wheel():
    from nightcast.generators.script.track_picks import mixing_order

    def track(title, key):
        return TrackRef(path=f"/{title}", artist=title, title=title, duration_s=200, bpm=120, key=key)

    opener, far, fifth, two_fifths = (track("a", "C major"), track("b", "F# major"), track("c", "G major"),
                                      track("d", "D major"))
    assert [t.title for t in mixing_order([opener, far, fifth, two_fifths])] == ["a", "c", "d", "b"]


def test_script_introduces_and_plays_the_chosen_tracks(library):
    from nightcast.generators.script import write_script

    maya = load_profile(PROFILES / "maya.yaml")
    template = load_template("nightly-digest", TEMPLATES)
    script = write_script(maya, template, DATE, speaker="host", words_per_minute=160, settings=SETTINGS,
                          library=library.tracks)
    picks = [s for s in script.segments if s.kind.value == "pick"]
    assert [s.cue.track.title for s in picks] == ["Peace Piece", "Feeling Good"]
    for segment in picks:
        track = segment.cue.track
        assert f"“{track.title}”" in segment.text and segment.track == track.title and segment.artist == track.artist
        assert segment.cue.bpm == round(track.bpm) and segment.cue.key == track.key  # the bridge leads into it
    assert all(s.cue.track is None for s in script.segments if s.kind.value != "pick")
    without = write_script(maya, template, DATE, speaker="host", words_per_minute=160, settings=SETTINGS)
    assert all(s.cue.track is None for s in without.segments)  # no library: generated interludes


def test_llm_prompt_data_names_the_track_that_plays_next(library):
    from nightcast.generators.script import script_request
    from nightcast.generators.script.llm.prompts import segment_data
    from nightcast.generators.script.template_writer import TemplateWriter

    request = script_request(load_profile(PROFILES / "maya.yaml"), load_template("nightly-digest", TEMPLATES), DATE,
                             speaker="host", words_per_minute=160, settings=SETTINGS, library=library.tracks)
    plan = TemplateWriter(TEMPLATES).plan(request)
    data = [segment_data(request, plan, i)["pick"]["plays_next"] for i in range(len(plan.segments))]
    assert [d["title"] for d in data if d] == ["Peace Piece", "Feeling Good"]


# ---------------------------------------------------------------- placing and playing


def cue_for(track: TrackRef, bpm: int = 100) -> MusicCue:
    return MusicCue(prompt="p", style="jazz", mood="calm", bpm=bpm, key="A minor", duration_s=20, track=track)


@pytest.mark.parametrize("duration_s", [90.0, 30.0])
def test_track_enters_under_the_dj_on_the_bar_and_leaves_on_its_own_bar(duration_s):
    from nightcast.mix.timeline import place_track

    track = TrackRef(path="/t.wav", artist="A", title="T", duration_s=duration_s, bpm=100, key="A minor",
                     first_beat_s=0.3)
    mix = MixSettings(talk_over_s=6)
    bar = 2.4
    track_at, played = place_track(cue_for(track), 3.0, 20.0, 25.0, 2.0, mix)
    speech_end = 23.0
    assert speech_end - 6 - bar / 2 <= track_at < speech_end  # the DJ talks over the intro
    assert (track_at + track.first_beat_s) / bar == pytest.approx(round((track_at + 0.3) / bar), abs=1e-6)
    assert (played - track.first_beat_s) / bar == pytest.approx(round((played - 0.3) / bar), abs=1e-6)
    assert played + 2.0 <= duration_s  # the crossfade tail is still inside the track
    if duration_s == 90:
        assert played == pytest.approx(speech_end + 25 - track_at, abs=bar / 2)


def test_bed_is_the_bridge_then_the_track_at_the_planned_offset(library, tmp_path):
    from nightcast.audio import decode_audio, read_clip, subsonic_removed
    from nightcast.generators.music import make_music

    track = by_title(library)["Feeling Good"]
    clip = make_music(cue_for(track, bpm=110), 30.0, "s03-pick", tmp_path, generator="procedural", seed=3,
                      track_at_s=12.0, settings=SETTINGS)
    bed = read_clip(clip.path).samples.mean(axis=1)
    assert clip.duration_s == pytest.approx(30.0, abs=0.001)
    source = subsonic_removed(decode_audio(track.path, clip.sample_rate, 1)).samples[:, 0]  # as every bed is
    rate = clip.sample_rate
    after = bed[round(13.0 * rate): round(29.0 * rate)]  # past the one-beat handover
    assert np.corrcoef(after, source[round(1.0 * rate): round(17.0 * rate)])[0, 1] > 0.99
    assert np.abs(bed[: round(11.5 * rate)]).max() > 0.01  # the bridge plays before it
    assert np.corrcoef(bed[round(2 * rate): round(10 * rate)], source[: round(8 * rate)])[0, 1] < 0.5


# Two picks with 16 s of their tracks each, in a 90-second show: every check below hears a track's last 8 s.
PICKS_ONLY = [{"kind": "intro", "speech_s": 8, "music_s": 3}, {"kind": "pick", "speech_s": 8, "music_s": 16},
              {"kind": "pick", "speech_s": 8, "music_s": 16}, {"kind": "outro", "speech_s": 6, "music_s": 3}]


def test_episode_plays_library_tracks_where_the_manifest_says(library_dir, prefect_harness, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from nightcast.audio import decode_audio, subsonic_removed
    from nightcast.cli import app

    monkeypatch.setenv("NIGHTCAST_TEMPLATES_DIR", str(short_format(tmp_path, PICKS_ONLY)))
    result = CliRunner().invoke(app, ["render", str(PROFILES / "maya.yaml"), "--library", str(library_dir), "-t",
                                      "qa-check", "--out", str(tmp_path / "out"), "--date", DATE.isoformat()])
    assert result.exit_code == 0, result.output
    episode = tmp_path / "out" / "maya" / f"{DATE.isoformat()}-qa-check"
    manifest = json.loads((episode / "episode.json").read_text())
    assert [t["title"] for t in manifest["tracks"]] == ["Peace Piece", "Feeling Good"]
    audio = decode_audio(episode / "episode.mp3", 8000, 1).samples[:, 0]
    transcript = (episode / "transcript.vtt").read_text()
    for played in manifest["tracks"]:
        assert f"“{played['title']}”" in transcript
        # under 20 Hz is removed twice on the way, in the bed and in the master
        source = subsonic_removed(subsonic_removed(decode_audio(played["path"], 8000, 1))).samples[:, 0]
        end, start = round(played["end_s"] * 8000), round(played["start_s"] * 8000)
        window = slice(end - 8 * 8000, end)
        heard = audio[window]
        expected = source[window.start - start: window.stop - start]
        best = max(np.corrcoef(heard, np.roll(expected, lag))[0, 1] for lag in range(-80, 81, 8))
        assert best > 0.95, played["title"]  # the track itself, at the planned time (mp3 delay allowed)


def test_render_with_a_missing_library_fails_before_any_output(tmp_path):
    from typer.testing import CliRunner

    from nightcast.cli import app

    result = CliRunner().invoke(app, ["render", str(PROFILES / "maya.yaml"), "--library", str(tmp_path / "none"),
                                      "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "--library" in result.output and "not a folder" in result.output
    assert not (tmp_path / "out").exists()
