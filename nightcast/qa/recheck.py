"""`nightcast qa EPISODE_DIR`: the same checks on an episode already on disk, from its own files."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from nightcast.data_files import load_template
from nightcast.episode_store import EPISODE_FILES, write_text_atomic
from nightcast.errors import InputError
from nightcast.qa.gate import check_episode
from nightcast.schema import EpisodeManifest, QAReport, Script
from nightcast.settings import Settings
from nightcast.voices.presets import load_preset


def recheck_episode(episode_dir: Path, settings: Settings) -> QAReport:
    """Checks the episode and rewrites its qa.json; bad or incomplete folders raise InputError."""
    episode_dir = Path(episode_dir)
    try:
        manifest = EpisodeManifest.model_validate_json((episode_dir / EPISODE_FILES["manifest"]).read_bytes())
        script = Script.model_validate_json((episode_dir / manifest.files["script"]).read_bytes())
    except FileNotFoundError as exc:
        raise InputError(f"not a rendered episode: {Path(exc.filename).name} is missing", source=str(episode_dir)) from None
    except (ValidationError, ValueError) as exc:
        raise InputError(f"unreadable episode files: {str(exc).splitlines()[0]}", source=str(episode_dir)) from None
    audio = episode_dir / manifest.files["audio"]
    if not audio.is_file():
        raise InputError(f"{audio.name} is missing", source=str(episode_dir))
    if not manifest.speech:
        raise InputError("episode.json has no speech timings (rendered before nightcast had QA): render it again",
                         source=str(episode_dir))
    template = load_template(manifest.template_id, settings.templates_dir)
    voices = {segment.speaker for segment in script.segments}
    words_per_minute = {}
    for voice in voices:
        try:
            words_per_minute[voice] = load_preset(voice, settings.presets_dir).words_per_minute
        except InputError:
            pass  # a preset since removed: the checks fall back to a typical rate
    report = check_episode(audio, script, manifest.speech, template, words_per_minute, settings.qa)
    write_text_atomic(episode_dir / manifest.files.get("qa", EPISODE_FILES["qa"]), report.model_dump_json(indent=2))
    return report
