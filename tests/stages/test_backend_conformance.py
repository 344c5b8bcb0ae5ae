"""Every registered backend is what its stage's interface declares: a subclass of the stage's base
class, named as it is registered, with its capabilities as class attributes (read without loading a
model), a `check` classmethod (settings for writers and generators, the preset's model for engines), and a batch method of its own wherever it claims to batch."""

from __future__ import annotations

import inspect

import pytest

from nightcast.generators.music import GENERATORS
from nightcast.generators.music.base import MusicGenerator
from nightcast.generators.script import WRITERS
from nightcast.generators.script.base import ScriptWriter
from nightcast.voices import ENGINES
from nightcast.voices.base import TTSEngine

from helpers import SETTINGS

STAGES = [(WRITERS, ScriptWriter, "write_many", ("batches",)),
          (ENGINES, TTSEngine, "synthesize_batch", ("batches", "concurrent", "runs_on_gpu")),
          (GENERATORS, MusicGenerator, "generate_many", ("batches", "runs_on_gpu", "takes_melody"))]
BACKENDS = [(registry, base, batch_method, capabilities, name)
            for registry, base, batch_method, capabilities in STAGES for name in registry.names()]


@pytest.mark.parametrize("registry, base, batch_method, capabilities, name", BACKENDS,
                         ids=[f"{r.kind}:{n}" for r, _, _, _, n in BACKENDS])
def test_backend_declares_its_contract(registry, base, batch_method, capabilities, name):
    backend = registry.load(name)  # the class: importing a backend module never loads a model
    assert issubclass(backend, base)
    assert backend.name == name
    for capability in capabilities:
        assert isinstance(getattr(backend, capability), bool), capability
    if backend.batches:  # claims to batch: must do it itself, not inherit the one-at-a-time loop
        assert getattr(backend, batch_method) is not getattr(base, batch_method)
    assert isinstance(inspect.getattr_static(backend, "check"), classmethod)  # can it run here, without loading
    entry = {MusicGenerator: "generate", TTSEngine: "synthesize", ScriptWriter: "write"}[base]
    for required in ("version", entry):  # what the base leaves to each backend
        assert getattr(backend, required) is not getattr(base, required), required


def test_checks_accept_the_default_settings_or_name_the_option():
    """A check either passes on the CPU defaults or raises an InputError that names what to set."""
    from nightcast.errors import InputError

    for registry, *_ in (STAGES[0], STAGES[2]):
        for name in registry.names():
            try:
                registry.load(name).check(SETTINGS)
            except InputError as exc:
                assert exc.source and exc.source.startswith("--"), (name, str(exc))


def test_the_heavy_backends_say_so_and_the_defaults_do_not():
    assert ENGINES.load("transformers").runs_on_gpu and ENGINES.load("coqui").runs_on_gpu
    assert GENERATORS.load("musicgen").runs_on_gpu and GENERATORS.load("musicgen").batches
    assert not ENGINES.load("hibari").runs_on_gpu and ENGINES.load("hibari").concurrent
    assert not GENERATORS.load("procedural").runs_on_gpu and not GENERATORS.load("procedural").batches
