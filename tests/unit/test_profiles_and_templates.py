from pathlib import Path

import pytest
import yaml

from nightcast.data_files import load_profile, load_template, template_names
from nightcast.errors import InputError, UnknownNameError

from helpers import PROFILES, TEMPLATES


def write(tmp_path: Path, data, name="p.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def valid() -> dict:
    return yaml.safe_load((PROFILES / "maya.yaml").read_text())


@pytest.mark.parametrize("name", ["maya", "dre", "hiro"])
def test_example_profiles_are_valid(name):
    profile = load_profile(PROFILES / f"{name}.yaml")
    assert profile.id == name and profile.favourite_artists


def test_example_profiles_differ_sharply():
    genres = [set(load_profile(PROFILES / f"{n}.yaml").favourite_genres) for n in ("maya", "dre", "hiro")]
    assert not (genres[0] & genres[1]) and not (genres[1] & genres[2]) and not (genres[0] & genres[2])


@pytest.mark.parametrize(
    "mutate, field, words",
    [
        (lambda d: d.pop("name"), "name", "required field is missing"),
        (lambda d: d.update(id="Maya!"), "id", "not a valid id"),
        (lambda d: d.update(id="-maya"), "id", "not a valid id"),
        (lambda d: d.update(id="a" * 65), "id", "not a valid id"),
        (lambda d: d.update(timezone="Mars/Olympus"), "timezone", "unknown IANA timezone"),
        (lambda d: d.update(favourite_artists=["x"] * 51), "favourite_artists", "at most 50"),
        (lambda d: d.update(favourite_genres=[""]), "favourite_genres[0]", "at least 1 character"),
        (lambda d: d.update(colour="blue"), "colour", "unknown field"),
        (lambda d: d["history"][1].update(plays=0), "history[1].plays", "greater than or equal to 1"),
        (lambda d: d.update(name="Maya\x07"), None, "control characters"),
    ],
)
def test_bad_profiles_name_file_and_field(tmp_path, mutate, field, words):
    data = valid()
    mutate(data)
    path = write(tmp_path, data)
    with pytest.raises(InputError) as caught:
        load_profile(path)
    message = str(caught.value)
    assert str(path) in message and words in message
    if field:
        assert caught.value.field == field and f"field '{field}'" in message
    assert "\n" not in message


def test_bad_yaml_reports_line(tmp_path):
    path = write(tmp_path, "id: maya\nname: [unclosed\n")
    with pytest.raises(InputError, match=r"invalid YAML at line \d+"):
        load_profile(path)


def test_unreadable_and_missing_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_profile(tmp_path / "nope.yaml")
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(InputError, match="cannot read file"):
        load_profile(tmp_path / "dir.yaml")


def test_profile_that_is_not_a_mapping(tmp_path):
    with pytest.raises(InputError, match="expected a mapping"):
        load_profile(write(tmp_path, "- just\n- a list\n"))


def test_templates_load_and_hold_their_contract():
    names = template_names(TEMPLATES)
    assert {"morning-drive", "nightly-digest"} <= set(names)
    for name in names:
        template = load_template(name, TEMPLATES)
        slots = template.expanded_slots()
        assert slots[0].kind.value == "intro" and slots[-1].kind.value == "outro"
        assert template.min_duration_s <= template.target_duration_s <= template.max_duration_s
    assert load_template("morning-drive", TEMPLATES).target_duration_s == 600
    assert load_template("nightly-digest", TEMPLATES).target_duration_s == 300


def test_unknown_template_lists_valid_names():
    with pytest.raises(UnknownNameError, match="unknown template 'jazz-hour'; valid: .*morning-drive"):
        load_template("jazz-hour", TEMPLATES)


def test_invalid_template_is_precise(tmp_path):
    (tmp_path / "formats").mkdir()
    data = yaml.safe_load((TEMPLATES / "formats" / "nightly-digest.yaml").read_text())
    data["slots"] = data["slots"][1:]
    (tmp_path / "formats" / "nightly-digest.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match="must start with an 'intro'"):
        load_template("nightly-digest", tmp_path)


def test_a_dialogue_slot_needs_cohosts(tmp_path):
    (tmp_path / "formats").mkdir()
    data = yaml.safe_load((TEMPLATES / "formats" / "two-hosts.yaml").read_text())
    del data["cohosts"]
    (tmp_path / "formats" / "two-hosts.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match="'dialogue: true' needs 'cohosts'"):
        load_template("two-hosts", tmp_path)
