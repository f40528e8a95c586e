"""The 12-class probe behind the record's third table (run from the repository root).

python docs/experiments/2026-12-07-embedded-model-rendering/probe_classes.py 940:25:train:0:3:none none:25:heldout:0:3:none

Each spec first:steps:split:eta:guidance:guidance_top: ``generation_recognition`` of the check (8 clips per
class, seed 7, not the check's 2024) with the judge; first is the model's ``first_timestep`` (none: 999),
eta DDIM's, guidance_top the timestep above which guidance is 1 (none: everywhere).
"""
import sys, json, torch, numpy as np
from audio_editing.toy_world import checks
from audio_editing.backbones.base import TextCond
from audio_editing.toy_world.model import ToyBackbone
from audio_editing.toy_world.evaluator import ToyClap
from audio_editing.registry import load_judge, resolve_source
from diffusers import DDIMScheduler
torch.set_num_threads(2)
ETA=0.0; G_INT=None
@torch.no_grad()
def gl(backbone, prompts, num_steps=50, guidance=3.0, generator=None):
    scheduler = DDIMScheduler.from_config(backbone.scheduler.config); scheduler.set_timesteps(num_steps)
    cond = backbone.encode_text(prompts); both = TextCond.cat([cond, backbone.null_cond(cond)])
    shape = backbone.encode_audio(torch.zeros(1, backbone.window_samples)).shape[1:]
    z = torch.randn((len(prompts), *shape), generator=generator)
    for t in backbone.noise_timesteps(scheduler):
        c, u = backbone.predict(torch.cat([z, z]), t, both).chunk(2)
        g = guidance if (G_INT is None or t <= G_INT) else 1.0
        z = scheduler.step(u + g * (c - u), t, z, eta=ETA, generator=generator).prev_sample
    return z
checks.generate_latents = gl
bb = ToyBackbone.from_pretrained("embedded:toy_world").eval()
clap = ToyClap.from_pretrained(resolve_source("embedded:toy_world")/"evaluator").eval()
judge = load_judge("embedded:toy_world")
for spec in sys.argv[1:]:
    f, steps, split, eta, g, gint = spec.split(":")
    bb.first_timestep = None if f=="none" else int(f); ETA=float(eta); G_INT=None if gint=="none" else int(gint)
    r = checks.generation_recognition(bb, clap, 8, split, int(steps), float(g), 48, seed=7, progress=False, judge=judge)
    print(f"{spec:28s} judged {r['judge']:.3f} top1 {r['top1']:.3f} | " + " ".join(f"{c[:5]}:{v:.2f}" for c,v in r["judge_per_class"].items()), flush=True)
