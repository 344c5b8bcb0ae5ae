"""The data nightcast ships and reads: packaged folders found through importlib.resources, and
user-supplied YAML read into models, every failure turned into one precise InputError."""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from nightcast.errors import InputError, UnknownNameError
from nightcast.schema import EpisodeTemplate, ListenerProfile

M = TypeVar("M", bound=BaseModel)


def packaged(package: str, *parts: str) -> Path:
    """A folder shipped inside the distribution (`nightcast.templates`, `nightcast.profiles`, ...), as
    a path: the same from a wheel in site-packages as from a checkout. Wheels install unzipped, so
    the resource is a real directory that file APIs, globbing and ffmpeg can read. The package is
    located, not imported: finding the presets must not load the speech stage."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise InputError("packaged data not found (a broken install?)", source=package)
    return Path(next(iter(spec.submodule_search_locations)), *parts)


def _field_path(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        else:
            parts.append(str(item))
    return ".".join(parts)


def parse_model(data: object, model: type[M], source: str | Path) -> M:
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping of fields, got {type(data).__name__}", source=source)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = _field_path(err["loc"]) or None
        message = err["msg"]
        if err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] == "extra_forbidden":
            message = f"unknown field; allowed: {', '.join(model.model_fields)}" if len(err["loc"]) == 1 else "unknown field"
        elif err["type"] == "string_pattern_mismatch" and field == "id":
            message = f"{err['input']!r} is not a valid id (must match [a-z0-9][a-z0-9_-]{{0,63}})"
        more = len(exc.errors()) - 1
        if more:
            message += f" (and {more} more problem{'s' if more > 1 else ''})"
        raise InputError(message, source=source, field=field) from None


def read_yaml(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError("file not found", source=path) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read file ({exc.__class__.__name__}: {exc})", source=path) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InputError(f"invalid YAML{where}: {problem}", source=path) from None


def load_profile(path: str | Path) -> ListenerProfile:
    path = Path(path)
    return parse_model(read_yaml(path), ListenerProfile, path)


def names_in(folder: Path) -> list[str]:
    return sorted(p.stem for p in Path(folder).glob("*.yaml"))


def load_named(name: str, folder: Path, model: type[M], kind: str, field: str) -> M:
    """`<folder>/<name>.yaml` as a model whose id is its file name; an unknown name lists the known ones."""
    path = Path(folder) / f"{name}.yaml"
    if not path.is_file():
        raise UnknownNameError(kind, name, names_in(folder), field=field)
    loaded = parse_model(read_yaml(path), model, path)
    if loaded.id != name:
        raise InputError(f"id '{loaded.id}' must match the file name '{name}'", source=path, field="id")
    return loaded


def template_names(templates_dir: Path) -> list[str]:
    return names_in(templates_dir / "formats")


def load_template(name: str, templates_dir: Path) -> EpisodeTemplate:
    return load_named(name, templates_dir / "formats", EpisodeTemplate, "template", "template")
