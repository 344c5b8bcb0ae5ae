"""What this listener's recent episodes said and played, read back from their script.json files.

Writers use it to avoid repeating picks, stories and phrasings inside a window, and to call back
to an earlier show ("last night we had …").
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nightcast.episode_store import EpisodeStore
from nightcast.schema import Script
from nightcast.text import sentence_key, split_sentences


class EpisodeMemory(BaseModel):
    model_config = ConfigDict(frozen=True)
    today: dt.date
    episodes: list[Script] = []  # newest first, all before `today`

    @property
    def last(self) -> Script | None:
        return self.episodes[0] if self.episodes else None

    def recent_artists(self) -> list[str]:
        """Artists featured recently, most recent first."""
        seen: list[str] = []
        for script in self.episodes:
            for segment in script.segments:
                if segment.artist and segment.artist not in seen:
                    seen.append(segment.artist)
        return seen

    def last_featured(self, artist: str) -> dt.date | None:
        for script in self.episodes:
            if any(segment.artist == artist for segment in script.segments):
                return script.date
        return None

    def said_keys(self) -> dict[str, dt.date]:
        """Every sentence said in the window (by sentence_key), with the last date it was said."""
        said: dict[str, dt.date] = {}
        for script in reversed(self.episodes):  # oldest first, so newer dates win
            for segment in script.segments:
                said.update((sentence_key(s), script.date) for s in split_sentences(segment.text))
        return said

    def recent_lines(self, limit: int = 12) -> list[str]:
        """A sample of what was said lately, newest first, for an LLM's "do not repeat" list."""
        lines = [s for script in self.episodes for seg in script.segments for s in split_sentences(seg.text)]
        return lines[:limit]

    def when(self, day: dt.date, daypart: str) -> str:
        """How a host would say when that episode was: 'last night', 'on Tuesday', 'last week'."""
        days = (self.today - day).days
        if days <= 1:
            return "last night" if daypart in ("night", "evening") else "yesterday"
        if days < 7:
            return f"on {day:%A}"
        return "last week" if days < 14 else "a while back"


def recall(outputs_dir: Path, listener_id: str, today: dt.date, days: int) -> EpisodeMemory:
    """This listener's published scripts from the `days` before `today`, newest first.

    Unreadable or invalid scripts are skipped with a warning: memory is a nicety, never a reason
    for a render to fail.
    """
    if days <= 0:
        return EpisodeMemory(today=today)
    scripts = EpisodeStore(Path(outputs_dir)).past_scripts(listener_id, today - dt.timedelta(days=days), today)
    return EpisodeMemory(today=today, episodes=scripts)
