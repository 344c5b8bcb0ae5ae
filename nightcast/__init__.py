"""nightcast: personalized podcast / radio-DJ episodes.

The data path is the architecture:
profile → script (generators.script) → speech (voices) → music (generators.music)
→ mix (nightcast.mix) → episode (nightcast.publish), chained by flows.episode.
"""

__version__ = "0.1.0"
