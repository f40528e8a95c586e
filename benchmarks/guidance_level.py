#!/usr/bin/env python3
"""How loud are the model's samples, by classifier-free guidance scale? (issue: edits louder than inputs)

Generates from the benchmark's target prompts at several guidance scales (same seeds, DDIM) and
prints, side by side with the VAE round trip of the reference edits, the median waveform RMS and
peak and the median of the decoded log-mel's maximum: the level a sample comes out at before
any edit-specific step. Inputs and references are seen as the editor sees them (peak 0.9).

    python benchmarks/guidance_level.py                          # embedded model, addition prompts
    python benchmarks/guidance_level.py --scales=1,3,6 --edit_type=style_transfer --steps=50
"""

import argparse
import json
from pathlib import Path

import torch

from audio_editing.backbones.base import TextCond
from audio_editing.data.audio import load_audio

PEAK = 0.9  # the editor's input_peak


def levels(backbone, z: torch.Tensor) -> dict:
    """Median RMS, peak and log-mel maximum of latents ``z`` decoded to audio."""
    mel = backbone.decode_mel(z)[:, 0].float()
    wav = backbone.decode(z).float()
    return {"rms": wav.pow(2).mean(-1).sqrt().median().item(), "peak": wav.abs().amax(-1).median().item(),
            "logmel_max": mel.amax(dim=(1, 2)).median().item()}


@torch.no_grad()
def generate(backbone, prompts, scale: float, steps: int, seed: int) -> torch.Tensor:
    """DDIM samples of ``prompts`` at guidance ``scale``, one seeded noise batch."""
    from diffusers import DDIMScheduler

    cond = backbone.encode_text(prompts)
    both = TextCond.cat([backbone.null_cond(cond), cond])
    sampler = DDIMScheduler.from_config(backbone.scheduler.config)
    sampler.set_timesteps(steps)
    shape = backbone.encode_audio(torch.zeros(1, backbone.window_samples)).shape[1:]
    z = torch.randn((len(prompts), *shape), generator=torch.Generator().manual_seed(seed))
    for t in sampler.timesteps:
        uncond, prompted = backbone.predict(torch.cat([z, z]), t, both).float().chunk(2)
        z = sampler.step(uncond + scale * (prompted - uncond), t, z).prev_sample
    return z


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone_source", default="embedded:toy_world")
    parser.add_argument("--manifest", default="benchmarks/toy_world/manifest.json")
    parser.add_argument("--edit_type", default="addition")
    parser.add_argument("--scales", default="1,3,6")
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    from audio_editing.toy_world.model import ToyBackbone

    torch.set_grad_enabled(False)
    backbone = ToyBackbone.from_pretrained(args.backbone_source).eval()
    root = Path(args.manifest).parent
    clips = [c for c in json.loads(Path(args.manifest).read_text()).values() if c["edit_type"] == args.edit_type]
    prompts = [c["target_prompt"] for c in clips]
    rows = {}
    for name, key in (("input", "wav"), ("reference", "reference")):
        wavs = [load_audio(root / c[key], backbone.sample_rate) for c in clips]
        wavs = torch.stack([w[: backbone.window_samples] * PEAK / w.abs().max() for w in wavs])
        real = backbone.mel(wavs)[:, 0]
        rows[f"{name}, as the model sees it"] = {"rms": wavs.pow(2).mean(-1).sqrt().median().item(),
                                                 "peak": PEAK, "logmel_max": real.amax(dim=(1, 2)).median().item()}
        rows[f"{name}, VAE round trip"] = levels(backbone, backbone.encode_audio(backbone.prepare_audio(wavs)))
    for scale in [float(s) for s in args.scales.split(",")]:
        rows[f"generated, guidance {scale:g}"] = levels(backbone, generate(backbone, prompts, scale, args.steps,
                                                                            args.seed))
    base = rows["reference, VAE round trip"]["rms"]
    print(f"{len(prompts)} {args.edit_type} target prompts, {args.steps} DDIM steps (medians)")
    print(f"{'':34s} {'rms':>7s} {'x ref':>6s} {'peak':>6s} {'log-mel max':>12s}")
    for name, row in rows.items():
        print(f"{name:34s} {row['rms']:7.3f} {row['rms'] / base:6.2f} {row['peak']:6.2f} {row['logmel_max']:12.2f}")
    return rows


if __name__ == "__main__":
    main()
