"""Which code may import which: the layers, lowest first. Dependencies point down.

A module belongs to the layer of the longest package prefix below that names it. A module may import
its own layer and the layers beneath it, never one above; the stages are siblings that never import
one another (what they share is core vocabulary); only the flows import Prefect.
tests/unit/test_layers.py holds every module of the distribution to this table.
"""

from __future__ import annotations

LAYERS: dict[str, tuple[str, ...]] = {
    # models, settings, errors, registry, audio, text, styles, keys, shipped data, stores, tools
    "core": ("nightcast", "nightcast.schema", "nightcast.settings", "nightcast.errors", "nightcast.registry",
             "nightcast.audio", "nightcast.text", "nightcast.styles", "nightcast.keys",
             "nightcast.data_files", "nightcast.profile_store", "nightcast.binaries", "nightcast.idle_priority",
             "nightcast.devices", "nightcast.sampling", "nightcast.batching", "nightcast.progress", "nightcast.layers", "nightcast.templates",
             "nightcast.profiles"),
    # profile → script, script → speech, script → music: each unaware of the others
    "stages": ("nightcast.generators", "nightcast.generators.script", "nightcast.voices",
               "nightcast.generators.music"),
    "post-production": ("nightcast.mix", "nightcast.qa", "nightcast.publish"),
    "render": ("nightcast.render",),
    "flows": ("nightcast.flows",),
    # a listener's data across the stores, the cache and the Prefect server: export, erasure
    "rights": ("nightcast.rights",),
    "faces": ("nightcast.cli", "nightcast.cli_progress", "nightcast.api"),
}
SIBLINGS = ("nightcast.generators.script", "nightcast.voices", "nightcast.generators.music")
PREFECT_LAYER = "flows"


def owner(module: str) -> str:
    """The table entry (package or module) that `module` belongs to: the longest matching prefix."""
    matches = [name for names in LAYERS.values() for name in names
               if module == name or module.startswith(name + ".")]
    if not matches:
        raise KeyError(f"{module} is in no layer of nightcast/layers.py")
    return max(matches, key=len)


def layer_of(module: str) -> str:
    entry = owner(module)
    return next(layer for layer, names in LAYERS.items() if entry in names)


def rank(module: str) -> int:
    return list(LAYERS).index(layer_of(module))


def violation(importer: str, imported: str) -> str | None:
    """Why `importer` may not import `imported` (both nightcast modules, or `prefect`); None when it may."""
    if imported.split(".")[0] == "prefect":
        return None if layer_of(importer) == PREFECT_LAYER else f"only the {PREFECT_LAYER} layer imports prefect"
    if rank(imported) > rank(importer):
        return f"{layer_of(importer)} imports {layer_of(imported)}, a layer above it"
    mine, theirs = owner(importer), owner(imported)
    if mine in SIBLINGS and theirs in SIBLINGS and mine != theirs:
        return f"stage {mine} imports stage {theirs}; stages share only core"
    return None
