"""The edit-type registry: every place an edit type appears reads it, and every registered type is complete."""

import json

import pytest

from audio_editing.demo import DEMO_METHODS, EDIT_TYPE_LABELS
from audio_editing.editing.edit_types import EDIT_TYPES, REGISTRY, check_edit_type, editor_class
from audio_editing.editing.imagic import ImagicEditor
from audio_editing.editing.methods import METHOD_NAMES
from audio_editing.errors import UserError
from audio_editing.evaluation.manifests import select_edit_types
from audio_editing.toy_world import benchmark, judge
from tests.conftest import REPO


def test_every_recipe_folder_is_registered_and_every_registered_type_has_its_recipe():
    folders = {script.parent.name for script in REPO.glob("recipes/*/edit.py")}
    assert folders == set(EDIT_TYPES)
    for name, edit_type in REGISTRY.items():
        editor = editor_class(name)
        assert issubclass(editor, ImagicEditor) and editor.__name__ == edit_type.editor and editor.edit_type == name
        assert (REPO / edit_type.hparams).is_file()


def test_the_evaluator_the_demo_the_benchmark_and_the_judge_take_every_registered_type():
    assert benchmark.EDIT_TYPES == EDIT_TYPES  # the toy world names its own, in the registry's order
    assert set(DEMO_METHODS) == set(EDIT_TYPE_LABELS) == set(EDIT_TYPES)
    assert all(set(methods) <= set(METHOD_NAMES) for methods in DEMO_METHODS.values())
    assert set(benchmark.ITEMS) == set(EDIT_TYPES)
    assert set(judge.RULES) == set(EDIT_TYPES)
    entries = [{"id": name, "edit_type": name} for name in EDIT_TYPES]
    assert select_edit_types(entries, f"[{','.join(EDIT_TYPES)}]") == entries


def test_the_shipped_benchmark_has_nine_clips_of_every_registered_type():
    manifest = json.loads((REPO / "benchmarks" / "toy_world" / "manifest.json").read_text())
    counts = {name: sum(entry["edit_type"] == name for entry in manifest.values()) for name in EDIT_TYPES}
    assert counts == {name: 9 for name in EDIT_TYPES}


def test_an_unregistered_edit_type_is_one_line_naming_the_choices(tmp_path):
    with pytest.raises(UserError, match="unknown edit type 'declipping'; choose one of addition, style_transfer"):
        check_edit_type("declipping")
    with pytest.raises(UserError, match="unknown edit type"):
        editor_class("declipping")
    with pytest.raises(UserError, match="no rule for edit type 'declipping'"):
        judge.judge_edit({"edit_type": "declipping"}, [])
