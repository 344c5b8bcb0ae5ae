"""What the DJ says, timed: WebVTT cues, one per sentence, at their place in the episode."""

from __future__ import annotations

from nightcast.schema import Script, SpeechClip, Timeline, TimedText


def _stamp(seconds: float) -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


def timed_sentences(script: Script, speech: list[SpeechClip], timeline: Timeline) -> list[tuple[str, TimedText]]:
    """(speaker, sentence with absolute episode times), in episode order."""
    clips = {c.segment_id: c for c in speech}
    speakers = {s.id: s.speaker for s in script.segments}
    out = []
    for entry in timeline.entries:
        clip = clips.get(entry.segment_id)
        for sentence in clip.sentences if clip else []:
            out.append((sentence.speaker or speakers[entry.segment_id], TimedText(
                start_s=entry.speech_start_s + sentence.start_s,
                end_s=entry.speech_start_s + sentence.end_s,
                text=sentence.text,
                speaker=sentence.speaker,
            )))
    return out


def webvtt(script: Script, speech: list[SpeechClip], timeline: Timeline) -> str:
    lines = ["WEBVTT", ""]
    for index, (speaker, sentence) in enumerate(timed_sentences(script, speech, timeline), start=1):
        text = sentence.text.replace("-->", "->")
        lines += [str(index), f"{_stamp(sentence.start_s)} --> {_stamp(sentence.end_s)}", f"<v {speaker}>{text}", ""]
    return "\n".join(lines)
