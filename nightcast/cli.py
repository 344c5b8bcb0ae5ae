"""`nightcast` command line: render, validate, templates, voices.

Bad input exits 2 with one line naming the file and field, before anything is written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from nightcast.episode_store import EPISODE_FILES
from nightcast.errors import InputError, NightcastError
from nightcast.render.request import OUT_DIR_HELP, Backends, RenderRequest, help_for
from nightcast.settings import CLI_OPTIONS, Settings

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Personalized radio-DJ and podcast episodes.")
out = Console()
err = Console(stderr=True)


def _fail_input(exc: InputError) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.command()
def render(
    profile: Annotated[Path, typer.Argument(help=help_for("listener"))],
    template: Annotated[Optional[str], typer.Option("--template", "-t", help=help_for("template"))] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help=OUT_DIR_HELP)] = None,
    date: Annotated[Optional[str], typer.Option("--date", help=help_for("date"))] = None,
    writer: Annotated[Optional[str], typer.Option("--writer", help=help_for("writer"))] = None,
    writer_model: Annotated[Optional[str], typer.Option("--writer-model", help=help_for("writer_model"))] = None,
    writer_url: Annotated[Optional[str], typer.Option("--writer-url", help=help_for("writer_url"))] = None,
    voice: Annotated[Optional[str], typer.Option("--voice", help=help_for("voice"))] = None,
    music: Annotated[Optional[str], typer.Option("--music", help=help_for("music"))] = None,
    music_model: Annotated[Optional[str], typer.Option("--music-model", help=help_for("music_model"))] = None,
    stems: Annotated[Optional[Path], typer.Option("--stems", help=help_for("music_stems"))] = None,
    library: Annotated[Optional[Path], typer.Option("--library", help=help_for("music_library"))] = None,
    audio_format: Annotated[Optional[str], typer.Option("--format", help=help_for("audio_format"))] = None,
    qa: Annotated[Optional[bool], typer.Option("--qa/--no-qa", help=help_for("qa"))] = None,
    listener_request: Annotated[Optional[str], typer.Option("--request", help=help_for("request"))] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")] = False,
) -> None:
    """Render an episode through the Prefect flow and print where it is."""
    from nightcast.render.job import parse_date_option, prepare_render

    try:
        try:
            backends = Backends(writer=writer, writer_model=writer_model, writer_url=writer_url, voice=voice, music=music,
                                music_model=music_model, music_stems=str(stems) if stems else None,
                                music_library=str(library) if library else None, audio_format=audio_format)
            request = RenderRequest(listener=str(profile), template=template, date=parse_date_option(date),
                                    backends=backends, qa=qa, request=listener_request)
        except ValidationError as exc:
            error = exc.errors()[0]
            raise InputError(error["msg"], source=CLI_OPTIONS.get(str(error["loc"][0]), f"--{error['loc'][0]}")) from None
        outputs = str(out_dir) if out_dir else None
        settings = request.settings(outputs)
        job = prepare_render(request.listener, request.template, request.date, settings)
    except InputError as exc:
        _fail_input(exc)
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from nightcast.cli_progress import StageProgress
    from nightcast.flows.prefect_server import prefect_api

    with (StageProgress(out, f"{job.profile.name} · {job.template.title} · {job.date}"),
          prefect_api(while_starting=partial(import_module, "nightcast.flows.episode"))):
        from nightcast.flows.episode import render_episode

        try:  # the template and date as resolved, so a render that starts at midnight keeps its date
            render_episode(**request.model_copy(update={"template": job.template.id, "date": job.date}).model_dump(),
                           out_dir=outputs)
        except InputError as exc:
            _fail_input(exc)
        except NightcastError as exc:
            err.print(f"[bold red]render failed:[/] {exc}", highlight=False)
            raise typer.Exit(1)
    data = json.loads((job.episode_dir / EPISODE_FILES["manifest"]).read_text())
    loud = data["loudness"]
    out.print(f"[green]✓[/] {data['title']}: {data['duration_s'] / 60:.1f} min, "
              f"{loud['integrated_lufs']:.1f} LUFS, {loud['true_peak_dbtp']:.1f} dBTP")
    _print_writing(data)
    out.print(f"episode: {job.episode_dir / data['files']['audio']}", highlight=False)
    out.print(f"feed:    {job.store.feed_path(job.profile.id)}", highlight=False)


def _print_writing(manifest: dict) -> None:
    """Say who wrote the script, and loudly when an LLM's segments fell back."""
    script = manifest["backends"]["script"]
    fallbacks = manifest.get("writer_fallbacks", [])
    if script["name"] == "template" and not fallbacks:
        return
    written = manifest.get("segment_writers", {})
    by_llm = sum(1 for w in written.values() if w != "template")
    model = f" ({script['model']})" if script.get("model") else ""
    out.print(f"script: {script['name']}{model} wrote {by_llm} of {len(written)} segments", highlight=False)
    for fallback in fallbacks:
        _warn_fallback(fallback)


def _warn_fallback(fallback: dict) -> None:
    where = fallback["segment_id"] or "whole script"
    err.print(f"[yellow]fallback[/] {where} → {fallback['used']}: {fallback['reason']}", highlight=False, soft_wrap=True)


@app.command()
def script(
    profiles: Annotated[list[Path], typer.Argument(help="Listener profile YAML files (written as one batch).")],
    template: Annotated[Optional[str], typer.Option("--template", "-t")] = None,
    date: Annotated[Optional[str], typer.Option("--date", help="YYYY-MM-DD (default: today, listener's time zone).")] = None,
    writer: Annotated[Optional[str], typer.Option("--writer")] = None,
    writer_model: Annotated[Optional[str], typer.Option("--writer-model")] = None,
    writer_url: Annotated[Optional[str], typer.Option("--writer-url")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the Script JSON instead of the readable script.")] = False,
) -> None:
    """Write scripts only (no audio), batched across listeners: for iterating on prompts and writers."""
    from nightcast.generators.script import script_request, write_scripts
    from nightcast.render.job import prepare_render

    try:
        settings = Settings.from_env(writer=writer, writer_model=writer_model, writer_url=writer_url)
        jobs = [prepare_render(p, template, date, settings) for p in profiles]
    except InputError as exc:
        _fail_input(exc)
    requests = [script_request(j.profile, j.template, j.date, speaker=j.preset.id,
                               words_per_minute=j.preset.words_per_minute, settings=settings) for j in jobs]
    with out.status(f"writing {len(requests)} script(s) with {settings.writer}"):
        scripts = write_scripts(requests, settings)
    for written in scripts:
        if as_json:
            print(written.model_dump_json(indent=2))
            continue
        out.rule(f"{written.title} · {written.writer}{f' ({written.writer_model})' if written.writer_model else ''}")
        for segment in written.segments:
            out.print(f"[bold]{segment.title}[/] [dim]{segment.id} · {segment.speaker} · "
                      f"{segment.word_count}/{segment.word_budget} words · {segment.written_by}[/]", highlight=False)
            out.print(segment.text or "[dim](music only)[/]", highlight=False)
        for fallback in written.fallbacks:
            _warn_fallback(fallback.model_dump())


@app.command()
def validate(profile: Annotated[Path, typer.Argument(help="Listener profile YAML.")],
             template: Annotated[Optional[str], typer.Option("--template", "-t")] = None) -> None:
    """Check a profile, and the template and voice it names, without rendering."""
    from nightcast.data_files import load_profile
    from nightcast.render.job import prepare_render

    try:
        listener = load_profile(profile)
        checked = ""
        if template or listener.template:
            job = prepare_render(profile, template, None, Settings.from_env())
            checked = f"; template {job.template.id}, voice {job.preset.id}"
    except InputError as exc:
        _fail_input(exc)
    out.print(f"[green]✓[/] {profile}: {listener.name} ({listener.id}), {len(listener.favourite_artists)} artists, "
              f"{len(listener.history)} history items{checked}", highlight=False)


@app.command()
def templates() -> None:
    """List episode formats."""
    from nightcast.data_files import load_template, template_names

    settings = Settings.from_env()
    table = Table("name", "title", "target", "segments", "description")
    for name in template_names(settings.templates_dir):
        try:
            t = load_template(name, settings.templates_dir)
        except InputError as exc:
            table.add_row(name, "[red]invalid[/]", "", "", str(exc))
            continue
        table.add_row(t.id, t.title, f"{t.target_duration_s / 60:.0f} min", str(len(t.expanded_slots())), t.description)
    out.print(table)


@app.command("music")
def music_preview(
    generator: Annotated[str, typer.Argument(help="Music generator: procedural, musicgen, stems.")],
    prompt: Annotated[str, typer.Option("--prompt", help="What it should sound like (MusicGen's text prompt).")] = "calm instrumental radio bed",
    bpm: Annotated[int, typer.Option("--bpm", min=40, max=200, help="Tempo.")] = 100,
    key: Annotated[str, typer.Option("--key", help='Key, e.g. "A minor" or "Eb major".')] = "A minor",
    seconds: Annotated[float, typer.Option("--seconds", min=1.0, max=300.0, help="Length of the transition.")] = 20.0,
    output: Annotated[Path, typer.Option("--output", "-o", help="WAV file to write.")] = Path("music.wav"),
    style: Annotated[Optional[str], typer.Option("--style", help="Style family (jazz, hiphop, lofi, …); default: from the prompt.")] = None,
    mood: Annotated[str, typer.Option("--mood", help="Mood word for the cue.")] = "calm",
    energy: Annotated[float, typer.Option("--energy", min=0.0, max=1.0, help="0 calm … 1 driving.")] = 0.5,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same music.")] = 0,
    model: Annotated[Optional[Path], typer.Option("--model", help="musicgen: a local MusicGen checkpoint directory.")] = None,
    stems: Annotated[Optional[Path], typer.Option("--stems", help="stems: a folder of drums/bass/other/vocals files.")] = None,
) -> None:
    """Render one transition alone, to audition a generator and its settings without an episode."""
    from nightcast.generators.music import GENERATORS, make_music
    from nightcast.schema import MusicCue
    from nightcast.styles import style_for

    try:
        try:
            GENERATORS.target(generator)
        except InputError as exc:
            raise InputError(exc.reason, source="GENERATOR") from None
        settings = Settings.from_env(music_model=str(model) if model else None, music_stems=stems)
        try:
            GENERATORS.load(generator).check(settings)
        except InputError as exc:  # this command calls the render's --music-model plain --model
            raise InputError(exc.reason, source="--model" if exc.source == "--music-model" else exc.source) from None
        try:
            cue = MusicCue(prompt=prompt, style=style or style_for(prompt), mood=mood, bpm=bpm, key=key,
                           duration_s=seconds, energy=energy)
        except ValidationError as exc:
            field = str(exc.errors()[0]["loc"][0])
            reason = (f"'{key}' is not a key like 'A minor' or 'Eb major'" if field == "key"
                      else exc.errors()[0]["msg"])
            raise InputError(reason, source=f"--{field}") from None
    except InputError as exc:
        _fail_input(exc)
    import time

    started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            clip = make_music(cue, seconds, "preview", Path(tmp), generator=generator, seed=seed, settings=settings)
            output.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(clip.path, output)
    except NightcastError as exc:
        err.print(f"[bold red]cannot make music:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    took = time.perf_counter() - started
    out.print(f"[green]✓[/] {output}: {clip.duration_s:.2f} s, {cue.bpm} bpm, {cue.key}, {cue.style} · {generator} "
              f"({clip.duration_s / took:.1f} s of audio per second)", highlight=False)


voices_app = typer.Typer(no_args_is_help=False, help="Voice presets: list them, or preview one.")
app.add_typer(voices_app, name="voices")


@voices_app.callback(invoke_without_command=True)
def voices(ctx: typer.Context) -> None:
    """List voice presets and whether each can run on this machine."""
    if ctx.invoked_subcommand is not None:
        return
    from nightcast.voices import load_engine
    from nightcast.voices.presets import load_preset, preset_names

    settings = Settings.from_env()
    table = Table("preset", "on air", "engine", "runs here", "voice")
    reasons: list[str] = []
    for name in preset_names(settings.presets_dir):
        try:
            preset = load_preset(name, settings.presets_dir)
        except InputError as exc:
            table.add_row(name, "", "?", "[red]invalid[/]", "")
            reasons.append(f"{name}: {exc}")
            continue
        try:
            load_engine(preset.engine, preset.model, preset.speaker)
            status = "[green]yes[/]"
        except NightcastError as exc:
            status = "[yellow]no[/]"
            reasons.append(f"{name}: {exc}")
        table.add_row(name, preset.host_name, preset.engine, status, preset.display_name.split(" — ")[-1])
    out.print(table)
    for reason in reasons:  # in full, outside the table, so a path or an install command is never cut
        out.print(f"[yellow]•[/] {reason}", highlight=False, soft_wrap=True)


@voices_app.command("say")
def voices_say(
    preset: Annotated[str, typer.Argument(help="Voice preset (see `nightcast voices`).")],
    text: Annotated[str, typer.Argument(help="What to say.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="WAV file to write.")] = Path("say.wav"),
    sample_rate: Annotated[int, typer.Option("--sample-rate", help="Output sample rate.")] = 44100,
) -> None:
    """Speak TEXT with a preset (its engine, rate, effects, pronunciations) into a WAV file."""
    from nightcast.audio import write_clip
    from nightcast.voices import speak
    from nightcast.voices.presets import load_preset

    try:
        try:
            chosen = load_preset(preset, Settings.from_env().presets_dir)
        except InputError as exc:
            raise InputError(exc.reason, source=exc.source if exc.source else "PRESET") from None
        if not text.strip():
            raise InputError("nothing to say", source="TEXT")
    except InputError as exc:
        _fail_input(exc)
    try:
        clip, sentences = speak(text, chosen, sample_rate)
    except NightcastError as exc:
        err.print(f"[bold red]cannot speak:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    write_clip(clip, output)
    out.print(f"[green]✓[/] {output}: {clip.duration_s:.1f} s, {len(sentences)} sentence(s), "
              f"{chosen.engine} · {chosen.display_name}", highlight=False)


@app.command("qa")
def qa_command(
    episode_dir: Annotated[Path, typer.Argument(help="A rendered episode's folder (with episode.json and script.json).")],
) -> None:
    """Re-run the QA checks (ASR word error rate per segment, loudness, peaks, clipping, silences,
    truncation) on a rendered episode; exit 0 when it passes, 1 when it fails, 2 for bad input."""
    from nightcast.qa.recheck import recheck_episode

    try:
        report = recheck_episode(episode_dir, Settings.from_env())
    except InputError as exc:
        _fail_input(exc)
    table = Table("check", "value", "needs", "result", title=f"QA · {episode_dir}")
    rows = [("", check) for check in report.checks]
    rows += [(f"{segment.segment_id}: ", check) for segment in report.segments for check in segment.checks]
    for prefix, check in rows:
        verdict = "[green]pass[/]" if check.passed else ("[red]FAIL[/]" if check.hard else "[yellow]warn[/]")
        table.add_row(prefix + check.name, "—" if check.value is None else f"{check.value:g}", check.threshold, verdict)
    out.print(table)
    failures = report.failures()
    out.print(f"[green]✓ passed[/] in {report.seconds + report.asr_seconds:.1f} s (ASR {report.asr_seconds:.1f} s)"
              if not failures else
              f"[red]✗ failed:[/] {', '.join(c.name for c in failures)}", highlight=False)
    raise typer.Exit(1 if failures else 0)


@app.command()
def deploy(
    serve: Annotated[bool, typer.Option("--serve", help="Run the deployments in this process (no work pool, no worker).")] = False,
) -> None:
    """Register the `render-episode`, `nightly` and heavy-stage deployments with the Prefect server (PREFECT_API_URL).

    Without --serve the flows go to the `cpu` work pool and the heavy stages (speech-stage/gpu,
    music-stage/gpu) to the `gpu` pool: start `prefect worker start --pool cpu`, and
    `prefect worker start --pool gpu` on GPU machines."""
    from nightcast.flows import deployments
    from nightcast.flows.prefect_server import prefect_api

    try:
        settings = Settings.from_env()
    except InputError as exc:
        _fail_input(exc)
    if serve:
        out.print(f"serving render-episode, nightly ({settings.nightly_cron}, {settings.timezone}) and the heavy "
                  "stages; Ctrl-C stops")
        with prefect_api():
            deployments.serve(settings)
        return
    with prefect_api():
        ids = deployments.deploy(settings)
    out.print(f"[green]✓[/] render-episode/render-episode and nightly/nightly on work pool '{deployments.CPU_POOL}', "
              f"speech-stage/gpu and music-stage/gpu on '{deployments.GPU_POOL}' ({len(ids)} deployments); "
              f"nightly runs {settings.nightly_cron} {settings.timezone}", highlight=False)


@app.command("serve")
def serve_api(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
) -> None:
    """Start the render API (OpenAPI docs at /docs). Tokens: api_tokens or NIGHTCAST_API_TOKENS."""
    import uvicorn

    from nightcast.api import create_app

    try:
        settings = Settings.from_env()
        if not settings.api_tokens or not settings.api_tokens.get_secret_value().strip():
            raise InputError("no API tokens: set NIGHTCAST_API_TOKENS (comma-separated) or api_tokens", source="settings")
        try:
            api = create_app(settings)
        except ValueError as exc:
            raise InputError(str(exc), source="NIGHTCAST_API_TOKENS") from None
    except InputError as exc:
        _fail_input(exc)
    from nightcast.flows.prefect_server import prefect_api

    with prefect_api():
        uvicorn.run(api, host=host, port=port, log_level="info")


@app.command("nightly")
def nightly_command(
    date: Annotated[Optional[str], typer.Option("--date", help="Episode date YYYY-MM-DD for every listener; "
                                                "default: each listener's today in their time zone.")] = None,
    template: Annotated[Optional[str], typer.Option("--template", "-t", help="Episode format for every listener; "
                                                    "default: each profile's.")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help=OUT_DIR_HELP)] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show Prefect's logs.")] = False,
) -> None:
    """Run the nightly flow now: an episode for every listener in the profile store. Exit 1 if any failed."""
    from nightcast.render.job import parse_date_option

    try:
        episode_date = parse_date_option(date)
    except InputError as exc:
        _fail_input(exc)
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from nightcast.flows.prefect_server import prefect_api

    with prefect_api(while_starting=partial(import_module, "nightcast.flows.nightly")):
        from nightcast.flows.nightly import nightly

        report = nightly(date=episode_date, template=template, out_dir=str(out_dir) if out_dir else None)
    already = f", {len(report.already)} already had this night's episode" if report.already else ""
    cold = f"; {len(report.cold_start)} new listener(s) on the starter taste" if report.cold_start else ""
    out.print(f"[green]✓[/] {len(report.rendered)} of {report.listeners} listeners rendered{already}{cold}",
              highlight=False)
    for line in report.breakers:
        out.print(f"[yellow]![/] {line}", highlight=False)
    for who, why in sorted(report.failed.items()):
        err.print(f"[red]✗ {who}:[/] {why}", highlight=False)
    raise typer.Exit(1 if report.failed else 0)


def _listener_settings(out_dir: Path | None, library: Path | None) -> Settings:
    return Settings.from_env(outputs_dir=str(out_dir) if out_dir else None,
                             music_library=str(library) if library else None)


@app.command("request")
def request_command(
    listener: Annotated[str, typer.Argument(help="A listener id in the profile store.")],
    text: Annotated[str, typer.Argument(help="What they ask for, in their words: 'more Alice Coltrane', "
                                             "'keep the talking short', 'never play Miles Davis again'.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help=OUT_DIR_HELP)] = None,
    library: Annotated[Optional[Path], typer.Option("--library", help=help_for("music_library"))] = None,
) -> None:
    """Send a listener's request: their next episode answers it. Exit 2 if nothing in it was understood."""
    from nightcast.render.job import take_listener_request

    try:
        settings = _listener_settings(out_dir, library)
        profile = settings.profile_store().load(listener)
        stored = take_listener_request(settings, profile, text, "cli", per_hour=settings.listener_messages_per_hour)
    except InputError as exc:
        _fail_input(exc)
    if stored.status == "rejected":
        err.print(f"[bold red]not understood[/] ({stored.id}): {stored.reason}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    understood = "; ".join(stored.interpretation.understood)
    by = "" if stored.interpretation.interpreter == "parser" else f", read by {stored.interpretation.interpreter}"
    out.print(f"[green]✓[/] {stored.id} for {listener}: {understood} (the next episode answers it{by})", highlight=False)


@app.command("requests")
def requests_command(
    listener: Annotated[str, typer.Argument(help="A listener id in the profile store.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help=OUT_DIR_HELP)] = None,
) -> None:
    """List a listener's requests: what each asked, and which episode answered it (or why not)."""
    try:
        settings = _listener_settings(out_dir, None)
        store = settings.profile_store()
        store.load(listener)
        stored = store.requests(listener)
    except InputError as exc:
        _fail_input(exc)
    table = Table("id", "received", "source", "understood", "status", title=f"requests from {listener}")
    for r in stored:
        status = {"used": f"used in {r.episode_id}", "rejected": f"rejected: {r.reason}"}.get(r.status, r.status)
        table.add_row(r.id, f"{r.received_at:%Y-%m-%d %H:%M}", r.source,
                      "; ".join(r.interpretation.understood) if r.interpretation else "", status)
    out.print(table)


@app.command("feedback")
def feedback_command(
    listener: Annotated[str, typer.Argument(help="A listener id in the profile store.")],
    episode: Annotated[str, typer.Argument(help="Episode id, e.g. 2026-11-23-nightly-digest.")],
    segment: Annotated[str, typer.Argument(help="Segment id from the episode's script, e.g. s02-pick.")],
    verdict: Annotated[str, typer.Argument(help="like (its artist ranks up), skip (the track sits out the next "
                                                "episodes, then ranks lower), never (never played again).")],
    artist: Annotated[bool, typer.Option("--artist", help="Skip or ban the segment's artist, not just its track.")] = False,
    note: Annotated[Optional[str], typer.Option("--note", help="A short note from the listener (kept as data).")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help=OUT_DIR_HELP)] = None,
) -> None:
    """Record a listener's like / skip / never on one segment of a published episode."""
    from nightcast.episode_store import check_episode_id
    from nightcast.steering import take_feedback

    try:
        if verdict not in ("like", "skip", "never"):
            raise InputError(f"'{verdict}' is not a verdict; use like, skip or never", field="verdict")
        settings = _listener_settings(out_dir, None)
        store = settings.profile_store()
        store.load(listener)
        check_episode_id(episode)
        episode_dir = settings.episode_store().episode_dir(listener, episode)
        given = take_feedback(store, listener, episode_dir, episode, segment, verdict, "cli",
                              target="artist" if artist else "track", note=note,
                              per_hour=settings.listener_messages_per_hour)
    except InputError as exc:
        _fail_input(exc)
    what = given.artist if given.target == "artist" or not given.title else f"“{given.title}” by {given.artist}"
    out.print(f"[green]✓[/] {given.id}: {verdict} {what or segment}", highlight=False)


profiles_app = typer.Typer(no_args_is_help=True, help="The profile store: YAML files, or a SQL database for many listeners.")
app.add_typer(profiles_app, name="profiles")


@profiles_app.command("list")
def profiles_list() -> None:
    """List the listeners in the profile store in use (profile_db, else profiles_dir)."""

    try:
        settings = Settings.from_env()
        store = settings.profile_store()
        ids = store.listener_ids()
    except InputError as exc:
        _fail_input(exc)
    table = Table("listener", "name", "template", "voice", title=store.describe())
    for listener in ids:
        try:
            p = store.load(listener)
            table.add_row(p.id, p.name, p.template or "", p.voice)
        except InputError as exc:
            table.add_row(listener, "[red]invalid[/]", "", str(exc))
    out.print(table)


@profiles_app.command("import")
def profiles_import(
    paths: Annotated[list[Path], typer.Argument(help="Profile YAML files, or folders of them.")],
    db: Annotated[Optional[str], typer.Option("--db", help="SQLAlchemy URL (default: the profile_db setting), e.g. sqlite:///profiles.db.")] = None,
) -> None:
    """Validate profiles and write them to the SQL store, all or none; existing listeners are replaced."""
    from nightcast.profile_store import SqlStore, import_profiles

    try:
        url = db or Settings.from_env().profile_db
        if not url:
            raise InputError("no database: pass --db URL or set profile_db (NIGHTCAST_PROFILE_DB)", source="--db")
        try:
            store = SqlStore(url)
        except Exception as exc:  # noqa: BLE001 - bad URL, missing driver, unreachable server
            raise InputError(f"cannot open the database ({type(exc).__name__}: {exc})", source="--db") from None
        profiles = import_profiles(paths, store)
    except InputError as exc:
        _fail_input(exc)
    out.print(f"[green]✓[/] {len(profiles)} profile(s) into the {store.describe()}: "
              f"{', '.join(p.id for p in profiles)}", highlight=False)


listeners_app = typer.Typer(no_args_is_help=True, help="A listener's data: what nightcast holds, a copy of it, erasing it.")
app.add_typer(listeners_app, name="listeners")
NO_SERVER_HELP = "Leave the Prefect server's records alone (default: PREFECT_API_URL's, or this machine's own)."


@listeners_app.command("holdings")
def listeners_holdings(
    listener: Annotated[str, typer.Argument(help="A listener id.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help=OUT_DIR_HELP)] = None,
    no_server: Annotated[bool, typer.Option("--no-server", help=NO_SERVER_HELP)] = False,
) -> None:
    """Print, as JSON, every place nightcast keeps something about the listener."""
    from nightcast.rights import holdings

    try:
        settings = _listener_settings(out_dir, None)
        with _server(not no_server):
            found = holdings(settings, listener, server=not no_server)
    except InputError as exc:
        _fail_input(exc)
    print(found.model_dump_json(indent=2))


@listeners_app.command("export")
def listeners_export(
    listener: Annotated[str, typer.Argument(help="A listener id.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The zip file to write.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", help=OUT_DIR_HELP)] = None,
    no_server: Annotated[bool, typer.Option("--no-server", help=NO_SERVER_HELP)] = False,
) -> None:
    """Write a zip of the listener's data: profile, requests, feedback, every episode, and holdings.json
    listing every place nightcast keeps something about them."""
    from nightcast.rights import export_listener

    try:
        settings = _listener_settings(out_dir, None)
        with _server(not no_server):
            found = export_listener(settings, listener, output, server=not no_server)
    except InputError as exc:
        _fail_input(exc)
    out.print(f"[green]✓[/] {output}: {len(found.places)} places, "
              f"{', '.join(f'{p.what} ({p.items})' for p in found.places)}", highlight=False)


@listeners_app.command("forget")
def listeners_forget(
    listener: Annotated[str, typer.Argument(help="A listener id.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help=OUT_DIR_HELP)] = None,
    no_server: Annotated[bool, typer.Option("--no-server", help=NO_SERVER_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the receipt as JSON.")] = False,
) -> None:
    """Erase the listener: profile, requests, feedback, episodes, feed, QA reports, cache entries and
    their records on the Prefect server. Prints a receipt; running it again removes nothing more."""
    from nightcast.rights import forget_listener

    try:
        settings = _listener_settings(out_dir, None)
        with _server(not no_server):
            receipt = forget_listener(settings, listener, server=not no_server)
    except InputError as exc:
        _fail_input(exc)
    if as_json:
        print(receipt.model_dump_json(indent=2))
        raise typer.Exit(1 if receipt.failed else 0)
    if receipt.nothing_found:
        out.print(f"[green]✓[/] nightcast holds nothing about {listener} (nothing to remove)", highlight=False)
        return
    out.print(f"[green]✓[/] {listener} erased at {receipt.erased_at:%Y-%m-%d %H:%M:%S} UTC", highlight=False)
    for label, lines in (("removed", receipt.removed), ("redacted", receipt.redacted), ("kept", receipt.kept)):
        for line in lines:
            out.print(f"  {label}: {line}", highlight=False, soft_wrap=True)
    for line in receipt.failed:
        err.print(f"[red]✗ not erased:[/] {line}", highlight=False, soft_wrap=True)
    raise typer.Exit(1 if receipt.failed else 0)


@listeners_app.command("import")
def listeners_import(
    source: Annotated[Path, typer.Argument(help="An export zip (profile, requests, feedback) or a profile YAML.")],
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help=OUT_DIR_HELP)] = None,
) -> None:
    """Put an exported listener back into the profile store (the profile replaces any with its id)."""
    from nightcast.rights import import_listener

    try:
        profile, requests, feedback = import_listener(_listener_settings(out_dir, None), source)
    except InputError as exc:
        _fail_input(exc)
    out.print(f"[green]✓[/] {profile.id} into the profile store, with {requests} request(s) and {feedback} "
              "feedback", highlight=False)


def _server(wanted: bool):
    """The Prefect API the listener commands talk to, when they are to."""
    from contextlib import nullcontext

    if not wanted:
        return nullcontext()
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from nightcast.flows.prefect_server import prefect_api

    return prefect_api()


def main() -> None:  # pragma: no cover - console entry for `python -m nightcast.cli`
    sys.exit(app())


if __name__ == "__main__":
    main()
