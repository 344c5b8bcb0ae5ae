"""The stage-major nightly: a chunk of listeners' scripts and beds made in batched calls across them,
handed to each listener's render through the stage cache, and the same episodes a render alone makes."""

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from helpers import DATE, PROFILES, short_format

LISTENERS = ("maya", "hiro")


@pytest.fixture(scope="module")
def tiny_models(tiny_chat_model, tmp_path_factory):
    from tiny_musicgen import build_tiny_musicgen

    return tiny_chat_model, build_tiny_musicgen(tmp_path_factory.mktemp("musicgen"))


def heavy_backends(monkeypatch, tmp_path, tiny_models, batch_listeners: int) -> None:
    chat, musicgen = tiny_models
    store = tmp_path / "profiles"
    store.mkdir(exist_ok=True)
    for name in LISTENERS:
        data = yaml.safe_load((PROFILES / f"{name}.yaml").read_text())
        data["template"] = "qa-check"
        (store / f"{name}.yaml").write_text(yaml.safe_dump(data))
    for name, value in {"PROFILES_DIR": store, "TEMPLATES_DIR": short_format(tmp_path), "WRITER": "transformers",
                        "WRITER_MODEL": chat, "GENERATION": json.dumps({"max_new_tokens": 32, "batch_size": 64}),
                        "MUSIC": "musicgen", "MUSIC_MODEL": musicgen,
                        "MUSICGEN": json.dumps({"batch_size": 64, "max_chunk_s": 4}),
                        "NIGHTLY_BATCH_LISTENERS": batch_listeners, "NIGHTLY_CONCURRENCY": 2,
                        "QA": json.dumps({"enabled": False})}.items():  # QA's own tests hear episodes
        monkeypatch.setenv(f"NIGHTCAST_{name}", str(value))


def stage_files(cache: Path, stage: str) -> dict[str, Path]:
    return {f"{p.parent.name}/{p.name}": p for p in (cache / "stages").glob(f"{stage}-*/*.wav")}


def test_stage_major_nightly_batches_across_listeners_and_renders_what_a_render_alone_makes(
        prefect_harness, tiny_models, tmp_path, monkeypatch):
    from nightcast.flows.episode import render_episode
    from nightcast.flows.nightly import nightly
    from nightcast.generators.music.musicgen import MusicGenGenerator
    from nightcast.generators.script.llm.transformers_lm import TransformersClient

    heavy_backends(monkeypatch, tmp_path, tiny_models, batch_listeners=8)
    rows = {"llm": [], "music": []}
    for kind, cls, method in (("llm", TransformersClient, "_generate"), ("music", MusicGenGenerator, "_generate")):
        real = getattr(cls, method)
        monkeypatch.setattr(cls, method, lambda self, first, *a, _real=real, _kind=kind:
                            rows[_kind].append(len(first)) or _real(self, first, *a))
    night, night_cache = tmp_path / "night", tmp_path / "night-cache"
    monkeypatch.setenv("NIGHTCAST_CACHE_DIR", str(night_cache))

    report = nightly(date=DATE, out_dir=str(night))

    assert sorted(report.rendered) == sorted(LISTENERS) and not report.failed
    phases = {p.phase: p for p in report.phases}
    assert phases["script"].batches == [2] and phases["music"].listeners == 2
    assert phases["music"].batches == [8]  # every bed of two four-slot episodes in one generator call
    assert rows["music"] == [8]  # ... which the generator made in one batch: the renders generated none
    assert max(rows["llm"]) > 4  # the first round held more than one listener's segments
    assert "batched heavy stages" in report.markdown()
    for who in LISTENERS:
        manifest = json.loads((night / who / "2026-11-23-qa-check" / "episode.json").read_text())
        assert manifest["stage_cache"]["script"] == {"ran": 0, "cached": 1}
        assert manifest["stage_cache"]["music"] == {"ran": 0, "cached": 1}
        assert manifest["stage_cache"]["speech"]["ran"] == 0

    # Each listener alone, from an empty cache: the same scripts, speech and beds.
    solo, solo_cache = tmp_path / "solo", tmp_path / "solo-cache"
    monkeypatch.setenv("NIGHTCAST_CACHE_DIR", str(solo_cache))
    for who in LISTENERS:
        render_episode(who, date=DATE, out_dir=str(solo))
        night_script = json.loads((night / who / "2026-11-23-qa-check" / "script.json").read_text())
        solo_script = json.loads((solo / who / "2026-11-23-qa-check" / "script.json").read_text())
        assert [s["text"] for s in night_script["segments"]] == [s["text"] for s in solo_script["segments"]]
    for stage in ("speech", "music-batch"):
        made_at_night, made_alone = stage_files(night_cache, stage), stage_files(solo_cache, stage)
        assert set(made_at_night) == set(made_alone) and made_alone  # the same stage keys: the same inputs
        for name, path in made_alone.items():
            np.testing.assert_allclose(sf.read(made_at_night[name])[0], sf.read(path)[0], atol=1e-4)
