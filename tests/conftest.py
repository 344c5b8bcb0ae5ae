from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from helpers import DATE, PROFILES, duo_format

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# torch, CTranslate2 and llama.cpp each bring an OpenMP runtime into this one process; their idle
# workers spinning for the CPU made the llama.cpp tests 2-3x slower after the others had run.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
# An ephemeral Prefect server gets 20 s to start by default; two busy xdist workers can need more.
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")
# ASR costs seconds per render: the QA gate runs where it is the subject (the shared `rendered`
# episodes and tests/e2e/test_qa.py pass qa=True), not in every other test's render.
os.environ.setdefault("NIGHTCAST_QA__ENABLED", "false")


SLOW_FIXTURES = {"prefect_harness", "rendered"}  # a Prefect server, or episodes rendered through it


def pytest_collection_modifyitems(config, items):
    """What starts a server or renders is `slow`, marked from the fixtures it uses (tests that render
    in a subprocess say so themselves); what needs CUDA is `gpu`, skipped where there is none."""
    cuda = None
    for item in items:
        if SLOW_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.slow)
        if item.get_closest_marker("gpu"):
            if cuda is None:
                cuda = _cuda_available()
            if not cuda:
                item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# The two-host episode is the shipped two-hosts format at a third of its length (helpers.duo_format):
# 8 minutes of two voices cost as much as the other two episodes together.
SHARED_EPISODES = {"maya": ("maya", "nightly-digest"), "hiro": ("hiro", "nightly-digest"),
                   "maya-two-hosts": ("maya", "duo-check")}


class RenderedEpisodes(Mapping):
    """Episodes rendered once per test run through the real flow, with the QA gate, each the first
    time a test asks for it: under its own file lock, so one xdist worker renders maya while the
    other renders hiro or waits for maya only, instead of one waiting for all three."""

    def __init__(self, shared: Path):
        self.shared = shared

    def __getitem__(self, key: str) -> Path:
        self._render(key, wait=True)
        return Path(self._record(key).read_text())

    def _record(self, key: str) -> Path:
        return self.shared / f"rendered-{key}.txt"

    def _render(self, key: str, wait: bool) -> bool:
        """Render `key` unless it is there; without `wait`, leave it (False) while another worker renders it."""
        from filelock import FileLock, Timeout

        from nightcast.flows.episode import render_episode

        listener, template = SHARED_EPISODES[key]
        try:
            with (FileLock(str(self.shared / f"rendered-{key}.lock"), timeout=-1 if wait else 0),
                  pytest.MonkeyPatch.context() as patch):
                if not self._record(key).is_file():
                    if template == "duo-check":
                        patch.setenv("NIGHTCAST_TEMPLATES_DIR", str(self.templates))
                    episode = render_episode(str(PROFILES / f"{listener}.yaml"), template=template,
                                             out_dir=str(self.outputs), date=DATE, qa=True)
                    self._record(key).write_text(str(episode))
        except Timeout:
            return False
        return True

    def values(self):
        """Every episode, rendering those no other worker is rendering before waiting for one that is:
        a worker that waits for a render sits idle."""
        pending = list(self)
        while pending:
            pending = [key for key in pending if not self._render(key, wait=False)]
            if pending:
                self._render(pending.pop(0), wait=True)
        return [self[key] for key in self]

    def items(self):
        return list(zip(self, self.values()))

    @property
    def outputs(self) -> Path:
        return self.shared / "rendered-outputs"

    @property
    def templates(self) -> Path:
        """The templates the two-host episode renders from: the repository's, and `duo-check`."""
        from filelock import FileLock

        folder = self.shared / "rendered-templates"
        with FileLock(str(self.shared / "rendered-templates.lock")):
            if not (folder / "templates" / "formats" / "duo-check.yaml").is_file():
                shutil.rmtree(folder, ignore_errors=True)
                duo_format(folder)
        return folder / "templates"

    def cache_holding(self, *keys: str) -> Path:
        """The stage cache the shared renders fill, once these episodes are in it."""
        for key in keys:
            self._render(key, wait=True)
        return self.outputs / ".cache"

    def __iter__(self):
        return iter(SHARED_EPISODES)

    def __len__(self) -> int:
        return len(SHARED_EPISODES)


@pytest.fixture(scope="session")
def rendered(prefect_harness, tmp_path_factory, worker_id) -> RenderedEpisodes:
    """maya's and hiro's nightly-digest and maya's two-hosts episode, shared by the end-to-end tests
    and rendered on first use (see RenderedEpisodes). Same date, so no episode's memory holds another."""
    base = tmp_path_factory.getbasetemp()
    return RenderedEpisodes(base if worker_id == "master" else base.parent)


@pytest.fixture(scope="session")
def prefect_home(tmp_path_factory, worker_id):
    """Makes a PREFECT_HOME whose database is already migrated, for tests that run the CLI against a
    Prefect of their own: a copy of one migrated once per test run (a fresh database costs each
    first start-up about 6 s of migrations on 2 cores). The wheel test keeps a truly fresh home."""
    import subprocess
    import sys

    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    shared = base if worker_id == "master" else base.parent
    template = shared / "prefect-migrated"
    with FileLock(str(shared / "prefect-migrated.lock")):
        if not (template / "prefect.db").is_file():
            env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
            subprocess.run([sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"], check=True,
                           env={**env, "PREFECT_HOME": str(template)}, capture_output=True, timeout=300)

    def make(home: Path) -> Path:
        home.mkdir(parents=True, exist_ok=True)
        shutil.copy2(template / "prefect.db", home / "prefect.db")
        return home

    return make


@pytest.fixture
def has_binaries():
    for binary in ("ffmpeg", "ffprobe", "espeak-ng", "fluidsynth"):
        if not shutil.which(binary):
            pytest.fail(f"{binary} missing: run make setup")


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory) -> Path:
    """A tiny random-weight Llama with a real BPE tokenizer and chat template (tests/tiny_llm.py)."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_llm import build_tiny_chat_model

    from helpers import TEMPLATES

    return build_tiny_chat_model(tmp_path_factory.mktemp("tiny-chat"), TEMPLATES)


CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium, driven by its ChromeDriver (the episode page and the Prefect UI form)."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not shutil.which(p)]
    if missing:
        message = f"{', '.join(missing)} missing: `make setup-test` installs Debian's chromium and chromium-driver"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--mute-audio", "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
