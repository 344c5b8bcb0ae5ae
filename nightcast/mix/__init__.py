"""Mix and master: timeline → mixed stereo → mastered, measured MP3."""

from nightcast.mix.master import master_episode, measure_loudness
from nightcast.mix.mixer import mix_episode
from nightcast.mix.timeline import plan_timeline, spoken_segments

__all__ = ["master_episode", "measure_loudness", "mix_episode", "plan_timeline", "spoken_segments"]
