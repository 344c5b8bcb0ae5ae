"""Chapters from the timeline: Podcasting 2.0 JSON chapters (and the same list for ID3 CHAP frames)."""

from __future__ import annotations

from nightcast.schema import Chapter, Script, Timeline


def chapters_for(script: Script, timeline: Timeline) -> list[Chapter]:
    titles = {s.id: s.title for s in script.segments}
    return [
        Chapter(start_s=e.start_s, end_s=e.end_s, title=titles[e.segment_id], segment_id=e.segment_id)
        for e in timeline.entries
    ]


def podcasting20_chapters(chapters: list[Chapter]) -> dict:
    """JSON chapters per the Podcasting 2.0 spec (version 1.2.0)."""
    return {
        "version": "1.2.0",
        "chapters": [
            {"startTime": round(c.start_s, 3), "endTime": round(c.end_s, 3), "title": c.title} for c in chapters
        ],
    }
