"""Profile stores: the YAML folder and the SQL database behave the same to their callers."""

import shutil

import pytest
import yaml

from nightcast.data_files import load_profile
from nightcast.errors import InputError
from nightcast.profile_store import FolderStore, SqlStore, import_profiles, open_store

from helpers import PROFILES


def test_folder_store_lists_and_loads_listeners_by_id(tmp_path):
    for name in ("maya", "hiro"):
        shutil.copy(PROFILES / f"{name}.yaml", tmp_path / f"{name}.yaml")
    (tmp_path / "Not An Id.yaml").write_text("id: x\n")
    store = FolderStore(tmp_path)
    assert store.listener_ids() == ["hiro", "maya"]
    assert store.load("maya") == load_profile(PROFILES / "maya.yaml")


@pytest.mark.parametrize("bad", ["../maya", "Maya", "a/b", ""])
def test_stores_refuse_ids_that_are_not_listener_ids(tmp_path, bad):
    for store in (FolderStore(PROFILES), SqlStore(f"sqlite:///{tmp_path}/p.db")):
        with pytest.raises(InputError, match="is not a listener id"):
            store.load(bad)


def test_folder_store_checks_the_id_matches_the_file(tmp_path):
    data = yaml.safe_load((PROFILES / "maya.yaml").read_text())
    (tmp_path / "someone.yaml").write_text(yaml.safe_dump(data))
    with pytest.raises(InputError, match="must match the file name 'someone'"):
        FolderStore(tmp_path).load("someone")


def test_sql_store_round_trips_profiles_imported_from_yaml(tmp_path):
    url = f"sqlite:///{tmp_path}/profiles.db"
    imported = import_profiles([PROFILES], SqlStore(url))
    assert sorted(p.id for p in imported) == ["dre", "hiro", "maya"]
    store = open_store(tmp_path / "unused", url)  # a fresh connection: it really is on disk
    assert store.listener_ids() == ["dre", "hiro", "maya"]
    assert store.load("hiro") == load_profile(PROFILES / "hiro.yaml")
    with pytest.raises(InputError, match="no profile for listener 'zed'"):
        store.load("zed")


def test_import_is_all_or_nothing_and_names_the_bad_file(tmp_path):
    url = f"sqlite:///{tmp_path}/profiles.db"
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nname: Bad\nfavourite_artists: Daft Punk\n")  # a name where a list belongs
    with pytest.raises(InputError) as caught:
        import_profiles([PROFILES / "maya.yaml", bad], SqlStore(url))
    assert str(bad) in str(caught.value) and "favourite_artists" in str(caught.value)
    assert SqlStore(url).listener_ids() == []


def test_reimport_replaces_a_changed_profile(tmp_path):
    store = SqlStore(f"sqlite:///{tmp_path}/profiles.db")
    import_profiles([PROFILES / "maya.yaml"], store)
    data = yaml.safe_load((PROFILES / "maya.yaml").read_text())
    data["moods"] = ["euphoric"]
    edited = tmp_path / "maya.yaml"
    edited.write_text(yaml.safe_dump(data))
    import_profiles([edited], store)
    assert store.listener_ids() == ["maya"] and store.load("maya").moods == ["euphoric"]
