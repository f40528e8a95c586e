"""The sampler and guidance probe behind the record's second table (run from the repository root).

python docs/experiments/2026-12-07-embedded-model-rendering/probe_samplers.py '[("ddim25", {}), ("ddim25 g1", dict(g=1.0))]'

Each configuration: 16 takes of four training wordings, seed 1, heard by the shipped judge; printed as
heard/clean/silent per class. Keys: steps, g (guidance), sampler (ddim, dpmpp, dpmsde, euler, heun, ddpm, unipc),
spacing (trailing, leading, linspace), rescale (guidance rescale, Lin et al. 2024), interval (guidance only for
timesteps in it, Kynkaanniemi et al. 2024), eta (DDIM), first (timesteps above it left out). first=1000 reads
the model before ``first_timestep``; the shipped model now sets it, but this probe builds its own schedule.
"""
import sys, time, torch, numpy as np, json
from audio_editing.toy_world.model import ToyBackbone
from audio_editing.toy_world.checks import heard_classes
from audio_editing.registry import load_judge
from audio_editing.backbones.base import TextCond
import diffusers
torch.set_num_threads(2)
bb = ToyBackbone.from_pretrained("embedded:toy_world").eval()
judge = load_judge("embedded:toy_world")
shape = bb.encode_audio(torch.zeros(1, bb.window_samples)).shape[1:]
def gen(prompts, steps=25, g=3.0, sampler="ddim", spacing="trailing", seed=1, rescale=0.0, interval=(0,1000), eta=0.0, **kw):
    cls = {"ddim": diffusers.DDIMScheduler, "dpmpp": diffusers.DPMSolverMultistepScheduler, "euler": diffusers.EulerDiscreteScheduler,
           "heun": diffusers.HeunDiscreteScheduler, "ddpm": diffusers.DDPMScheduler, "unipc": diffusers.UniPCMultistepScheduler,
           "dpmsde": diffusers.DPMSolverMultistepScheduler}[sampler]
    extra = dict(kw)
    if sampler == "dpmsde": extra["algorithm_type"] = "sde-dpmsolver++"
    first = extra.pop("first", 1000)
    s = cls.from_config(bb.scheduler.config, timestep_spacing=spacing, **extra); s.set_timesteps(steps)
    s.timesteps = s.timesteps[s.timesteps <= first]
    cond = bb.encode_text(prompts); both = TextCond.cat([cond, bb.null_cond(cond)])
    gen_ = torch.Generator().manual_seed(seed)
    z = torch.randn((len(prompts), *shape), generator=gen_) * s.init_noise_sigma
    with torch.no_grad():
      for t in s.timesteps:
        zin = s.scale_model_input(z, t)
        c,u = bb.predict(torch.cat([zin,zin]), t, both).chunk(2)
        gg = g if interval[0] <= float(t) <= interval[1] else 1.0
        v = u + gg*(c-u)
        if rescale > 0:
            sc, sv = c.std(dim=(1,2,3), keepdim=True), v.std(dim=(1,2,3), keepdim=True)
            v = rescale * v * sc / sv + (1-rescale) * v
        kws = {"eta": eta} if sampler == "ddim" else {}
        if sampler in ("ddpm","dpmsde","ddim") and (sampler!="ddim" or eta>0): kws["generator"]=gen_
        z = s.step(v, t, z, **kws).prev_sample
    return z
PROMPTS = {"beep":"a machine beeps", "dog":"a dog barks", "bird":"a bird chirps", "siren":"a siren wails"}
def run(name, takes=16, **cfg):
    t0=time.time(); row={}
    for label, p in PROMPTS.items():
        z = gen([p]*takes, **cfg); det = heard_classes(judge, bb.decode(z), bb.sample_rate)
        hit = sum(label in d for d in det); clean = sum(label in d and set(d)-{label} <= {"rain","engine"} for d in det)
        none = sum(len(d)==0 for d in det)
        row[label]=(hit,clean,none)
    print(f"{name:40s}", "  ".join(f"{k} {h:2d}/{c:2d}/{n:2d}" for k,(h,c,n) in row.items()), f"({time.time()-t0:.0f}s)", flush=True)
configs = eval(sys.argv[1])
for name, cfg in configs: run(name, **cfg)
