"""End-to-end run of ``recipes/toy_world/train.py`` on tiny settings (well under a minute on 2 CPU cores)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from audio_editing.backbones.mel import LogMel
from audio_editing.toy_world.checks import generate_latents
from audio_editing.toy_world.evaluator import ToyClap, evaluator_audio_embedding
from audio_editing.toy_world.model import ToyBackbone
from audio_editing.toy_world.train import encode_captions

REPO_ROOT = Path(__file__).resolve().parents[2]
RECIPE = REPO_ROOT / "recipes" / "toy_world"
TINY_SETTINGS = [
    "--num_train_clips=32", "--num_valid_clips=32", "--data_chunk_size=8", "--num_workers=2",
    "--vae_channels=[8,16,16]", "--vae_steps=60", "--vae_batch_size=8", "--vae_crop_frames=32",
    "--vae_warmup_steps=0", "--vae_lr=0.003",
    "--evaluator_channels=[8,8]", "--evaluator_embed_dim=16", "--evaluator_steps=10",
    "--evaluator_batch_size=16",
    "--unet_channels=[16,32]", "--unet_norm_groups=8", "--unet_attention_head_dim=8", "--unet_steps=5",
    "--unet_batch_size=4", "--unet_warmup_steps=1",
    "--griffin_lim_iters=4", "--log_interval=20", "--noprogressbar",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    output_folder = tmp_path_factory.mktemp("toy_world")
    # One thread: tiny convolutions gain nothing from two, and lose a lot when the cores are shared.
    subprocess.run([sys.executable, str(RECIPE / "train.py"), str(RECIPE / "hparams" / "toy_world.yaml"),
                    f"--output_folder={output_folder}", *TINY_SETTINGS],
                   cwd=REPO_ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True, timeout=300)
    return output_folder


@pytest.mark.slow
def test_model_folder_loads_and_generates(trained):
    backbone = ToyBackbone.from_pretrained(str(trained / "model"))
    clap = ToyClap.from_pretrained(trained / "model" / "evaluator")
    latents = generate_latents(backbone, ["a dog barks"], num_steps=2, generator=torch.Generator().manual_seed(0))
    wav = backbone.decode(latents)
    assert wav.shape == (1, backbone.window_samples)
    assert torch.isfinite(wav).all()
    assert torch.isfinite(clap.text_scores(wav, backbone.sample_rate, ["a dog barks"])).all()
    for config in (trained / "model").rglob("*.json"):  # a shipped folder names no path of the training machine
        assert str(trained) not in config.read_text() and "_name_or_path" not in config.read_text(), config


@pytest.mark.slow
def test_vae_loss_fell(trained):
    log = (trained / "train_log.txt").read_text()
    losses = [float(loss) for loss in re.findall(r"stage: vae, step: \d+ - train loss: (\S+)", log)]
    assert len(losses) >= 2
    assert losses[-1] < losses[0]


def test_evaluator_mel_path_matches_embed_audio():
    clap = ToyClap.build_tiny().eval()
    wav = torch.randn(2, 16000) * 0.1
    with torch.no_grad():
        from_mel = evaluator_audio_embedding(clap, LogMel()(wav)[:, None])
        torch.testing.assert_close(from_mel, clap.embed_audio(wav))


def test_short_caption_encoding_conditions_the_unet_like_encode_text():
    backbone = ToyBackbone.build_tiny().eval()
    prompts = ["a dog barks", "a phone rings twice, then someone knocks on the door", ""]
    z_t = torch.randn(len(prompts), 4, 32, 16)
    t = torch.tensor([10, 500, 990])
    with torch.no_grad():
        reference = backbone.predict(z_t, t, backbone.encode_text(prompts))
        torch.testing.assert_close(backbone.predict(z_t, t, encode_captions(backbone, prompts)), reference,
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_init_model_continues_from_a_model_folder(trained, tmp_path):
    """VAE and evaluator are kept bit for bit; the UNet starts from the given one and moves."""
    from safetensors.torch import load_file

    init = trained / "model"
    subprocess.run([sys.executable, str(RECIPE / "train.py"), str(RECIPE / "hparams" / "toy_world.yaml"),
                    f"--output_folder={tmp_path}", f"--init_model={init}", "--seed=7", "--unet_lr=0.001",
                    *TINY_SETTINGS],
                   cwd=REPO_ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True, timeout=300)
    out = tmp_path / "model"

    def weights(folder):
        return load_file(str(next(folder.glob("*.safetensors"))))

    for part in ("vae", "evaluator"):
        before, after = weights(init / part), weights(out / part)
        assert before.keys() == after.keys()
        assert all(torch.equal(before[k], after[k]) for k in before), part
    assert (out / "backbone.json").read_text() == (init / "backbone.json").read_text()
    before, after = weights(init / "unet"), weights(out / "unet")
    assert before.keys() == after.keys()
    moved = sum((after[k].float() - before[k].float()).abs().sum() for k in before)
    size = sum(before[k].float().abs().sum() for k in before)
    # trained on (moved), from the given weights: a re-initialised UNet would differ by about its own size
    assert 0 < moved < 0.2 * size


def test_init_unet_starts_the_unet_stage_in_place_of_the_model_s(trained, tmp_path):
    """A UNet committed mid-way through a run continues it: the UNet stage starts from it (at lr 0 it comes out
    as it went in), not from init_model's UNet; without init_model it is refused before anything is written."""
    import shutil

    from safetensors.torch import load_file, save_file

    init = trained / "model"
    committed = tmp_path / "committed_unet"
    shutil.copytree(init / "unet", committed)
    weights_file = next(committed.glob("*.safetensors"))
    weights = load_file(str(weights_file))
    weights = {name: (value * 1.5 if "conv_in" in name else value) for name, value in weights.items()}
    save_file(weights, str(weights_file))
    subprocess.run([sys.executable, str(RECIPE / "train.py"), str(RECIPE / "hparams" / "toy_world.yaml"),
                    f"--output_folder={tmp_path / 'out'}", f"--init_model={init}", f"--init_unet={committed}",
                    "--seed=7", *TINY_SETTINGS, "--unet_lr=0.0"],
                   cwd=REPO_ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, check=True, timeout=300)
    after = load_file(str(next((tmp_path / "out" / "model" / "unet").glob("*.safetensors"))))
    original = load_file(str(next((init / "unet").glob("*.safetensors"))))
    assert all(torch.equal(after[name].float(), weights[name].float()) for name in weights)
    assert not all(torch.equal(after[name].float(), original[name].float()) for name in original)
    run = subprocess.run([sys.executable, str(RECIPE / "train.py"), str(RECIPE / "hparams" / "toy_world.yaml"),
                          f"--output_folder={tmp_path / 'refused'}", f"--init_unet={committed}", *TINY_SETTINGS],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "give that model as --init_model too" in run.stderr
    assert "Traceback" not in run.stderr and not (tmp_path / "refused").exists()


def test_more_wordings_change_the_later_captions_only():
    """recaption_vocabulary=train_more: the same clips and first captions, the later ones from more wordings."""
    from audio_editing.toy_world.clips import make_clip_set

    plain = make_clip_set(12, 3, "train", 4, chunk_size=6, progress=False)
    more = make_clip_set(12, 3, "train", 4, chunk_size=6, progress=False, recaption_vocabulary="train_more")
    assert torch.equal(plain.mels, more.mels)
    assert [c[0] for c in plain.captions] == [c[0] for c in more.captions]
    assert [c[1:] for c in plain.captions] != [c[1:] for c in more.captions]


def test_heldout_recaptions_are_refused_before_anything_is_written(tmp_path):
    run = subprocess.run([sys.executable, str(RECIPE / "train.py"), str(RECIPE / "hparams" / "toy_world.yaml"),
                          f"--output_folder={tmp_path / 'out'}", "--recaption_vocabulary=heldout", *TINY_SETTINGS],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "recaption_vocabulary must be one of train, train_more" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


def test_init_model_that_is_not_a_model_gives_a_clear_error(tmp_path):
    run = subprocess.run([sys.executable, str(RECIPE / "train.py"), str(RECIPE / "hparams" / "toy_world.yaml"),
                          f"--output_folder={tmp_path / 'out'}", f"--init_model={tmp_path}", *TINY_SETTINGS],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "is not a toy_world model folder" in run.stderr
    assert "Traceback" not in run.stderr
    assert "torchvision" not in run.stdout + run.stderr  # SpeechBrain's import-time warning, filtered
    assert not (tmp_path / "out" / "model").exists()


def test_text_noise_spares_the_null_prompt_and_is_relative_to_each_position():
    from audio_editing.backbones.base import TextCond
    from audio_editing.toy_world.train import noisy_condition

    hidden = torch.randn(3, 5, 64) * torch.tensor([1.0, 10.0, 0.1]).view(3, 1, 1)
    cond = TextCond(hidden, torch.ones(3, 5, dtype=torch.long))
    noisy = noisy_condition(cond, ["a dog barks", "rain", ""], 0.5, torch.Generator().manual_seed(0))
    torch.testing.assert_close(noisy.hidden[2], hidden[2])  # "" is the unconditional branch: exact
    relative = (noisy.hidden[:2] - hidden[:2]).norm(dim=-1) / hidden[:2].norm(dim=-1)
    assert ((relative > 0.35) & (relative < 0.65)).all()  # 0.5 of each position's size, whatever its scale
    assert noisy_condition(cond, ["a", "b", "c"], 0.0, torch.Generator()) is cond
