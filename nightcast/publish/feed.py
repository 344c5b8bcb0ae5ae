"""One podcast feed per listener: RSS 2.0 with the iTunes and Podcasting 2.0 namespaces.

`DIR/<listener_id>/feed.xml` lists every finished episode in that folder (newest first), with
absolute URLs under `public_url` (wherever `outputs_dir` is served from: any static file server).
GUIDs are stable (listener + episode id), so re-rendering an episode updates it in place in
podcast apps instead of adding a duplicate. The feed is rewritten atomically after each render.
"""

from __future__ import annotations

import datetime as dt
import os
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote
from xml.etree import ElementTree as ET

from nightcast import __version__
from nightcast.episode_store import FEED_FILE, EpisodeStore
from nightcast.schema import EpisodeManifest, ListenerProfile, Script

NAMESPACES = {
    "itunes": "http://www.itunes.com/dtds/podcast-1.0.dtd",
    "podcast": "https://podcastindex.org/namespace/1.0",
    "atom": "http://www.w3.org/2005/Atom",
}
AUDIO_TYPES = {".mp3": "audio/mpeg", ".m4a": "audio/mp4", ".opus": "audio/ogg"}
for _prefix, _uri in NAMESPACES.items():
    ET.register_namespace(_prefix, _uri)


def _q(prefix: str, name: str) -> str:
    return f"{{{NAMESPACES[prefix]}}}{name}"


def _sub(parent: ET.Element, tag: str, content: str | None = None, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    if content is not None:
        element.text = content
    return element


def _duration(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def show_notes(manifest: EpisodeManifest, script: Script) -> str:
    """The episode's description: what is in it and why each pick is there."""
    lines = [f"{manifest.title}. A {manifest.duration_s / 60:.0f}-minute episode made for {manifest.listener_name}."]
    lines += [f"Why {segment.notes}" for segment in script.segments if segment.notes]
    lines += [f"Plays “{t.title}” by {t.artist}." for t in manifest.tracks]
    return "\n".join(lines)


def build_feed(store: EpisodeStore, profile: ListenerProfile, public_url: str) -> bytes:
    base = f"{public_url.rstrip('/')}/{quote(profile.id)}"
    episodes = [(e.folder, e.manifest, e.script) for e in store.finished(profile.id)]
    rss = ET.Element("rss", {"version": "2.0"})
    channel = _sub(rss, "channel")
    _sub(channel, "title", f"nightcast for {profile.name}")
    _sub(channel, "link", f"{base}/")
    _sub(channel, "description", f"A personal radio show and podcast, made each day for {profile.name} "
                                 f"from the music they play.")
    _sub(channel, "language", profile.locale)
    _sub(channel, "generator", f"nightcast {__version__}")
    _sub(channel, "lastBuildDate", format_datetime(dt.datetime.now(dt.timezone.utc)))
    _sub(channel, _q("atom", "link"), href=f"{base}/{FEED_FILE}", rel="self", type="application/rss+xml")
    _sub(channel, _q("itunes", "author"), "nightcast")
    _sub(channel, _q("itunes", "summary"), f"Made for {profile.name}.")
    _sub(channel, _q("itunes", "explicit"), "false")
    _sub(channel, _q("itunes", "type"), "episodic")
    _sub(channel, _q("itunes", "category"), **{"text": "Music"})
    _sub(channel, _q("podcast", "locked"), "yes")  # a private feed: no directory may import it
    if episodes:
        folder, manifest, _ = episodes[0]
        if "cover" in manifest.files:
            cover = f"{base}/{quote(folder.name)}/{manifest.files['cover']}"
            _sub(channel, _q("itunes", "image"), href=cover)
            image = _sub(channel, "image")
            _sub(image, "url", cover)
            _sub(image, "title", f"nightcast for {profile.name}")
            _sub(image, "link", f"{base}/")
    for folder, manifest, script in episodes:
        url = f"{base}/{quote(folder.name)}"
        audio = folder / manifest.files["audio"]
        item = _sub(channel, "item")
        _sub(item, "title", manifest.title)
        _sub(item, "description", show_notes(manifest, script))
        _sub(item, "link", f"{url}/" + (manifest.files.get("page") or ""))
        _sub(item, "guid", f"nightcast:{profile.id}:{manifest.episode_id}", isPermaLink="false")
        published = dt.datetime.combine(script.date, script.local_time, tzinfo=profile.tz())
        _sub(item, "pubDate", format_datetime(published))
        _sub(item, "enclosure", url=f"{url}/{manifest.files['audio']}", length=str(audio.stat().st_size),
             type=AUDIO_TYPES.get(audio.suffix, "audio/mpeg"))
        _sub(item, _q("itunes", "duration"), _duration(manifest.duration_s))
        _sub(item, _q("itunes", "episodeType"), "full")
        _sub(item, _q("itunes", "explicit"), "false")
        if "cover" in manifest.files:
            _sub(item, _q("itunes", "image"), href=f"{url}/{manifest.files['cover']}")
        _sub(item, _q("podcast", "chapters"), url=f"{url}/{manifest.files['chapters']}", type="application/json+chapters")
        _sub(item, _q("podcast", "transcript"), url=f"{url}/{manifest.files['transcript']}", type="text/vtt")
        if "transcript_srt" in manifest.files:
            _sub(item, _q("podcast", "transcript"), url=f"{url}/{manifest.files['transcript_srt']}",
                 type="application/x-subrip")
    ET.indent(rss)
    return ET.tostring(rss, encoding="utf-8", xml_declaration=True)


def write_feed(store: EpisodeStore, profile: ListenerProfile, public_url: str) -> Path:
    """Rebuild the listener's feed from the episodes on disk, atomically, one rebuild at a time."""
    path = store.feed_path(profile.id)
    with store.feed_writer(profile.id):
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        tmp.write_bytes(build_feed(store, profile, public_url))
        os.replace(tmp, path)
    return path
