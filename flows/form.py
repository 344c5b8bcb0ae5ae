"""The `render-episode` form in the Prefect UI: Prefect's schema of the flow's parameters, with
RenderRequest's help text on every field, the choices known at deploy time (formats, voices,
writers, music generators) and the id pattern a listener must match. The deployment enforces its
schema, so a bad value is refused in the form and by the server's API (422), not minutes later in a
failed run. Re-deploy after adding a format or voice.

Listeners are counted in the field's help and the deployment's description, not named and not
offered as a closed list: the store changes every day (sign-ups, imports), so a list fixed at deploy
time would refuse today's new listener; and Prefect's event log keeps every earlier version of a
deployment's description and schema (a `deployment.updated` event carries the old value) for its
retention period, with no way to erase one listener from it, so an id written there could not be
erased (`nightcast listeners forget`). The help says how to list them.
"""

from __future__ import annotations

from prefect.utilities.callables import ParameterSchema

from nightcast.data_files import template_names
from nightcast.errors import NightcastError
from nightcast.generators.music import GENERATORS
from nightcast.generators.script import WRITERS
from nightcast.render.request import OUT_DIR_HELP, Backends, RenderRequest
from nightcast.schema import NAME_PATTERN
from nightcast.settings import Settings
from nightcast.voices.presets import preset_names


LISTENER_HELP = ("A listener id in the profile store, lowercase, without quotes (letters, digits, - and _); "
                 "`nightcast profiles list` lists them.")
DATE_HELP = ("Episode date YYYY-MM-DD. Default: today in the listener's own time zone (their profile's "
             "`timezone`), not the server's: a listener in Tokyo is already on tomorrow's date after 15:00 UTC.")


def listener_ids(settings: Settings) -> list[str]:
    try:
        return settings.profile_store().listener_ids()
    except (NightcastError, OSError):
        return []  # no store yet: the form takes any id the pattern allows


def _choices(field: dict, names: list[str]) -> None:
    """A nullable string field (Prefect writes `anyOf: [string, null]`) offered as a list of names."""
    for option in field.get("anyOf", [field]):
        if option.get("type") == "string":
            option["enum"] = sorted(names)


def render_form(settings: Settings, schema: ParameterSchema) -> ParameterSchema:
    data = schema.model_dump()
    fields = data["properties"]
    for name, field in fields.items():
        model_field = RenderRequest.model_fields.get(name)
        field["description"] = model_field.description if model_field else OUT_DIR_HELP if name == "out_dir" else ""
    fields["listener"]["description"] = f"{LISTENER_HELP} {_counted(listener_ids(settings))}"
    fields["listener"]["pattern"] = NAME_PATTERN
    fields["date"]["description"] = DATE_HELP
    _choices(fields["template"], template_names(settings.templates_dir))
    backends = data["definitions"]["Backends"]["properties"]
    for name, field in backends.items():
        field["description"] = Backends.model_fields[name].description or ""
    _choices(backends["writer"], WRITERS.names())
    _choices(backends["voice"], preset_names(settings.presets_dir))
    _choices(backends["music"], GENERATORS.names())
    return ParameterSchema(**data)


def _counted(listeners: list[str]) -> str:
    if not listeners:
        return "The profile store was empty at deploy time."
    return f"The profile store held {len(listeners)} listener(s) at deploy time."


def render_description(settings: Settings) -> str:
    """The deployment's description: what it does, and who can be rendered."""
    return (f"Render one listener's episode, checked by the QA gate, into their feed. {_counted(listener_ids(settings))} "
            "`nightcast profiles list` names them.")
