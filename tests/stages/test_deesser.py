"""The speech chain's de-esser: tames an "s", leaves vowels and the band split transparent."""

import numpy as np
import pedalboard
import pytest

from nightcast.voices.deesser import DeEsser
from nightcast.voices.presets import effect_chain, load_preset

from helpers import PRESETS

RATE = 44100


def vowel(seconds: float) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 25)) * 0.2


def ess(seconds: float) -> np.ndarray:
    noise = np.random.default_rng(0).normal(0, 0.3, int(RATE * seconds)).astype(np.float32)
    band = pedalboard.Pedalboard([pedalboard.HighpassFilter(5000), pedalboard.HighpassFilter(5000),
                                  pedalboard.LowpassFilter(10000)])
    return band(noise, RATE)


def band_db(x: np.ndarray, start_s: float, end_s: float, highpass_hz: float | None = None) -> float:
    if highpass_hz:
        x = pedalboard.HighpassFilter(highpass_hz)(x.astype(np.float32), RATE)
    segment = x[..., int(start_s * RATE): int(end_s * RATE)]
    return 10 * np.log10(np.mean(segment ** 2))


@pytest.fixture(scope="module")
def spoken():
    x = np.concatenate([vowel(0.3), ess(0.15), vowel(0.3)]).astype(np.float32)[None, :]
    return x, DeEsser(threshold_db=-14, ratio=4, max_reduction_db=8)(x, RATE)


def test_sibilance_is_turned_down(spoken):
    before, after = spoken
    assert band_db(after, 0.32, 0.43, 5000) - band_db(before, 0.32, 0.43, 5000) < -3.0


def test_vowels_pass_untouched(spoken):
    before, after = spoken
    for start, end in ((0.05, 0.25), (0.55, 0.7)):
        assert band_db(after, start, end) == pytest.approx(band_db(before, start, end), abs=0.05)
        assert np.max(np.abs(after[:, int(start * RATE): int(end * RATE)] - before[:, int(start * RATE): int(end * RATE)])) < 1e-3


def test_detection_is_level_independent():
    x = np.concatenate([vowel(0.3), ess(0.15)]).astype(np.float32)[None, :]
    deesser = DeEsser()
    quiet, loud = deesser(x * 0.05, RATE) / 0.05, deesser(x, RATE)
    assert np.allclose(quiet, loud, atol=1e-3)


def test_low_rate_engines_pass_through():
    x = np.random.default_rng(1).normal(0, 0.1, (1, 16000)).astype(np.float32)
    assert np.array_equal(DeEsser(frequency_hz=7500)(x, 16000), x)


def test_presets_run_high_pass_compression_de_ess_presence_in_order(tmp_path):

    preset = load_preset("host", PRESETS)
    assert [e.type for e in preset.effects] == ["HighpassFilter", "Compressor", "DeEsser", "PeakFilter"]
    chain = effect_chain(preset)
    kinds = [type(stage).__name__ for stage in chain.stages]
    assert kinds == ["Pedalboard", "DeEsser", "Pedalboard"]
    x = np.concatenate([vowel(0.3), ess(0.15)]).astype(np.float32)[None, :]
    assert chain(x, RATE).shape == x.shape


def test_bad_de_esser_settings_are_refused():
    with pytest.raises(ValueError, match="frequency_hz"):
        DeEsser(frequency_hz=200)
