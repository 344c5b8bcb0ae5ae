"""The fact ledger: every sentence that states a fact about the listener rests on their data."""

from __future__ import annotations

import datetime as dt

import pytest

from nightcast.data_files import load_profile, load_template, template_names
from nightcast.generators.script import CoHost, write_script
from nightcast.generators.script.facts import ListenerData, claims_in, ungrounded
from nightcast.profile_store import FolderStore
from nightcast.schema import TrackRef
from nightcast.steering import steering_for, take_request

from helpers import DATE, PROFILES, SETTINGS

MAYA = load_profile(PROFILES / "maya.yaml")
DATA = ListenerData(profile=MAYA, today=DATE)


@pytest.mark.parametrize("sentence, grounded", [
    ("You put Miles Davis on your list of favourites, and honestly, good call.", False),  # history, not favourites
    ("You put Bill Evans on your list of favourites, and honestly, good call.", True),
    ("You've played “So What” 14 times, so I'm guessing it did something to you.", True),
    ("You've played “So What” 40 times, so I'm guessing it did something to you.", False),
    ("“Peace Piece” by Bill Evans is your most played song right now.", False),  # "So What" is
    ("“So What” by Miles Davis is your most played song right now.", True),
    ("You told me you're feeling reflective, so I've kept that close.", True),
    ("You told me you're feeling furious, so I've kept that close.", False),
    ("And since you're into astronomy, think of this as a soundtrack for it.", True),
    ("And since you're into surfing, think of this as a soundtrack for it.", False),
    ("You asked for more Alice Coltrane, so that's where we're headed.", False),  # no request was sent
    ("Yesterday you had “Peace Piece” on. Let's keep that thread going.", True),  # last played 2026-11-22
    ("Yesterday you had “So What” on. Let's keep that thread going.", False),  # 2026-11-21: two days ago
    ("Here's something in that spirit. Turn it up.", None),  # no claim at all
])
def test_a_claim_about_the_listener_is_grounded_only_by_their_data(sentence, grounded):
    claims = claims_in("s01", sentence, DATA)
    if grounded is None:
        assert claims == []
    else:
        assert claims and (not ungrounded(claims)) is grounded, claims


def test_a_request_grounds_what_the_host_says_about_it(tmp_path):
    store = FolderStore(PROFILES, tmp_path)
    take_request(store, MAYA, "more Alice Coltrane", "cli")
    data = ListenerData(profile=MAYA, steering=steering_for(store, "maya", "2026-11-23-x", DATE), today=DATE)
    [claim] = claims_in("s01", "You asked for more Alice Coltrane, so that's where we're headed.", data)
    assert claim.claim == "request" and claim.rests_on.startswith("request r-")


LIBRARY = [TrackRef(path=f"/m/{i}.mp3", artist=a, title=t, genre=g, duration_s=200, bpm=90, key="A minor")
           for i, (a, t, g) in enumerate([("Alice Coltrane", "Turiya and Ramakrishna", "Spiritual Jazz"),
                                          ("Pharoah Sanders", "Astral Traveling", "Spiritual Jazz"),
                                          ("Miles Davis", "So What", "Jazz"), ("Yussef Dayes", "Rust", "Jazz"),
                                          ("Bill Evans", "Peace Piece", "Jazz"), ("Nina Simone", "Sinnerman", "Soul")])]


@pytest.mark.parametrize("variant", ["profile", "library", "requests"])
def test_the_embedded_writer_states_no_ungrounded_fact_on_any_profile_date_or_format(variant, tmp_path):
    """3 profiles × 7 dates × every format: every listener fact the template writer states rests on data."""
    checked = 0
    for name in ("maya", "hiro", "dre"):
        profile = load_profile(PROFILES / f"{name}.yaml")
        steering = None
        if variant == "requests":
            store = FolderStore(PROFILES, tmp_path / name)
            take_request(store, profile, f"more {profile.favourite_artists[-1]}, keep the talking short", "cli")
            take_request(store, profile, "something calm", "api")
            steering = steering_for(store, profile.id, "x", DATE)
        for format_name in template_names(SETTINGS.templates_dir):
            template = load_template(format_name, SETTINGS.templates_dir)
            cohost = CoHost(voice="kai", name="Kai") if template.has_dialogue else None
            for day in range(7):
                script = write_script(profile, template, DATE + dt.timedelta(days=day), speaker="host",
                                      words_per_minute=150, settings=SETTINGS, cohost=cohost, steering=steering,
                                      library=LIBRARY if variant == "library" else None)
                assert not ungrounded(script.facts), [(c.segment_id, c.sentence) for c in ungrounded(script.facts)]
                checked += len(script.facts)
    assert checked > 150  # the ledger really holds the claims (a checker that finds none proves nothing)
