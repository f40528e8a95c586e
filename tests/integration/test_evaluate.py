"""Batch evaluation: manifest formats, one row per clip and method, a killed batch resumes."""

import json

import pytest

from audio_editing.errors import UserError
from audio_editing.evaluation import batch
from tests.conftest import REPO, tiny_args, write_scene_clip


def test_manifest_formats_agree(tmp_path):
    write_scene_clip(tmp_path / "a.wav", ["knock"])
    (tmp_path / "m.json").write_text(json.dumps(
        {"a": {"wav": "a.wav", "target_prompt": "a dog barks", "edit_type": "addition"}}))
    (tmp_path / "m.csv").write_text("id,wav,target_prompt,edit_type\na,a.wav,a dog barks,addition\n")
    (tmp_path / "authors" / "addition").mkdir(parents=True)
    (tmp_path / "authors" / "addition" / "a.txt").write_text(f"{tmp_path / 'a.wav'}\na dog barks\n")
    read = [batch.read_manifest(tmp_path / name) for name in ("m.json", "m.csv", "authors")]
    for entries in read:
        assert [(e["id"], e["wav"], e["target_prompt"], e["edit_type"]) for e in entries] == \
               [("a", str(tmp_path / "a.wav"), "a dog barks", "addition")]


def test_unknown_edit_type_is_a_user_error(tmp_path):
    (tmp_path / "m.csv").write_text("id,wav,target_prompt,edit_type\na,a.wav,x,declipping\n")
    with pytest.raises(UserError, match="unknown edit_type"):
        batch.read_manifest(tmp_path / "m.csv")


def test_killed_batch_resumes_without_redoing_finished_clips(tmp_path, tiny_model_dir, monkeypatch):
    write_scene_clip(tmp_path / "a.wav", ["knock"], seed=1)
    write_scene_clip(tmp_path / "b.wav", ["dog"], seed=2)
    (tmp_path / "m.json").write_text(json.dumps({
        "a": {"wav": "a.wav", "target_prompt": "a knock and a dog barks", "edit_type": "addition",
              "added_prompt": "a dog barks", "reference": "b.wav"},
        "b": {"wav": "b.wav", "target_prompt": "a siren wails", "edit_type": "style_transfer"}}))
    entries = batch.read_manifest(tmp_path / "m.json")
    out = tmp_path / "eval"
    args = [a for a in tiny_args(tiny_model_dir, "unused") if not a.startswith("--output_folder")]

    import audio_editing.editing.recipe as recipe

    edited, real_run_edit = [], recipe.run_edit

    def dies_on_second_clip(editor, argv):
        if any(a == "--edit_id=b" for a in argv):
            raise KeyboardInterrupt("killed")
        edited.append(argv)
        return real_run_edit(editor, argv)

    monkeypatch.setattr(recipe, "run_edit", dies_on_second_clip)
    with pytest.raises(KeyboardInterrupt):
        batch.evaluate_manifest(entries, ["imagic"], out, args, REPO)
    assert [r["id"] for r in batch.read_results(out / "results.csv")] == ["a"]

    edited.clear()
    monkeypatch.setattr(recipe, "run_edit", lambda editor, argv: edited.append(argv) or real_run_edit(editor, argv))
    rows = batch.evaluate_manifest(entries, ["imagic"], out, args, REPO)
    assert len(edited) == 1 and "--edit_id=b" in edited[0]  # clip a was not edited again
    assert [r["id"] for r in rows] == ["a", "b"]
    table = (out / "results.md").read_text()
    assert "| addition | imagic | 1 |" in table and "| style_transfer | imagic | 1 |" in table
    first = batch.read_results(out / "results.csv")[0]
    assert first["ref_mel_snr"] and first["added_text_clap"] and first["text_clap_input"]
