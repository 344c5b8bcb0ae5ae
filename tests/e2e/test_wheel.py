"""The wheel is the product: built from this checkout, installed into a fresh virtualenv, it renders an
episode from a folder that has nothing of the repository in it, with one import namespace."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from helpers import ROOT, ffprobe_duration

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """A fresh venv holding only the built wheel; its dependencies are this test environment's
    (a .pth line, so no download), whose own .pth files (our editable install) are not run."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy: setuptools builds in the tree it is given, and leaves build/ there
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(".git", ".venv", "outputs", "build", "*.egg-info",
                                                                 "__pycache__", ".pytest_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(source)],
                   check=True, capture_output=True, text=True, timeout=300)
    [wheel] = (work / "dist").glob("nightcast-*.whl")
    fresh = work / "venv"
    venv.create(fresh, with_pip=False)
    [fresh_site] = fresh.glob("lib/python*/site-packages")
    (fresh_site / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(fresh / "bin" / "python"), "install", "--no-deps",
                    "-q", str(wheel)], check=True, capture_output=True, text=True, timeout=300)
    return fresh


def run(fresh: Path, *args: str, cwd: Path, timeout: int = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NIGHTCAST_", "PYTHONPATH"))}
    env["PREFECT_HOME"] = str(cwd.parent / f"{cwd.name}-prefect")  # its own ephemeral server, not beside the episode
    return subprocess.run([str(fresh / "bin" / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_the_wheel_installs_one_namespace(installed, tmp_path):
    shown = run(installed, "python", "-m", "pip", "show", "-f", "nightcast", cwd=tmp_path)
    if shown.returncode != 0:  # this venv has no pip of its own: ask the test's pip about it
        shown = subprocess.run([sys.executable, "-m", "pip", "--python", str(installed / "bin" / "python"), "show",
                                "-f", "nightcast"], capture_output=True, text=True, check=True)
    files = [line.strip() for line in shown.stdout.split("Files:")[1].splitlines() if line.strip()]
    top = {f.split("/")[0] for f in files if not f.startswith("../")}
    assert {"flows", "voices", "generators", "templates", "profiles"}.isdisjoint(top), top
    assert {"nightcast"} <= top
    for data in ("nightcast/templates/formats/nightly-digest.yaml", "nightcast/voices/presets/host.yaml",
                 "nightcast/profiles/maya.yaml", "nightcast/templates/prompts/llm/host/system.j2",
                 "nightcast/publish/assets/episode.html.j2"):
        assert data in files
    where = run(installed, "python", "-c", "import nightcast.flows, nightcast.voices; print(nightcast.flows.__file__);"
                "from nightcast.settings import Settings; print(Settings.from_env().templates_dir)", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    assert all(str(installed) in line and str(ROOT) not in line for line in where.stdout.split()), where.stdout


def test_the_installed_cli_renders_an_episode_from_an_empty_folder(installed, tmp_path):
    """The README's path, from the wheel: the console script renders a listener from the packaged
    store with the QA gate on (as shipped), prints where the episode and feed are, writes nothing else."""
    listed = run(installed, "nightcast", "templates", cwd=tmp_path)
    assert listed.returncode == 0 and "nightly-digest" in listed.stdout, listed.stderr
    done = run(installed, "nightcast", "render", "dre", "--template", "nightly-digest", "--date", "2026-11-24",
               "--out", "out", cwd=tmp_path, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    episode = tmp_path / "out" / "dre" / "2026-11-24-nightly-digest"
    printed = done.stdout.replace("\n", "")
    assert f"{Path('out') / 'dre' / '2026-11-24-nightly-digest' / 'episode.mp3'}" in printed
    assert f"{Path('out') / 'dre' / 'feed.xml'}" in printed and (episode.parent / "feed.xml").is_file()
    assert sorted(p.name for p in episode.iterdir()) == ["chapters.json", "cover.png", "episode.json", "episode.mp3",
                                                         "index.html", "qa.json", "script.json", "transcript.srt",
                                                         "transcript.vtt", "waveform.png"]
    assert json.loads((episode / "qa.json").read_text())["passed"]
    assert 240 <= ffprobe_duration(episode / "episode.mp3") <= 400
    assert json.loads((episode / "episode.json").read_text())["listener_id"] == "dre"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # nothing written beside it
