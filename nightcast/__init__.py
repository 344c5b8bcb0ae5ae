"""nightcast: personalized podcast / radio-DJ episodes.

The data path is the architecture:
profile → script (nightcast.generators.script) → speech (nightcast.voices) → music
(nightcast.generators.music) → mix (nightcast.mix) → episode (nightcast.publish), chained by
nightcast.flows.episode. The layers, and which may import which, are in nightcast/layers.py.

One import namespace, two shapes on disk. In the repository the published top-level folders
(flows/, generators/, voices/, templates/, profiles/) sit beside this package; the wheel installs
them inside it (pyproject's package-dir). In a checkout, the repository root joins this package's
path, so `nightcast.flows` and friends import the same way from a checkout (editable install or
PYTHONPATH) as from an installed wheel.
"""

from pathlib import Path as _Path

__version__ = "0.1.0"

_checkout = _Path(__file__).resolve().parent.parent
if not (_Path(__file__).parent / "flows").is_dir() and (_checkout / "flows" / "__init__.py").is_file():
    __path__.append(str(_checkout))  # noqa: F821 - a package's own __path__
