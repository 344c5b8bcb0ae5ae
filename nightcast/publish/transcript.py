"""What the DJ says, timed: WebVTT and SRT cues, one per sentence, at their place in the episode."""

from __future__ import annotations

from nightcast.schema import Script, SpeechClip, TimedText, Timeline


def _stamp(seconds: float, separator: str = ".") -> str:
    ms = round(seconds * 1000)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{ms:03d}"


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


def labelled_sentences(script: Script, speech: list[SpeechClip], timeline: Timeline,
                       names: dict[str, str] | None = None) -> list[tuple[str, TimedText]]:
    """(who says it, sentence) for readers: the on-air name where two voices alternate, "" with one voice."""
    sentences = timed_sentences(script, speech, timeline)
    several = len({speaker for speaker, _ in sentences}) > 1
    return [((names or {}).get(speaker, speaker) if several else "", sentence) for speaker, sentence in sentences]


def srt(script: Script, speech: list[SpeechClip], timeline: Timeline, names: dict[str, str] | None = None) -> str:
    """SubRip: the same cues, the speaker's on-air name in front where there are two voices."""
    blocks = []
    for index, (label, sentence) in enumerate(labelled_sentences(script, speech, timeline, names), start=1):
        who = f"{label}: " if label else ""
        blocks.append(f"{index}\n{_stamp(sentence.start_s, ',')} --> {_stamp(sentence.end_s, ',')}\n{who}{sentence.text}\n")
    return "\n".join(blocks)
