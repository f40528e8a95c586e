"""Re-prompting: a fit that does not read the prompt (``--init=empty``) is stored once per input and fit
settings and reused by every later prompt, on the command line and through the Python API."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from audio_editing.api import Editor
from audio_editing.editing.imagic import ImagicEditor
from audio_editing.recipe import run_edit
from audio_editing.errors import UserError
from tests.conftest import REPO, THREADS, edit_folder, tiny_args

original_fit = ImagicEditor.fit_batch


def edit(clip, model_dir, out_dir, prompt, *extra):
    return run_edit(ImagicEditor, ["hparams/addition.yaml", f"--input_wav={clip}", f"--target_prompt={prompt}",
                                   *tiny_args(model_dir, out_dir, *extra)])


def counting_fit_batch(monkeypatch):
    """The list that gets one item per optimisation step (of step 1 or 2) from now on."""
    calls = []
    monkeypatch.setattr(ImagicEditor, "fit_batch", lambda self, batch: calls.append(1) or original_fit(self, batch))
    return calls


def folder_digest(folder):
    """A hash of every file's path and bytes under ``folder``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return digest.hexdigest()


def test_a_second_prompt_with_init_empty_reuses_the_stored_fit(clip, tiny_model_dir, tmp_path, monkeypatch):
    first = edit(clip, tiny_model_dir, tmp_path, "a dog barks", "--init=empty")
    (fit_folder,) = (tmp_path / "fits").iterdir()
    saved, log_before = folder_digest(fit_folder / "save"), (fit_folder / "train_log.txt").read_text()
    calls = counting_fit_batch(monkeypatch)
    second = edit(clip, tiny_model_dir, tmp_path, "a siren wails", "--init=empty")
    assert not calls and second.resumed_from == "done"  # no optimisation step ran
    assert second.folder == edit_folder(tmp_path, clip, "a siren wails") != first.folder
    assert (first.folder / "best.wav").is_file() and (second.folder / "best.wav").is_file()
    assert folder_digest(fit_folder / "save") == saved  # the stored fit is untouched
    new_lines = (fit_folder / "train_log.txt").read_text()[len(log_before):]
    assert "phase:" not in new_lines and "resumed_from: done" in new_lines
    assert second.losses["embedding"] == first.losses["embedding"]
    assert f"steps 1-2 reused from {fit_folder} (same input and fit settings); sampling only" in \
           (second.folder / "log.txt").read_text()
    assert not (second.folder / "save").exists() and list((tmp_path / "fits").iterdir()) == [fit_folder]
    torch.testing.assert_close(second.latents[0], first.latents[0], rtol=0, atol=0)  # eta=0: the same fit
    # another fit setting is another stored fit; the first prompt's folder is refitted and resampled
    third = edit(clip, tiny_model_dir, tmp_path, "a dog barks", "--init=empty", "--emb_steps=3")
    assert len(calls) == 3 + 4 and third.folder == first.folder and len(list((tmp_path / "fits").iterdir())) == 2
    assert "fit settings changed (emb_steps 4 -> 3)" in (third.folder / "log.txt").read_text()


def test_with_init_target_each_prompt_is_fitted_and_the_run_says_so(clip, tiny_model_dir, tmp_path, monkeypatch):
    edit(clip, tiny_model_dir, tmp_path, "a dog barks")
    calls = counting_fit_batch(monkeypatch)
    second = edit(clip, tiny_model_dir, tmp_path, "a siren wails")
    assert len(calls) == 8 and second.resumed_from is None
    assert "init=target: the fit depends on the prompt; steps 1-2 run for this prompt" in \
           (second.folder / "log.txt").read_text()
    assert (second.folder / "save").is_dir() and not (tmp_path / "fits").exists()


def test_a_shared_fit_killed_mid_finetuning_resumes_for_the_next_prompt(clip, tiny_model_dir, tmp_path,
                                                                        monkeypatch):
    original = ImagicEditor.run_phase

    def die_in_finetune(self, phase, *args):
        if phase == "finetune":
            raise KeyboardInterrupt("killed")
        return original(self, phase, *args)

    monkeypatch.setattr(ImagicEditor, "run_phase", die_in_finetune)
    with pytest.raises(KeyboardInterrupt):
        edit(clip, tiny_model_dir, tmp_path, "a dog barks", "--init=empty")
    monkeypatch.setattr(ImagicEditor, "run_phase", original)
    calls = counting_fit_batch(monkeypatch)
    resumed = edit(clip, tiny_model_dir, tmp_path, "a siren wails", "--init=empty")
    assert resumed.resumed_from == "finetune step 0" and len(calls) == 4  # step 1 is not repeated


def test_inpainting_spans_are_separate_fits(gap_clip, tiny_model_dir, tmp_path):
    from audio_editing.editing.edit_types import editor_class

    editor = editor_class("inpainting")
    for span in (("0.5", "0.8"), ("0.5", "0.7")):
        run_edit(editor, ["hparams/inpainting.yaml", f"--input_wav={gap_clip}", "--target_prompt=a dog barks",
                          *tiny_args(tiny_model_dir, tmp_path), "--init=empty", f"--mask_start={span[0]}",
                          f"--mask_end={span[1]}", f"--edit_id=span_{span[1]}"])
    assert len(list((tmp_path / "fits").iterdir())) == 2


def float_clip(path):
    """A float wav: the command line writes its edits as float, so they compare to the bit."""
    rng = np.random.default_rng(5)
    t = np.arange(16000) / 16000
    sf.write(str(path), (0.4 * np.sin(2 * np.pi * 330 * t) + 0.1 * rng.standard_normal(16000)).astype("float32"),
             16000, subtype="FLOAT")
    return path


@pytest.fixture
def api_editor(tiny_model_dir):
    return Editor.from_hparams("hparams/addition.yaml", run_opts={"device": "cpu", "noprogressbar": True},
                               overrides={"backbone_source": str(tiny_model_dir), "emb_steps": 4, "ft_steps": 4,
                                          "sample_steps": 4, "etas": [0, 1], "init": "empty", "method": "imagic"})


@pytest.mark.slow
def test_the_apis_fit_and_two_edits_equal_the_command_lines(api_editor, tiny_model_dir, tmp_path):
    clip = float_clip(tmp_path / "clip.wav")
    prompts = ("a dog barks", "a siren wails")
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS), MKL_NUM_THREADS=str(THREADS))  # this process's count
    for prompt in prompts:
        done = subprocess.run([sys.executable, "recipes/addition/edit.py", "hparams/addition.yaml",
                               f"--input_wav={clip}", f"--target_prompt={prompt}",
                               *tiny_args(tiny_model_dir, tmp_path / "cli"), "--init=empty"],
                              cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    fit = api_editor.fit(clip)
    for prompt in prompts:
        api = api_editor.edit(fit, prompt)
        folder = edit_folder(tmp_path / "cli", clip, prompt)
        for i, eta in enumerate(api.etas):
            written = torch.from_numpy(sf.read(str(folder / f"edit_eta{eta:.2f}.wav"), dtype="float32")[0])
            assert torch.equal(api.wavs[i, 0], written), (prompt, eta)
        rows = (folder / "scores.csv").read_text().splitlines()[1:]
        assert [float(row.split(",")[1]) for row in rows] == [round(v, 4) for v in api.scores["text_clap"]]
        api.save(tmp_path / "api" / prompt)
        assert (tmp_path / "api" / prompt / "scores.csv").read_text() == (folder / "scores.csv").read_text()


def test_a_further_prompt_does_not_decode_the_inputs_vae_round_trip_again(api_editor, clip, monkeypatch):
    fit = api_editor.fit(clip)
    decoded = []
    real = ImagicEditor.decode_windows
    monkeypatch.setattr(ImagicEditor, "decode_windows", lambda self, z: decoded.append(len(z)) or real(self, z))
    first = api_editor.edit(fit, "a dog barks")
    assert decoded == [2, 1]  # the two etas, then the input's latent (vae_mel_snr)
    second = api_editor.edit(fit, "a siren wails")
    assert decoded == [2, 1, 2]
    assert second.result.metrics["vae_mel_snr"] == first.result.metrics["vae_mel_snr"]


def test_the_api_refuses_a_fit_of_another_prompt_and_misplaced_settings(api_editor, clip):
    with pytest.raises(UserError, match="pass target_prompt=... to fit"):
        api_editor.fit(clip, init="target")
    fit = api_editor.fit(clip, init="target", target_prompt="a dog barks", emb_steps=1, ft_steps=1)
    assert fit.prompt == "a dog barks" and len(fit.losses["embedding"]) == 1
    assert api_editor.edit(fit, "a dog barks").etas == [0.0, 1.0]
    with pytest.raises(UserError, match="this fit was made for the prompt 'a dog barks'"):
        api_editor.edit(fit, "a siren wails")
    with pytest.raises(UserError, match="'emb_steps' is a fit setting"):
        api_editor.edit(fit, "a dog barks", emb_steps=3)
    with pytest.raises(UserError, match="unknown hparam 'emb_stps'"):
        api_editor.fit(clip, emb_stps=3)
    with pytest.raises(UserError, match="'backbone_source' is set when the editor is loaded"):
        api_editor.fit(clip, backbone_source="elsewhere")
    with pytest.raises(UserError, match="eta values"):
        api_editor.edit(fit, "a dog barks", etas=[2])


def test_the_api_takes_a_tensor_and_its_rate_like_the_file(api_editor, clip):
    samples, rate = sf.read(str(clip), dtype="float32")
    from_file = api_editor.prepare_fit(clip)
    from_tensor = api_editor.prepare_fit(torch.from_numpy(samples), rate)
    assert from_tensor.identity == from_file.identity
    with pytest.raises(UserError, match="needs its sample_rate"):
        api_editor.prepare_fit(torch.from_numpy(samples))
    with pytest.raises(UserError, match="silent"):
        api_editor.prepare_fit(torch.zeros(16000), 16000)


def test_the_api_refuses_misused_fits_folders_and_tensors(api_editor, clip, tiny_model_dir, tmp_path):
    fit = api_editor.fit(clip, emb_steps=1, ft_steps=1, folder=tmp_path / "fit")
    with pytest.raises(UserError, match="holds the fit of another input or other settings .*emb_steps"):
        api_editor.fit(clip, emb_steps=2, ft_steps=1, folder=tmp_path / "fit")
    other = Editor.from_hparams("hparams/addition.yaml", run_opts={"device": "cpu", "noprogressbar": True},
                                overrides={"backbone_source": str(tiny_model_dir), "method": "imagic"})
    with pytest.raises(UserError, match="made by another Editor"):
        other.edit(fit, "a dog barks")
    with pytest.raises(UserError, match="has not run yet"):
        api_editor.edit(api_editor.prepare_fit(clip), "a dog barks")
    with pytest.raises(UserError, match="sample_rate is for tensor input"):
        api_editor.prepare_fit(clip, 16000)
    with pytest.raises(UserError, match="must be a file path or a tensor .*got list"):
        api_editor.prepare_fit([0.1, 0.2], 16000)
    with pytest.raises(UserError, match=r"must be \[T\] or \[channels, T\], got shape \[1, 2, 16000\]"):
        api_editor.prepare_fit(torch.zeros(1, 2, 16000), 16000)
    sdedit = Editor.from_hparams("hparams/addition.yaml", run_opts={"device": "cpu", "noprogressbar": True},
                                 overrides={"backbone_source": str(tiny_model_dir), "method": "sdedit"})
    with pytest.raises(UserError, match="method 'sdedit' sweeps strength values, not etas: pass strengths"):
        sdedit.edit(sdedit.fit(clip), "a dog barks", etas=[0, 1])


def test_importing_the_package_stays_light():
    code = "import sys, audio_editing; assert 'torch' not in sys.modules; print(audio_editing.__all__)"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Editor" in done.stdout, done.stderr[-2000:]
