"""Batch evaluation: manifest formats, every method, Table 1, a killed batch resumes, torchrun sharding."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from audio_editing.data.audio import load_audio
from audio_editing.errors import UserError
from audio_editing.evaluation import batch
from audio_editing.evaluation.manifests import check_entries, read_manifest, select_edit_types
from audio_editing.evaluation.rejudge import rejudge
from audio_editing.evaluation.rows import JUDGE_COLUMNS, METHODS, RESULT_COLUMNS, read_results
from tests.conftest import REPO, TINY_SECONDS, tiny_args, tiny_eval_args, write_scene_clip


def test_manifest_formats_agree(tmp_path):
    write_scene_clip(tmp_path / "a.wav", ["knock"])
    (tmp_path / "m.json").write_text(json.dumps(
        {"a": {"wav": "a.wav", "target_prompt": "a dog barks", "edit_type": "addition"}}))
    (tmp_path / "m.csv").write_text("id,wav,target_prompt,edit_type\na,a.wav,a dog barks,addition\n")
    (tmp_path / "authors" / "addition").mkdir(parents=True)
    (tmp_path / "authors" / "addition" / "a.txt").write_text(f"{tmp_path / 'a.wav'}\na dog barks\n")
    for name, clip_id in (("m.json", "a"), ("m.csv", "a"), ("authors", "addition_a")):  # authors': type in the id
        entries = read_manifest(tmp_path / name)
        assert [(e["id"], e["wav"], e["target_prompt"], e["edit_type"]) for e in entries] == \
               [(clip_id, str(tmp_path / "a.wav"), "a dog barks", "addition")]


def test_unknown_edit_type_is_a_user_error(tmp_path):
    (tmp_path / "m.csv").write_text("id,wav,target_prompt,edit_type\na,a.wav,x,declipping\n")
    with pytest.raises(UserError, match="unknown edit_type"):
        read_manifest(tmp_path / "m.csv")


def write_authors_folder(root):
    """A folder laid out like the paper authors' ``audio_text_pairs/``: edit-type folders of clip sub-folders,
    each ``<clip>.wav`` beside its ``<clip>.txt``, line 1 naming the wav in the three ways their files do."""
    clips = [  # (.txt below root, line 1, wav written beside it, scene)
        ("addition/audit/e1.txt", "e1.wav", "e1.wav", dict(labels=["knock"], seed=1)),
        ("addition/other/e1.txt", "audio_text_pairs/addition/other/e1.wav", "e1.wav", dict(labels=["dog"], seed=4)),
        ("Style-Transfer/x/s1.txt", "/data/authors/s1_original.wav", "s1.wav", dict(labels=["dog"], seed=2)),
        ("inpainting/gaps/i1.txt", "i1.wav", "i1.wav",
         dict(labels=["dog", "beep"], seed=3, gap=(0.5, 0.8), background="rain")),
    ]
    for txt, line1, wav, scene in clips:
        (root / txt).parent.mkdir(parents=True)
        write_scene_clip((root / txt).parent / wav, **scene)
        (root / txt).write_text(f"{line1}\na dog barks\n")
    return root


def test_the_authors_folder_reads_with_the_edit_type_from_the_first_folder(tmp_path):
    entries = read_manifest(write_authors_folder(tmp_path / "audio_text_pairs"))
    assert [(e["id"], e["edit_type"], e["wav"]) for e in entries] == [  # in path order: 'S' before 'a'
        ("style_transfer_x_s1", "style_transfer", str(tmp_path / "audio_text_pairs/Style-Transfer/x/s1.wav")),
        ("addition_audit_e1", "addition", str(tmp_path / "audio_text_pairs/addition/audit/e1.wav")),
        ("addition_other_e1", "addition", str(tmp_path / "audio_text_pairs/addition/other/e1.wav")),
        ("inpainting_gaps_i1", "inpainting", str(tmp_path / "audio_text_pairs/inpainting/gaps/i1.wav"))]


def test_a_bad_authors_folder_stops_with_one_error_saying_what_to_fix(tmp_path):
    root = write_authors_folder(tmp_path / "pairs")
    for i in range(4):  # prompts whose wav was never downloaded
        (root / "addition" / f"lost{i}").mkdir()
        (root / "addition" / f"lost{i}" / f"e{i}.txt").write_text(f"e{i}.wav\na cat meows\n")
    with pytest.raises(UserError, match=r"^4 \.txt file\(s\) of .* name a wav that does not exist "
                                        r"\(.*lost0/e0\.txt, .*lost1/e1\.txt, .*lost2/e2\.txt and 1 more\)"):
        read_manifest(root)
    shutil.rmtree(root / "addition" / "lost3")
    for i in range(3):
        shutil.copy(root / "addition/audit/e1.wav", root / "addition" / f"lost{i}" / f"e{i}.wav")
    assert len(read_manifest(root)) == 7
    (root / "addition" / "audit_e1.txt").write_text("audit/e1.wav\na dog barks\n")
    with pytest.raises(UserError, match="both give clip id 'addition_audit_e1'.*rename one"):
        read_manifest(root)
    (root / "addition" / "audit_e1.txt").unlink()
    (root / "declipping" / "a").mkdir(parents=True)
    (root / "declipping" / "a" / "c.txt").write_text("c.wav\nclean\n")
    with pytest.raises(UserError, match="'declipping' is not an edit type; the first folder below it must be"):
        read_manifest(root)
    shutil.rmtree(root / "declipping")
    (root / "notes.txt").write_text("e1.wav\nx\n")
    with pytest.raises(UserError, match="notes.txt: a .txt directly in the manifest folder has no edit type"):
        read_manifest(root)


@pytest.mark.slow
def test_evaluate_edits_every_clip_of_the_authors_folder(tmp_path, tiny_model_dir):
    root = write_authors_folder(tmp_path / "audio_text_pairs")
    out = tmp_path / "eval"
    args = [a for a in tiny_args(tiny_model_dir, out) if a not in ("--noprogressbar", "--method=imagic")]
    cmd = [sys.executable, "recipes/evaluate/evaluate.py", "hparams/evaluate.yaml", f"--manifest={root}",
           "--methods=[sdedit]", "--strengths=[0,1]", *args]
    done = subprocess.run(cmd, cwd=REPO, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_results(out / "results.csv")
    assert [(r["id"], r["edit_type"]) for r in rows] == [
        ("style_transfer_x_s1", "style_transfer"), ("addition_audit_e1", "addition"),
        ("addition_other_e1", "addition"), ("inpainting_gaps_i1", "inpainting")]
    for row in rows:
        assert (out / "sdedit" / row["edit_type"] / row["id"] / "best.wav").is_file()


# The paper authors' ``audio_text_pairs/`` as published: names repeat across edit types and sub-folders, line 1
# names the wav from the folder above (``audio_text_pairs/addition/audit/e1.wav``), a few clips are stereo
AUTHORS_CLIPS = (  # (clip below the root, channels, scene)
    ("addition/e1", 2, dict(labels=["knock"], seed=1)), ("addition/e2", 1, dict(labels=["dog"], seed=2)),
    ("addition/audit/e1", 1, dict(labels=["beep"], seed=3)),
    ("inpainting/e1", 1, dict(labels=["dog", "beep"], seed=4, gap=(0.5, 0.8), background="rain")),
    ("inpainting/e3", 2, dict(labels=["knock", "dog"], seed=5, gap=(0.4, 0.7), background="rain")),
    ("inpainting/audit/e1", 1, dict(labels=["beep", "dog"], seed=6, gap=(0.6, 0.9), background="rain")),
    ("style_transfer/e1", 1, dict(labels=["dog"], seed=7)))


def write_published_authors_folder(root, seconds):
    import numpy as np
    import soundfile

    for clip, channels, scene in AUTHORS_CLIPS:
        wav = root / f"{clip}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        write_scene_clip(wav, seconds=seconds, **scene)
        if channels == 2:
            mono, rate = soundfile.read(str(wav))
            soundfile.write(str(wav), np.stack([mono, 0.5 * mono], axis=1), rate, subtype="PCM_16")
        wav.with_suffix(".txt").write_text(f"audio_text_pairs/{clip}.wav\na dog barks and a knock\n")
    return root


def test_the_authors_published_folder_gives_every_clip_its_own_id(tmp_path):
    import soundfile

    root = write_published_authors_folder(tmp_path / "audio_text_pairs", seconds=10.0)
    entries = read_manifest(root)
    assert sorted((e["id"], e["wav"]) for e in entries) == sorted(
        (clip.replace("/", "_"), str(root / f"{clip}.wav")) for clip, _, _ in AUTHORS_CLIPS)
    assert [soundfile.info(e["wav"]).channels for e in entries if e["id"] in ("addition_e1", "inpainting_e3")] == [2, 2]
    check_entries(entries)  # 10 s, stereo and mono alike


@pytest.mark.slow
def test_evaluate_edits_every_clip_of_the_authors_published_folder(tmp_path, tiny_model_dir):
    root = write_published_authors_folder(tmp_path / "audio_text_pairs", seconds=TINY_SECONDS)
    entries = read_manifest(root)
    out = tmp_path / "eval"
    rows = batch.evaluate_manifest(entries, ["sdedit"], out, tiny_eval_args(tiny_model_dir, "--strengths=[1]"), REPO)
    found, edited = {e["id"] for e in entries}, [r["id"] for r in rows]
    assert len(found) == len(AUTHORS_CLIPS) and sorted(edited) == sorted(found)
    for row in rows:
        assert (out / "sdedit" / row["edit_type"] / row["id"] / "best.wav").is_file()


def test_edit_types_select_clips_of_the_manifest():
    entries = read_manifest(REPO / "benchmarks/toy_world/manifest.json")
    chosen = select_edit_types(entries, "[style_transfer, inpainting]")  # as the command line gives it
    assert len(chosen) == 18 and {e["edit_type"] for e in chosen} == {"style_transfer", "inpainting"}
    assert select_edit_types(entries, None) == entries
    for bad in (["declipping"], []):
        with pytest.raises(UserError, match="choose one or more of addition"):
            select_edit_types(entries, bad)
    with pytest.raises(UserError, match="no clip of edit type inpainting"):
        select_edit_types([e for e in entries if e["edit_type"] == "addition"], ["inpainting"])


@pytest.mark.slow
def test_killed_batch_resumes_without_redoing_finished_clips(tmp_path, tiny_model_dir, monkeypatch):
    write_scene_clip(tmp_path / "a.wav", ["knock"], seed=1)
    write_scene_clip(tmp_path / "b.wav", ["dog"], seed=2)
    (tmp_path / "m.json").write_text(json.dumps({
        "a": {"wav": "a.wav", "target_prompt": "a knock and a dog barks", "edit_type": "addition",
              "added_prompt": "a dog barks", "reference": "b.wav"},
        "b": {"wav": "b.wav", "target_prompt": "a siren wails", "edit_type": "style_transfer"}}))
    entries = read_manifest(tmp_path / "m.json")
    out = tmp_path / "eval"
    args = tiny_eval_args(tiny_model_dir)

    import audio_editing.recipe as recipe

    edited, real_run_edit = [], recipe.run_edit

    def dies_on_second_clip(editor, argv, models=None):
        if any(a == "--edit_id=b" for a in argv):
            raise KeyboardInterrupt("killed")
        edited.append(argv)
        return real_run_edit(editor, argv, models)

    monkeypatch.setattr(recipe, "run_edit", dies_on_second_clip)
    with pytest.raises(KeyboardInterrupt):
        batch.evaluate_manifest(entries, ["imagic"], out, args, REPO)
    assert [r["id"] for r in read_results(out / "results.csv")] == ["a"]

    edited.clear()
    monkeypatch.setattr(recipe, "run_edit", lambda editor, argv, models=None:
                        edited.append(argv) or real_run_edit(editor, argv, models))
    rows = batch.evaluate_manifest(entries, ["imagic"], out, args, REPO)
    assert len(edited) == 1 and "--edit_id=b" in edited[0]  # clip a was not edited again
    assert [r["id"] for r in rows] == ["a", "b"]
    table = (out / "results.md").read_text()
    assert "| addition | imagic | 1 |" in table and "| style_transfer | imagic | 1 |" in table
    first = read_results(out / "results.csv")[0]
    assert first["ref_mel_snr"] and first["added_text_clap"] and first["text_clap_input"]


def write_manifest(folder, edit_types=("addition", "inpainting")):
    """A small manifest: one clip per edit type, with the optional fields the benchmark has."""
    clips = {
        "addition": dict(labels=["knock"], seed=1, target_prompt="a knock and a dog barks", added_prompt="a dog barks"),
        "style_transfer": dict(labels=["dog"], seed=2, target_prompt="a siren wails"),
        "inpainting": dict(labels=["dog", "beep"], seed=3, gap=(0.5, 0.8), background="rain",
                           target_prompt="a dog barks", mask_start=0.5, mask_end=0.8),
    }
    manifest = {}
    for edit_type in edit_types:
        spec = dict(clips[edit_type])
        write_scene_clip(folder / f"{edit_type}.wav", spec.pop("labels"), seed=spec.pop("seed"),
                         gap=spec.pop("gap", None), background=spec.pop("background", None))
        write_scene_clip(folder / f"{edit_type}_ref.wav", ["dog", "siren"], seed=9)
        manifest[edit_type] = {"wav": f"{edit_type}.wav", "reference": f"{edit_type}_ref.wav", "edit_type": edit_type,
                               **spec}
    (folder / "m.json").write_text(json.dumps(manifest))
    return folder / "m.json"


@pytest.mark.slow
def test_every_method_gets_the_same_scores_and_the_table_one_summary(tmp_path, tiny_model_dir):
    entries = read_manifest(write_manifest(tmp_path))
    out = tmp_path / "eval"
    args = tiny_eval_args(tiny_model_dir, "--strengths=[0,0.5,1]")
    methods = ["imagic", "imagic_lora", "sdedit", "ddpm_inversion"]
    rows = batch.evaluate_manifest(entries, methods, out, args, REPO)
    assert [(r["id"], r["method"]) for r in rows] == [(e["id"], m) for e in entries for m in methods]
    per_value = {(r["id"], r["method"], float(r["eta"])): r for r in read_results(out / "eta_scores.csv")}
    for row in rows:
        assert all(row[k] for k in ("text_clap", "audio_clap", "sum", "onset_f1", "ref_mel_snr")), row
        chosen = per_value[(row["id"], row["method"], float(row["best_eta"]))]  # the row reports its chosen value
        for key in ("text_clap", "audio_clap", "sum", "onset_f1"):
            assert float(row[key]) == pytest.approx(float(chosen[key]), abs=1e-6), (key, row, chosen)
        inpainting = row["edit_type"] == "inpainting"
        assert bool(row["text_clap_span"]) == inpainting and bool(row["ref_mel_snr_span"]) == inpainting
        # the eta=0 checks of steps 1-2: the method on inpainting only (the baselines train nothing)
        checked = inpainting and row["method"] in ("imagic", "imagic_lora")
        for key in ("eta0_free_mel_snr_observed", "eta0_span_held_mel_snr_observed", "vae_mel_snr_observed"):
            assert bool(row[key]) == checked, (key, row)
        sweep = "strength" if row["method"] in ("sdedit", "ddpm_inversion") else "eta"
        assert (out / row["method"] / row["edit_type"] / row["id"] / f"edit_{sweep}1.00.wav").is_file()
    table = (out / "results.md").read_text()
    assert ("| edit type | method | clips | judge success [95% CI] | preservation | target | event F1 vs reference "
            "| Sum | Text | Audio | onset F1 | ref SNR (dB) |") in table
    for method in methods:
        assert f"| inpainting | {method} | 1 |" in table
    added = table.split("## Addition: the added sound's Text score against eta / strength")[1]
    assert "| imagic | eta | 0: " in added and "| sdedit | strength | 0: " in added
    for edit_type in ("addition", "inpainting"):
        assert (out / f"clap_vs_eta_{edit_type}.png").is_file() and f"(clap_vs_eta_{edit_type}.png)" in table
    sweeps = {(r["method"], r["sweep"]) for r in read_results(out / "eta_scores.csv")}
    assert sweeps == {("imagic", "eta"), ("imagic_lora", "eta"), ("sdedit", "strength"),
                      ("ddpm_inversion", "strength")}


@pytest.mark.slow
def test_rows_of_a_rank_killed_before_the_merge_are_kept_by_the_next_run(tmp_path, tiny_model_dir, monkeypatch):
    from audio_editing import recipe
    from audio_editing.evaluation.distributed import Shard

    entries = read_manifest(write_manifest(tmp_path, ("addition", "style_transfer", "inpainting")))
    out = tmp_path / "eval"
    args = tiny_eval_args(tiny_model_dir, "--strengths=[0,1]")
    edited, real_run_edit = [], recipe.run_edit
    monkeypatch.setattr(recipe, "run_edit", lambda editor, argv, models=None:
                        edited.append(argv) or real_run_edit(editor, argv, models))

    def killed(self):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(Shard, "barrier", killed)
    with pytest.raises(KeyboardInterrupt):  # rank 1 of 2 edits its clip (the second), then dies
        batch.evaluate_manifest(entries, ["sdedit"], out, args, REPO, Shard(rank=1, world_size=2))
    assert [a for a in edited[0] if a.startswith("--edit_id")] == ["--edit_id=style_transfer"]
    assert not (out / "results.csv").exists() and (out / "ranks" / "results_rank1.csv").is_file()

    monkeypatch.undo()
    monkeypatch.setattr(recipe, "run_edit", lambda editor, argv, models=None:
                        edited.append(argv) or real_run_edit(editor, argv, models))
    edited.clear()
    rows = batch.evaluate_manifest(entries, ["sdedit"], out, args, REPO)  # one process finishes the batch
    assert sorted(a for argv in edited for a in argv if a.startswith("--edit_id")) == \
           ["--edit_id=addition", "--edit_id=inpainting"]
    assert [r["id"] for r in rows] == ["addition", "style_transfer", "inpainting"]
    assert not (out / "ranks").exists()
    assert len(read_results(out / "eta_scores.csv")) == 6


def run_evaluate(launcher, manifest, out, model_dir):
    env = dict(os.environ, OMP_NUM_THREADS="1")  # torchrun's default per rank; the single run matches it
    args = [a for a in tiny_args(model_dir, out) if a not in ("--noprogressbar", "--method=imagic")]
    cmd = [sys.executable, *launcher, "recipes/evaluate/evaluate.py", "hparams/evaluate.yaml",
           f"--manifest={manifest}", "--methods=[imagic,ddpm_inversion]", "--strengths=[0,1]", *args]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("best edit") == 6  # each (clip, method) edited once, by one rank
    return read_results(out / "results.csv")


@pytest.mark.slow
def test_two_processes_under_torchrun_give_the_rows_of_one(tmp_path, tiny_model_dir):
    manifest = write_manifest(tmp_path, ("addition", "style_transfer", "inpainting"))
    single = run_evaluate([], manifest, tmp_path / "one", tiny_model_dir)
    sharded = run_evaluate(["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"], manifest,
                           tmp_path / "two", tiny_model_dir)
    assert [(r["id"], r["method"]) for r in sharded] == [(r["id"], r["method"]) for r in single]
    assert len(single) == 6
    for one, two in zip(single, sharded):
        for column in RESULT_COLUMNS:
            if column in ("id", "edit_type", "method", "seconds") or not one[column]:
                assert column == "seconds" or one[column] == two[column], column
                continue
            assert float(one[column]) == pytest.approx(float(two[column]), abs=1e-4), (one["id"], column)
    assert (tmp_path / "two" / "results.md").is_file() and not (tmp_path / "two" / "ranks").exists()


def test_a_folder_made_with_other_hparams_file_values_is_refused(tmp_path):
    """A changed default in a recipe's or backbone's hparams file is caught like a changed override;
    a changed comment is not a changed setting."""
    repo = tmp_path / "repo"
    shutil.copytree(REPO / "hparams", repo / "hparams")
    out = tmp_path / "eval"
    out.mkdir()

    def run():
        settings = batch.check_settings(out, ["--emb_steps=3"], repo, ["inpainting", "addition"])
        (out / batch.SETTINGS_FILE).write_text(json.dumps(settings))

    run()
    toy = repo / "hparams" / "backbones" / "toy.yaml"
    toy.write_text(toy.read_text().replace("# Step 1", "# Step one"))
    run()  # comments only: resumes
    toy.write_text(toy.read_text().replace("guidance_scale: 3.0", "guidance_scale: 4.0"))
    with pytest.raises(UserError, match="the hparams files of addition, the hparams files of inpainting"):
        run()


@pytest.mark.slow
def test_the_judge_scores_every_output_and_the_identity_and_reference_rows(tmp_path, tiny_model_dir):
    """On clips with ground truth the judge's verdict joins every row (chosen value and whole sweep); the
    identity row returns the input and fails, the reference row returns the reference edit and succeeds."""
    from audio_editing.registry import load_judge

    entries = [e for e in read_manifest(REPO / "benchmarks" / "toy_world" / "manifest.json")
               if e["id"] in ("addition_00", "style_transfer_00", "inpainting_00")]
    out = tmp_path / "eval"
    args = tiny_eval_args(tiny_model_dir, "--strengths=[0.5,1]")
    methods = ["sdedit", "identity", "reference"]
    rows = batch.evaluate_manifest(entries, methods, out, args, REPO, judge=load_judge("embedded:toy_world"))
    by = {(r["id"], r["method"]): r for r in rows}
    for entry in entries:
        for method in methods:
            row = by[(entry["id"], method)]
            assert all(row[k] not in (None, "") for k in JUDGE_COLUMNS), row
        assert float(by[(entry["id"], "identity")]["judge_success"]) == 0.0, entry["id"]
        assert float(by[(entry["id"], "reference")]["judge_success"]) == 1.0, entry["id"]
        folder = out / "identity" / entry["edit_type"] / entry["id"]
        assert torch.equal(load_audio(folder / "best.wav", 16000), load_audio(entry["wav"], 16000))
    per_eta = read_results(out / "eta_scores.csv")
    assert len([r for r in per_eta if r["method"] == "sdedit" and r["judge_success"] != ""]) == 3 * 2
    table = (out / "results.md").read_text()
    assert "## Selection rules, judged" in table and "| addition | sdedit | 1 |" in table
    rule_rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in table.splitlines()
                 if " | sdedit | 1 | " in line}
    assert rule_rows["addition"][-2] == "-" and rule_rows["inpainting"][-2] != "-"  # text_span: inpainting's rule
    for edit_type in ("addition", "style_transfer", "inpainting"):
        assert (out / f"tradeoff_{edit_type}.png").is_file() and f"(tradeoff_{edit_type}.png)" in table
    with pytest.raises(UserError, match="no reference edit"):
        batch.evaluate_manifest([dict(entries[0], reference=None)], ["reference"], tmp_path / "e2", args, REPO)
    # judged again from the written wavs (after a judge update): the same verdicts, nothing edited
    written = {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")}
    again = rejudge(entries, out, load_judge("embedded:toy_world"))
    assert [(r["id"], r["method"], float(r["judge_success"])) for r in again] == \
           [(r["id"], r["method"], float(r["judge_success"])) for r in rows]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.wav")} == written
    with pytest.raises(UserError, match="needs a judge"):
        rejudge(entries, out, None)


def test_addition_default_on_the_embedded_model_is_the_judged_schedule():
    """hparams/addition.yaml's backbone_schedule: 8 timesteps per step and 25 sampling steps on the embedded
    model (no worse by the judge on both sets at 0.39x the time); the command line still wins."""
    from audio_editing.cli import load_hparams

    base = {"input_wav": "x.wav", "target_prompt": "a dog barks", "edit_id": "x"}
    hparams, _ = load_hparams("hparams/addition.yaml", base)
    assert (hparams["backbone"], hparams["loss_batch"], hparams["sample_steps"]) == ("toy", 8, 25)
    hparams, _ = load_hparams("hparams/addition.yaml", {**base, "loss_batch": 16})
    assert hparams["loss_batch"] == 16


def test_imagic_paper_rows_run_the_papers_configuration():
    from audio_editing.cli import load_hparams, parse_arguments
    from audio_editing.recipe import PAPER_METHOD

    argv = ["hparams/addition.yaml", *METHODS["imagic_paper"], "--input_wav=x.wav", "--target_prompt=a dog barks",
            "--edit_id=x"]
    hparams_file, _, overrides = parse_arguments(argv)
    hparams, _ = load_hparams(hparams_file, overrides)
    assert {key: hparams[key] for key in PAPER_METHOD} == PAPER_METHOD
    assert (hparams["emb_steps"], hparams["ft_steps"], hparams["sample_steps"], hparams["ft_lr"]) == (500, 1500, 200, 1e-6)
    assert hparams["eta_selection"] == "max_sum" and hparams["init"] == "target"


def test_the_layer_gets_rows_only_for_the_edit_type_it_does(tmp_path, tiny_model_dir):
    """The layer only adds: on a manifest of addition and inpainting clips it edits the addition clip, and the
    inpainting clip gets no layer row (nor any folder) rather than a meaningless one."""
    entries = [e for e in read_manifest(REPO / "benchmarks" / "toy_world" / "manifest.json")
               if e["id"] in ("addition_00", "inpainting_00")]
    rows = batch.evaluate_manifest(entries, ["layer", "identity"], tmp_path / "eval",
                                   tiny_eval_args(tiny_model_dir), REPO)
    assert sorted((r["id"], r["method"]) for r in rows) == [
        ("addition_00", "identity"), ("addition_00", "layer"), ("inpainting_00", "identity")]
    assert not (tmp_path / "eval" / "layer" / "inpainting").exists()


@pytest.mark.slow
def test_each_edit_type_s_model_is_loaded_once_and_edits_as_a_fresh_load(tmp_path, tiny_model_dir, monkeypatch):
    """The batch loads an edit type's model and scorer once for all its clips and methods; a method run after a
    fine-tuning one starts from the pretrained UNet, so every output equals that of a model loaded for it alone."""
    from audio_editing.toy_world.model import ToyBackbone

    manifest = write_manifest(tmp_path, ("addition", "style_transfer"))
    entries = read_manifest(manifest) * 2
    entries[2:] = [{**e, "id": e["id"] + "_again"} for e in entries[2:]]
    args = [a for a in tiny_args(tiny_model_dir, tmp_path / "unused") if a not in ("--method=imagic",)
            and not a.startswith("--output_folder")]
    loads, real_load = [], ToyBackbone.from_pretrained.__func__
    monkeypatch.setattr(ToyBackbone, "from_pretrained",
                        classmethod(lambda cls, *a, **k: loads.append(a) or real_load(cls, *a, **k)))
    shared = batch.evaluate_manifest(entries, ["imagic", "sdedit"], tmp_path / "shared", args, REPO)
    assert len(loads) == 2 and len(shared) == 8  # one load per edit type, for 4 clips x 2 methods
    for entry in entries:
        for method in ("imagic", "sdedit"):
            batch.ClipEvaluator(tmp_path / "alone", args, REPO)(entry, method)  # a model of its own
    wavs = sorted(p.relative_to(tmp_path / "shared") for p in (tmp_path / "shared").rglob("*.wav"))
    assert len(wavs) > 8
    for wav in wavs:
        assert (tmp_path / "shared" / wav).read_bytes() == (tmp_path / "alone" / wav).read_bytes(), wav
