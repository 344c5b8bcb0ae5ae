"""What a podcast app gets: the listener's feed (read by feedparser and podcastparser, as apps do),
and the episode MP3's own chapters and cover art (read back with mutagen)."""

from __future__ import annotations

import io
import json
from pathlib import Path
from urllib.parse import urlparse
from xml.etree import ElementTree as ET

import pytest

from helpers import PROFILES

PUBLIC = "http://localhost:8000"


def on_disk(url: str, outputs: Path) -> Path:
    """Where a static file server rooted at outputs_dir finds a feed URL."""
    assert url.startswith(PUBLIC + "/")
    return outputs / urlparse(url).path.lstrip("/")


@pytest.fixture(scope="module")
def maya_feed(rendered) -> tuple[Path, bytes]:
    listener_dir = rendered["maya-two-hosts"].parent
    assert rendered["maya"].parent == listener_dir  # maya has two episodes: nightly-digest and duo-check (two hosts)
    return listener_dir, (listener_dir / "feed.xml").read_bytes()


def test_feed_parses_in_feedparser_with_enclosures_chapters_and_transcripts(maya_feed):
    import feedparser

    listener_dir, xml = maya_feed
    outputs = listener_dir.parent
    feed = feedparser.parse(xml)
    assert not feed.bozo, feed.bozo_exception
    assert feed.feed.title == "nightcast for Maya Okafor" and feed.feed.language == "en-US"
    assert {e.id for e in feed.entries} == {"nightcast:maya:2026-11-23-nightly-digest", "nightcast:maya:2026-11-23-duo-check"}
    for entry in feed.entries:
        page = on_disk(entry.link, outputs)
        assert page.name == "index.html" and page.is_file()  # the episode page
        folder = page.parent
        manifest = json.loads((folder / "episode.json").read_text())
        (enclosure,) = entry.enclosures
        audio = on_disk(enclosure.href, outputs)
        assert audio == folder / "episode.mp3" and int(enclosure.length) == audio.stat().st_size
        assert enclosure.type == "audio/mpeg"
        h, m, s = map(int, entry.itunes_duration.split(":"))
        assert h * 3600 + m * 60 + s == round(manifest["duration_s"])
        chapters = json.loads(on_disk(entry.podcast_chapters["url"], outputs).read_text())
        assert [c["title"] for c in chapters["chapters"]] == [c["title"] for c in manifest["chapters"]]
        assert entry.podcast_chapters["type"] == "application/json+chapters"
        assert entry.published == "Mon, 23 Nov 2026 23:15:00 -0600"  # when Maya presses play, her time
    raw = ET.fromstring(xml)
    ns = {"podcast": "https://podcastindex.org/namespace/1.0"}
    for item in raw.iter("item"):
        kinds = {t.get("type"): on_disk(t.get("url"), outputs) for t in item.findall("podcast:transcript", ns)}
        assert set(kinds) == {"text/vtt", "application/x-subrip"}
        assert kinds["text/vtt"].read_text().startswith("WEBVTT") and kinds["application/x-subrip"].is_file()


def test_feed_parses_in_podcastparser_as_podcast_apps_read_it(maya_feed):
    import podcastparser

    listener_dir, xml = maya_feed
    parsed = podcastparser.parse(f"{PUBLIC}/maya/feed.xml", io.BytesIO(xml))
    assert parsed["title"] == "nightcast for Maya Okafor"
    assert parsed["cover_url"].endswith("/cover.png")
    assert len(parsed["episodes"]) == 2
    for episode in parsed["episodes"]:
        (enclosure,) = episode["enclosures"]
        assert enclosure["mime_type"] == "audio/mpeg" and enclosure["file_size"] > 100_000
        assert on_disk(enclosure["url"], listener_dir.parent).is_file()
        assert episode["guid"].startswith("nightcast:maya:")
        manifest = json.loads((listener_dir / episode["guid"].split(":")[-1] / "episode.json").read_text())
        assert episode["total_time"] == round(manifest["duration_s"]) > 120
        assert "Why " in episode["description"]  # the "why this pick" notes


def test_feed_is_rebuilt_atomically_and_keeps_guids_when_an_episode_is_rendered_again(maya_feed, tmp_path):
    import feedparser

    from nightcast.data_files import load_profile
    from nightcast.episode_store import EpisodeStore
    from nightcast.publish.feed import write_feed

    listener_dir, xml = maya_feed
    before = {e.id: e.enclosures[0].href for e in feedparser.parse(xml).entries}
    in_progress = listener_dir / ".building-2026-11-24-nightly-digest-x"  # a render in progress is not listed
    in_progress.mkdir()
    try:
        path = write_feed(EpisodeStore(listener_dir.parent), load_profile(PROFILES / "maya.yaml"), PUBLIC)
    finally:
        in_progress.rmdir()
    after = {e.id: e.enclosures[0].href for e in feedparser.parse(path.read_bytes()).entries}
    assert after == before
    assert not list(listener_dir.glob(".feed.xml*"))  # no temp file left behind


def test_mp3_carries_id3_chapters_matching_chapters_json_and_the_cover(rendered):
    from mutagen.id3 import ID3

    episode = rendered["maya"]
    tag = ID3(str(episode / "episode.mp3"))
    chapters = json.loads((episode / "chapters.json").read_text())["chapters"]
    frames = sorted(tag.getall("CHAP"), key=lambda f: f.start_time)
    assert len(frames) == len(chapters)
    for frame, chapter in zip(frames, chapters):
        assert frame.start_time == pytest.approx(chapter["startTime"] * 1000, abs=1)
        assert frame.end_time == pytest.approx(chapter["endTime"] * 1000, abs=1)
        assert frame.sub_frames["TIT2"].text[0] == chapter["title"]
    (toc,) = tag.getall("CTOC")
    assert list(toc.child_element_ids) == [f.element_id for f in frames]
    (cover,) = tag.getall("APIC")
    assert cover.mime == "image/png" and cover.data == (episode / "cover.png").read_bytes()


def test_cover_is_square_podcast_size_and_its_palette_follows_the_mood(tmp_path):
    import datetime as dt

    from PIL import Image

    from nightcast.publish.cover import make_cover

    calm = make_cover(tmp_path / "calm.png", show="A Very Long Show Title That Must Still Fit", listener_first_name="Maya",
                      date=dt.date(2026, 11, 23), mood="calm")
    happy = make_cover(tmp_path / "happy.png", show="Show", listener_first_name="Maya", date=dt.date(2026, 11, 23),
                       mood="happy")
    with Image.open(calm) as a, Image.open(happy) as b:
        assert a.size == (1400, 1400) and a.format == "PNG"
        assert a.getpixel((5, 5)) != b.getpixel((5, 5))


def test_srt_transcript_names_both_hosts_in_a_two_host_episode(rendered):
    srt = (rendered["maya-two-hosts"] / "transcript.srt").read_text()
    assert srt.startswith("1\n00:00:0") and " --> " in srt and "," in srt.splitlines()[1]
    cohost = json.loads((rendered["maya-two-hosts"] / "episode.json").read_text())["backends"]["cohost-speech"]["model"]
    assert "Sky: " in srt and f"{cohost.capitalize()}: " in srt  # Kumo with the kokoro extra, else Kai


def test_episode_page_links_its_files_and_lists_chapters_cues_and_notes(rendered):
    from html.parser import HTMLParser

    class Page(HTMLParser):
        def __init__(self):
            super().__init__()
            self.links, self.chapter_starts, self.cue_starts, self.scripts = [], [], [], 0

        def handle_starttag(self, tag, attrs):
            attrs = dict(attrs)
            for name in ("src", "href"):
                if attrs.get(name):
                    self.links.append(attrs[name])
            if tag == "button" and "seek" in attrs.get("class", ""):
                self.chapter_starts.append(float(attrs["data-start"]))
            if tag == "p" and "data-start" in attrs:
                self.cue_starts.append(float(attrs["data-start"]))
            self.scripts += tag == "script"

    episode = rendered["maya-two-hosts"]
    page = Page()
    page.feed((episode / "index.html").read_text())
    for link in page.links:
        assert (episode / link).resolve().is_file(), link  # player, cover, waveform, feed, transcript, chapters
    assert "episode.mp3" in page.links and "waveform.png" in page.links and "../feed.xml" in page.links
    chapters = json.loads((episode / "chapters.json").read_text())["chapters"]
    assert page.chapter_starts == [pytest.approx(c["startTime"], abs=0.01) for c in chapters]
    vtt_cues = (episode / "transcript.vtt").read_text().count(" --> ")
    assert len(page.cue_starts) == vtt_cues and page.cue_starts == sorted(page.cue_starts)
    html = (episode / "index.html").read_text()
    assert "Why these picks" in html and "plays of" in html and page.scripts == 1


def test_waveform_image_shows_the_loudness_against_the_target(rendered):
    from PIL import Image

    with Image.open(rendered["maya"] / "waveform.png") as image:
        assert image.size == (1200, 260)
        colours = {c for _, c in image.getcolors(maxcolors=100_000)}
    assert (250, 200, 90) in colours and (200, 90, 90) in colours  # the loudness curve and the target line
