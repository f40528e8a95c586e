"""Shared fixtures: a tiny random model folder in the embedded layout, short test clips."""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

REPO = Path(__file__).resolve().parent.parent
TINY_SECONDS = 1.28  # the tiny backbone's window


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    """A randomly initialised model folder (backbone + evaluator) written like the shipped one."""
    from audio_editing.toy_world.evaluator import ToyClap
    from audio_editing.toy_world.model import ToyBackbone

    folder = tmp_path_factory.mktemp("tiny_model")
    ToyBackbone.build_tiny(seed=0).save_pretrained(folder)
    ToyClap.build_tiny(seed=0).save_pretrained(folder / "evaluator")
    return folder


def write_scene_clip(path, labels, seed=0, seconds=TINY_SECONDS, gap=None, background=None):
    """Render a toy-world scene to ``path`` (16 kHz, 16-bit); ``gap`` = (start, end) s set to zeros."""
    from audio_editing import toy_world

    scene = toy_world.sample_scene(np.random.default_rng(seed), seconds=seconds, labels=labels,
                                   background=background)
    wav = toy_world.render_scene(scene)
    if gap is not None:
        wav[round(gap[0] * 16000): round(gap[1] * 16000)] = 0.0
    sf.write(str(path), wav, 16000, subtype="PCM_16")
    return Path(path)


def assert_span_filled(edited, original, start: int, end: int, floor: float = 0.05) -> None:
    """Samples ``[start, end)`` of ``edited`` hold sound, not a stray sample: their RMS is at least ``floor``
    of the RMS of the input's observed samples (both arrays as read, any channel count)."""
    def rms(x):
        return float(np.sqrt(np.mean(np.asarray(x, dtype=np.float64) ** 2)))

    span, observed = rms(edited[start:end]), rms(np.concatenate([original[:start], original[end:]]))
    assert span >= floor * observed, f"the span's RMS {span:.4g} is below {floor} x the observed RMS {observed:.4g}"


@pytest.fixture
def clip(tmp_path):
    return write_scene_clip(tmp_path / "clip.wav", ["knock"], seed=1)


@pytest.fixture
def gap_clip(tmp_path):
    # a rain bed: no digital silence but the gap, so the gap can be detected
    return write_scene_clip(tmp_path / "gap.wav", ["dog", "beep"], seed=2, gap=(0.5, 0.8), background="rain")


def edit_folder(out_dir, clip, prompt="a dog barks") -> Path:
    """Where a recipe writes the edit of ``clip`` towards ``prompt`` when ``--edit_id`` is not given."""
    from audio_editing.api import prompt_slug

    return Path(out_dir) / f"{Path(clip).stem}_{prompt_slug(prompt)}"


def tiny_args(model_dir, out_dir, *extra):
    """Command-line arguments for a recipe's Imagic method (every recipe's default) on the tiny model,
    a few steps each; a ``--method`` in ``extra`` wins, and the method's steps and etas go only to it."""
    from audio_editing.editing.methods import flags_read_by

    methods = [arg.partition("=")[2] for arg in ("--method=imagic", *extra) if arg.startswith("--method=")]
    return flags_read_by(methods[-1], [f"--output_folder={out_dir}", "--method=imagic",
                                       *tiny_eval_args(model_dir), *extra])


# The suite runs in parallel workers (pytest-xdist, run_tests.sh): each worker, and the processes its tests start,
# gets its share of the cores, so that the workers do not fight over them and a command line run from a test
# computes with as many threads as the test's own process (bit for bit the same results).
THREADS = max(1, (os.cpu_count() or 2) // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
os.environ["OMP_NUM_THREADS"] = str(THREADS)


@pytest.fixture(autouse=True)
def _torch_threads():
    torch.set_num_threads(THREADS)


def tiny_clap(truncation: str = "rand_trunc"):
    """A tiny random transformers ``ClapModel`` and its ``ClapProcessor`` (laion/clap-htsat-unfused's
    layout at tiny width, 48 kHz); ``"fusion"`` builds a fused model with its extractor."""
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor

    from audio_editing.backbones.audioldm import tiny_roberta_tokenizer

    torch.manual_seed(0)
    tokenizer = tiny_roberta_tokenizer()
    config = ClapConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=80, projection_dim=8),
        audio_config=dict(hidden_size=32, depths=[1, 1], num_attention_heads=[2, 2], patch_embeds_hidden_size=16,
                          num_mel_bins=64, spec_size=256, window_size=4, projection_dim=8,
                          enable_fusion=truncation == "fusion"),
        projection_dim=8)
    return ClapModel(config), ClapProcessor(feature_extractor=ClapFeatureExtractor(truncation=truncation),
                                            tokenizer=tokenizer)


def load_benchmark(name: str):
    """A script of benchmarks/ as a module (they are scripts, not a package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_eval_args(model_dir, *extra):
    """``tiny_args`` for ``recipes/evaluate`` (which names each row's method itself and gives each the settings
    it reads): no ``--method``, no ``--output_folder``."""
    return [f"--backbone_source={model_dir}", "--device=cpu", "--emb_steps=4", "--ft_steps=4", "--sample_steps=4",
            "--etas=[0,1]", "--noprogressbar", *extra]
