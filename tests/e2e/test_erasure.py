"""Erasure end to end, as an operator runs it: maya rendered twice (once by id, as the API and the UI
start a render, once by the nightly with two other listeners), she sends a request; then
`nightcast listeners export` and `nightcast listeners forget`. Afterwards nothing in the outputs,
the cache, the profile store or the Prefect database names her; the others' episodes are untouched
and render from the cache; her export imports back and renders again.

Every command is the real CLI in its own process against this test's own Prefect database
(PREFECT_HOME), which is then searched table by table."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from helpers import PROFILES, short_format

pytestmark = pytest.mark.slow

NIGHT = "2026-11-24"
SHE = ("maya", "maya okafor", "okafor")


def run(env: dict, *args: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "nightcast.cli", *args], env=env, capture_output=True, text=True,
                          timeout=300)
    if ok:
        assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done


def files_naming(folder: Path, words) -> list[str]:
    hits = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            hits += [f"{path.relative_to(folder)}: {w}" for w in words if w.encode() in data]
    return hits


def database_naming(database: Path, words) -> list[str]:
    hits = []
    with sqlite3.connect(database) as db:
        for (table,) in db.execute("select name from sqlite_master where type='table'"):
            columns = [c[1] for c in db.execute(f"pragma table_info('{table}')")]
            for row in db.execute(f"select * from '{table}'"):
                for column, value in zip(columns, row):
                    text = (value if isinstance(value, bytes) else str(value).encode()).lower()
                    hits += [f"{table}.{column}: {w}" for w in words if w.encode() in text]
    return hits


@pytest.fixture(scope="module")
def night(tmp_path_factory, prefect_home):
    root = tmp_path_factory.mktemp("rights")
    (root / "profiles").mkdir()
    for name in ("maya", "hiro", "dre"):
        (root / "profiles" / f"{name}.yaml").write_text((PROFILES / f"{name}.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "NIGHTCAST_"))}
    env.update(PREFECT_HOME=str(prefect_home(root / "prefect")), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               NIGHTCAST_PROFILES_DIR=str(root / "profiles"), NIGHTCAST_OUTPUTS_DIR=str(root / "out"),
               NIGHTCAST_TEMPLATES_DIR=str(short_format(root)), NIGHTCAST_QA=json.dumps({"enabled": False}))
    run(env, "render", "maya", "-t", "qa-check", "--date", "2026-11-23")
    run(env, "nightly", "-t", "qa-check", "--date", NIGHT)
    run(env, "request", "maya", "more Alice Coltrane please")
    others = {p.relative_to(root / "out"): p.read_bytes() for who in ("hiro", "dre")
              for p in (root / "out" / who).rglob("*") if p.is_file() and p.suffix == ".mp3"}
    run(env, "listeners", "export", "maya", "-o", str(root / "maya.zip"))
    receipt = json.loads(run(env, "listeners", "forget", "maya", "--json").stdout)
    return root, env, receipt, others


def test_the_export_holds_her_data_and_names_every_place(night):
    root, *_ = night
    with zipfile.ZipFile(root / "maya.zip") as archive:
        names = archive.namelist()
        holdings = json.loads(archive.read("holdings.json"))
        assert yaml.safe_load(archive.read("profile.yaml"))["name"] == "Maya Okafor"
        assert "more Alice Coltrane please" in archive.read("requests.yaml").decode()
    assert {"episodes/2026-11-23-qa-check/episode.mp3", f"episodes/{NIGHT}-qa-check/episode.mp3", "feed.xml"} <= set(names)
    places = {p["what"]: p for p in holdings["places"]}
    assert {"profile", "requests", "episodes", "feed", "stage cache", "sentence cache", "cache ledger",
            "Prefect server"} <= set(places)
    runs = places["Prefect server"]["detail"]
    assert sum("render-episode" in r for r in runs) == 2 and any("batch-heavy-stages" in r for r in runs)


def test_after_forget_nothing_names_her(night):
    root, env, receipt, _ = night
    assert any("2 episode(s)" in line for line in receipt["removed"]) and not receipt["failed"]
    assert sum("render-episode" in line for line in receipt["removed"]) == 2
    assert any("batch-heavy-stages" in line for line in receipt["redacted"])
    for folder in (root / "out", root / "profiles", root / "prefect"):  # the database file's bytes too
        assert files_naming(folder, SHE) == [], folder
    assert database_naming(root / "prefect" / "prefect.db", SHE) == []
    # (her favourite artists beside her id: with her id nowhere, no such pairing is left)
    assert any("Prefect database file vacuumed" in line for line in receipt["removed"])

    again = run(env, "listeners", "forget", "maya")
    assert "holds nothing about maya" in again.stdout


def test_the_others_are_untouched_and_render_from_the_cache(night):
    root, env, _, others = night
    assert others and all((root / "out" / path).read_bytes() == data for path, data in others.items())
    run(env, "render", "hiro", "-t", "qa-check", "--date", NIGHT)
    manifest = json.loads((root / "out" / "hiro" / f"{NIGHT}-qa-check" / "episode.json").read_text())
    assert all(c["ran"] == 0 for c in manifest["stage_cache"].values()), manifest["stage_cache"]


def test_her_export_imports_back_and_renders_again(night):
    root, env, *_ = night
    assert "maya" in run(env, "listeners", "import", str(root / "maya.zip")).stdout
    assert (root / "profiles" / "maya.yaml").is_file()
    requests = run(env, "requests", "maya").stdout
    assert "more Alice Coltrane" in requests
    run(env, "render", "maya", "-t", "qa-check", "--date", NIGHT)
    assert (root / "out" / "maya" / f"{NIGHT}-qa-check" / "episode.mp3").stat().st_size > 100_000
