"""The episode page (`index.html` in the episode folder): player, chapters as timestamps that seek,
the transcript following playback, the "why this pick" notes and the waveform/loudness image.

Static and self-contained (inline CSS and script, relative links), so any static server, or the
file opened from disk, shows it. Everything shown comes from the episode's own files, escaped.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from nightcast.episode_store import write_text_atomic
from nightcast.publish.transcript import labelled_sentences
from nightcast.schema import Chapter, Loudness, Script, SpeechClip, Timeline

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("nightcast.publish", "assets"),
                          autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)


def clock(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}" if whole >= 3600 else f"{whole // 60}:{whole % 60:02d}"


def render_page(*, script: Script, speech: list[SpeechClip], timeline: Timeline, chapters: list[Chapter],
                loudness: Loudness, files: dict[str, str], listener: str, show: str, language: str = "en",
                speaker_names: dict[str, str] | None = None) -> str:
    return _ENV.get_template("episode.html.j2").render(
        title=script.title, show=show, listener=listener, language=language.split("-")[0], files=files,
        duration=clock(timeline.duration_s),
        loudness=f"{loudness.integrated_lufs:.1f} LUFS, {loudness.true_peak_dbtp:.1f} dBTP",
        chapters=[{"start_s": round(c.start_s, 3), "end_s": round(c.end_s, 3), "title": c.title,
                   "clock": clock(c.start_s)} for c in chapters],
        notes=[{"segment": s.id, "text": s.notes} for s in script.segments if s.notes],
        cues=[{"start_s": round(t.start_s, 3), "end_s": round(t.end_s, 3), "text": t.text, "clock": clock(t.start_s),
               "who": who} for who, t in labelled_sentences(script, speech, timeline, speaker_names)],
    )


def with_feedback(page: str, endpoint: str, token: str) -> str:
    """The episode page as the API serves it to the listener it belongs to: like / skip / never on each
    pick's note, posting to the feedback endpoint with their token. The page on disk stays static."""
    controls = _ENV.get_template("feedback.html.j2").render(config={"endpoint": endpoint, "token": token})
    head, body_end, tail = page.rpartition("</body>")
    return f"{head}{controls}\n{body_end}{tail}" if body_end else page + controls


def write_page(episode_dir: Path, **facts) -> Path:
    path = Path(episode_dir) / facts["files"]["page"]
    write_text_atomic(path, render_page(**facts))
    return path
