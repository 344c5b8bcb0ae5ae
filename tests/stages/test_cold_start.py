"""A new listener: a profile with no taste data (or one genre, one artist, one play) still gets a
whole, honest show. Starter picks fill what their data cannot, no sentence claims a fact their data
does not hold (the fact ledger), the first show says it is the first, and every such show invites a
like, a skip or a request."""

from __future__ import annotations

import pytest

from nightcast.data_files import load_template
from nightcast.generators.script import script_request, write_scripts
from nightcast.generators.script.facts import ungrounded
from nightcast.schema import ListenerProfile
from nightcast.settings import Settings

from helpers import DATE, TEMPLATES

NEW = {"id": "nova", "name": "Nova Reyes", "timezone": "Europe/Berlin"}
STARTER = {"Nina Simone", "Herbie Hancock", "A Tribe Called Quest", "Kraftwerk", "Nick Drake", "Fleetwood Mac",
           "Brian Eno", "Nujabes", "Erik Satie", "ABBA"}
INVITE = ("like or skip the picks", "a like, a skip or a request")


def script_for(profile: dict, template: str = "nightly-digest"):
    settings = Settings(memory_days=0)
    request = script_request(ListenerProfile.model_validate(profile), load_template(template, TEMPLATES), DATE,
                             speaker="host", words_per_minute=165, settings=settings, host_name="Sky")
    return write_scripts([request], settings)[0]


def said(script) -> str:
    return " ".join(s.text or " ".join(line.text for line in s.lines) for s in script.segments).lower()


@pytest.mark.parametrize("template", ["nightly-digest", "two-hosts", "morning-drive"])
@pytest.mark.parametrize("extra", [{}, {"favourite_genres": ["hip hop"]},
                                   {"history": [{"artist": "Bill Evans", "title": "Peace Piece", "plays": 3}]},
                                   {"favourite_artists": ["Björk"]}, {"locale": "ja-JP"}],
                         ids=["nothing", "one-genre", "one-play", "one-artist", "japan"])
def test_a_new_listener_gets_a_whole_show_that_claims_nothing_untrue(template, extra):
    script = script_for({**NEW, **extra}, template)
    assert ungrounded(script.facts) == [], [c.sentence for c in ungrounded(script.facts)]
    assert script.starter_picks, "their own data cannot fill a show: the starter taste does"
    assert all(s.word_count <= s.word_budget for s in script.segments)
    text = said(script)
    assert any(phrase in text for phrase in INVITE), "a show that does not know them asks them to steer it"
    for artist in script.starter_picks:  # never "your favourite" for a starter pick
        assert f"{artist.lower()} is one of your favourites" not in text
    if not extra or "favourite_genres" in extra:
        assert "first show" in text  # and says so
    if extra.get("locale") == "ja-JP":
        assert not set(script.starter_picks) & STARTER - {"Nujabes"}  # the locale's own starter list


def test_one_artist_of_their_own_gets_one_pick_not_the_whole_show():
    script = script_for({**NEW, "favourite_artists": ["Björk"]})
    picks = [s.artist for s in script.segments if s.kind == "pick"]
    assert picks.count("Björk") == 1 and len(picks) > 1
    assert "Björk" not in script.starter_picks


def test_a_listener_with_taste_hears_no_starter_picks_and_no_invitation():
    from helpers import PROFILES

    import yaml

    script = script_for(yaml.safe_load((PROFILES / "maya.yaml").read_text()))
    assert script.starter_picks == []
    assert not any(phrase in said(script) for phrase in INVITE) and "first show" not in said(script)


def test_what_an_llm_is_told_about_a_starter_pick():
    from nightcast.generators.script.llm.prompts import segment_data
    from nightcast.generators.script.template_writer import TemplateWriter

    settings = Settings(memory_days=0)
    request = script_request(ListenerProfile.model_validate(NEW), load_template("nightly-digest", TEMPLATES), DATE,
                             speaker="host", words_per_minute=165, settings=settings, host_name="Sky")
    plan = TemplateWriter(TEMPLATES).plan(request)
    index = next(i for i, p in enumerate(plan.segments) if p.segment.kind == "pick")
    data = segment_data(request, plan, index)
    assert data["pick"]["starter"] is True and data["pick"]["is_favourite"] is False
    assert data["listener"]["getting_to_know"] is True and data["listener"]["first_show"] is True
