"""The CPU default: compose a short arrangement in MIDI, render it with fluidsynth and a GM soundfont.

Honours the cue's tempo, key, style, mood and energy: drums, bass, chords, pad, lead and a riser
that builds into the next section. 30 s of five-track music renders in about 1–2 s on 2 cores.
"""

from __future__ import annotations

import math
import random
import tempfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pretty_midi

from nightcast.audio import Clip, read_clip
from nightcast.binaries import require, run, soundfont, version_of
from nightcast.errors import BackendUnavailableError
from nightcast.generators.music import numpy_synth
from nightcast.generators.music.arrangements import CRASH, GROOVES, KICK, SNARE, STYLES, Style
from nightcast.generators.music.base import MusicGenerator
from nightcast.generators.music.fitting import fit_bed
from nightcast.keys import PITCH_CLASSES
from nightcast.schema import MusicCue

SCALES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
REVERSE_CYMBAL = 119


class Arranger:
    """Writes one cue's arrangement into a PrettyMIDI, bar by bar."""

    def __init__(self, cue: MusicCue, duration_s: float, rng: random.Random):
        self.cue, self.rng = cue, rng
        self.style: Style = STYLES.get(cue.style, STYLES["pop"])
        root_name, mode = cue.key.split()
        self.root = PITCH_CLASSES[root_name]
        self.scale = SCALES[mode]
        self.mode = mode
        self.beat_s = 60.0 / cue.bpm
        self.bar_s = 4 * self.beat_s
        self.step_s = self.bar_s / 16
        self.duration_s = duration_s
        self.bars = max(2, math.ceil(duration_s / self.bar_s) + 1)
        progressions = self.style.progressions_major if mode == "major" else self.style.progressions_minor
        self.progression = rng.choice(progressions)
        self.energy = cue.energy
        self.midi = pretty_midi.PrettyMIDI(initial_tempo=cue.bpm)

    # ---------------------------------------------------------------- helpers

    def t(self, bar: int, step: float) -> float:
        swung = step + (self.style.swing * 2 if int(step) % 4 == 2 and step == int(step) else 0)
        return bar * self.bar_s + swung * self.step_s + self.rng.uniform(-0.004, 0.004)

    def velocity(self, base: float) -> int:
        return int(np.clip(base * (0.75 + 0.45 * self.energy) + self.rng.randint(-7, 7), 20, 127))

    def degree_pitch(self, degree: int, octave: int) -> int:
        octave_shift, index = divmod(degree, 7)
        return 12 * (octave + octave_shift + 1) + self.root + self.scale[index]

    def chord(self, bar: int, octave: int = 4) -> list[int]:
        degree = self.progression[bar % len(self.progression)]
        stack = (0, 2, 4, 6) if self.style.sevenths else (0, 2, 4)
        return [self.degree_pitch(degree + s, octave) for s in stack]

    def add(self, inst: pretty_midi.Instrument, pitch: int, start: float, dur: float, vel: int) -> None:
        if start < self.bars * self.bar_s:
            inst.notes.append(pretty_midi.Note(velocity=vel, pitch=int(pitch), start=max(0.0, start), end=start + dur))

    def instrument(self, program: int, name: str, is_drum: bool = False) -> pretty_midi.Instrument:
        inst = pretty_midi.Instrument(program=program, is_drum=is_drum, name=name)
        self.midi.instruments.append(inst)
        return inst

    # ---------------------------------------------------------------- parts

    def drums(self) -> None:
        groove = GROOVES[self.style.groove]
        if not groove:
            return
        kit = self.instrument(0, "drums", is_drum=True)
        enter = 0 if self.energy >= 0.35 else 1
        for bar in range(enter, self.bars):
            for note, steps in groove.items():
                for step in steps:
                    accent = 100 if step % 4 == 0 else 78
                    self.add(kit, note, self.t(bar, step), self.step_s, self.velocity(accent))
            if bar % 8 == enter:
                self.add(kit, CRASH, self.t(bar, 0), self.bar_s, self.velocity(95))
        # a snare roll builds through the bar before the next section
        last = self.riser_bar()
        for step in range(8, 16):
            self.add(kit, SNARE, self.t(last, step), self.step_s, int(50 + 6 * (step - 8) * (0.5 + self.energy)))

    def bass(self) -> None:
        inst = self.instrument(self.style.bass, "bass")
        kicks = GROOVES[self.style.groove].get(KICK, (0, 8))
        for bar in range(self.bars):
            root = self.degree_pitch(self.progression[bar % len(self.progression)], 2)
            nxt = self.degree_pitch(self.progression[(bar + 1) % len(self.progression)], 2)
            mode = self.style.bass_mode
            if mode == "walking":
                tones = [root, root + (3 if self.mode == "minor" else 4), root + 7, nxt + self.rng.choice((-1, 1))]
                for beat, pitch in enumerate(tones):
                    self.add(inst, pitch, self.t(bar, beat * 4), self.beat_s * 0.9, self.velocity(88))
            elif mode == "pulse":
                for step in range(0, 16, 2):
                    self.add(inst, root, self.t(bar, step), self.step_s * 1.6, self.velocity(84 if step % 4 == 0 else 70))
            elif mode == "root":
                for step in kicks:
                    self.add(inst, root, self.t(bar, step), self.step_s * 3, self.velocity(92))
            else:
                self.add(inst, root, self.t(bar, 0), self.bar_s * 0.98, self.velocity(70))

    def chords(self) -> None:
        inst = self.instrument(self.style.chords, "chords")
        comp = self.style.comp
        for bar in range(self.bars):
            notes = self.chord(bar)
            if comp == "sustain":
                for p in notes:
                    self.add(inst, p, self.t(bar, 0), self.bar_s * 0.98, self.velocity(62))
            elif comp == "stabs":
                for step in self.rng.choice(((0, 6, 10), (0, 3, 10), (2, 8, 14), (0, 10))):
                    for p in notes:
                        self.add(inst, p, self.t(bar, step), self.step_s * 2.5, self.velocity(70))
            elif comp == "offbeat":
                for step in (2, 6, 10, 14):
                    for p in notes:
                        self.add(inst, p, self.t(bar, step), self.step_s * 1.2, self.velocity(66))
            else:  # arpeggio over two octaves, up then down
                tones = notes + [n + 12 for n in notes]
                pattern = tones + tones[-2:0:-1]
                for i, step in enumerate(range(0, 16, 2)):
                    self.add(inst, pattern[i % len(pattern)], self.t(bar, step), self.step_s * 3, self.velocity(64))

    def pad(self) -> None:
        if self.style.pad is None:
            return
        inst = self.instrument(self.style.pad, "pad")
        for bar in range(self.bars):
            for p in self.chord(bar, octave=4)[:3]:
                self.add(inst, p + 12, self.t(bar, 0), self.bar_s, self.velocity(48))

    def lead(self) -> None:
        if self.style.lead is None or self.energy < 0.35:
            return
        inst = self.instrument(self.style.lead, "lead")
        pentatonic = (0, 1, 2, 4, 5) if self.mode == "major" else (0, 2, 3, 4, 6)
        rhythm = sorted(self.rng.sample(range(0, 32, 2), 6))
        contour = [self.rng.choice(pentatonic) for _ in rhythm]
        for phrase_bar in range(2, self.bars - 1, 2):
            if self.rng.random() < 0.35:
                continue  # leave air: the lead answers, it doesn't talk over everything
            for step, degree in zip(rhythm, contour):
                bar, s = divmod(step, 16)
                self.add(inst, self.degree_pitch(degree, 5), self.t(phrase_bar + bar, s), self.step_s * 3, self.velocity(74))

    def riser_bar(self) -> int:
        return max(0, int(self.duration_s / self.bar_s) - 1)

    def riser(self) -> None:
        inst = self.instrument(REVERSE_CYMBAL, "riser")
        end = self.duration_s
        start = max(0.0, end - 2 * self.bar_s)
        self.add(inst, 60, start, end - start, self.velocity(90))

    def compose(self) -> pretty_midi.PrettyMIDI:
        for part in (self.drums, self.bass, self.chords, self.pad, self.lead, self.riser):
            part()
        return self.midi


class ProceduralGenerator(MusicGenerator):
    name = "procedural"
    sample_rate = 44_100

    def __init__(self, soundfont_path: str | None = None, renderer: str = "auto", **_settings):
        """renderer: `fluidsynth` (a GM soundfont's instruments), `numpy` (the built-in synth), or
        `auto`: fluidsynth where it and a soundfont are installed, else numpy."""
        self._fluidsynth = self._soundfont = None
        if renderer in ("auto", "fluidsynth"):
            try:
                self._fluidsynth = require("fluidsynth", "fluidsynth")
                self._soundfont = Path(soundfont_path) if soundfont_path else soundfont()
            except BackendUnavailableError:
                if renderer == "fluidsynth":
                    raise
                self._fluidsynth = None
        self.renderer = "fluidsynth" if self._fluidsynth else "numpy"

    def compose(self, cue: MusicCue, duration_s: float, seed: int = 0) -> pretty_midi.PrettyMIDI:
        return Arranger(cue, duration_s, random.Random(seed)).compose()

    def generate(self, cue: MusicCue, duration_s: float, *, seed: int = 0) -> Clip:
        midi = self.compose(cue, duration_s, seed)
        if self.renderer == "numpy":
            return fit_bed(Clip(numpy_synth.render(midi, self.sample_rate, seed), self.sample_rate), duration_s)
        with tempfile.TemporaryDirectory() as tmp:
            mid, wav = Path(tmp) / "cue.mid", Path(tmp) / "cue.wav"
            midi.write(str(mid))
            run([self._fluidsynth, "-ni", "-q", "-g", "0.6", "-r", str(self.sample_rate), "-F", str(wav),
                 str(self._soundfont), str(mid)], "fluidsynth render")
            clip = read_clip(wav, channels=2)
        return fit_bed(clip, duration_s)

    def version(self) -> str:
        if self.renderer == "numpy":
            return f"pretty_midi {version('pretty_midi')}; numpy synth (no fluidsynth or soundfont here)"
        return f"pretty_midi {version('pretty_midi')}; {version_of(self._fluidsynth)}; {self._soundfont.name}"
