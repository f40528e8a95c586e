#!/usr/bin/env python3
"""What one step of each editing phase costs on the real backbones' UNets (random weights, no download).

Each backbone's UNet is built at its published size with random weights, and one step of each phase of
an edit is timed on a random latent of the backbone's published window (10.24 s: 8 x 256 x 16):

  emb   step 1: forward + backward to the text conditioning only (UNet frozen) + Adam on it
  full  step 2, full fine-tuning: forward + backward + Adam over every UNet weight
  lora  step 2, LoRA (rank 8 on to_q/to_k/to_v/to_out.0): forward + backward + Adam over the adapter
  cfg   step 3: one classifier-free-guided sampling step (unconditional + conditional rows, no grad)

at batch 1 (the paper: one timestep per optimisation step; one eta sampled) and at --batch (default 8:
eight timesteps per optimisation step; eight etas sampled together, 16 UNet rows), in fp32 (TF32 matmuls,
as SpeechBrain enables them) and bf16 autocast when CUDA is there. The conditioning is random tensors of
the right shape: TANGO, FLAN-T5 states [B, 24, 1024] with a mask; AudioLDM, one CLAP vector [B, 512];
AudioLDM 2, 8 GPT-2 states [B, 8, 768] and T5 states [B, 24, 1024] with a mask (step 1 optimises both).
Prints one table: median ms per step and peak CUDA memory (GiB) per row.

    python benchmarks/gpu_step_times.py                  # CUDA: TANGO, AudioLDM-S, AudioLDM 2; fp32 and bf16
    python benchmarks/gpu_step_times.py --models tango --batch 16 --iters 10
    python benchmarks/gpu_step_times.py --tiny           # CPU smoke run on tiny configs (the test does this)

Needs torch, torchaudio, diffusers and peft only: the TANGO and AudioLDM-S configs come from the backbones
(``audio_editing/backbones``), AudioLDM 2's is below.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from audio_editing.backbones.audioldm import AUDIOLDM_S_UNET_CONFIG  # noqa: E402
from audio_editing.backbones.tango import TANGO_UNET_CONFIG  # noqa: E402

# The published UNet configs, as the backbones build them: TANGO 866 M, AudioLDM-S 185 M parameters.
TANGO_UNET, AUDIOLDM_S_UNET = TANGO_UNET_CONFIG, AUDIOLDM_S_UNET_CONFIG
# AudioLDM 2 (cvssp/audioldm2) UNet: 347 M parameters; cross-attends to 8 GPT-2 states (768) and T5 states (1024).
AUDIOLDM2_UNET = dict(
    sample_size=256, in_channels=8, out_channels=8, block_out_channels=[128, 256, 384, 640], layers_per_block=2,
    down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
    up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
    cross_attention_dim=[[None, 768, 1024]] * 4, attention_head_dim=8, transformer_layers_per_block=1,
)
TINY = {
    "tango": dict(TANGO_UNET, attention_head_dim=[2, 4], block_out_channels=[32, 64], cross_attention_dim=16,
                  down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                  up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"], layers_per_block=1),
    "audioldm-s": dict(AUDIOLDM_S_UNET, down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                       up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"], block_out_channels=[16, 32],
                       cross_attention_dim=[16, 32], layers_per_block=1, attention_head_dim=4, norm_num_groups=8,
                       projection_class_embeddings_input_dim=16),
    "audioldm2": dict(AUDIOLDM2_UNET, block_out_channels=[16, 32], layers_per_block=1,
                      down_block_types=["DownBlock2D", "CrossAttnDownBlock2D"],
                      up_block_types=["CrossAttnUpBlock2D", "UpBlock2D"], cross_attention_dim=[[None, 12, 16]] * 2,
                      attention_head_dim=4, norm_num_groups=8),
}
MODELS = {"tango": TANGO_UNET, "audioldm-s": AUDIOLDM_S_UNET, "audioldm2": AUDIOLDM2_UNET}
GENERATED_TOKENS = 8
LATENT = (8, 256, 16)  # 10.24 s at 16 kHz, hop 160, VAE /4 in time and frequency
TINY_LATENT = (8, 32, 16)
TEXT_TOKENS = 24
MODES = ("emb", "full", "lora", "cfg")
LORA_TARGETS = ["to_q", "to_k", "to_v", "to_out.0"]


class Runner:
    """One UNet with random conditioning of its family's shape, and the four step kinds."""

    def __init__(self, name, config, latent, device):
        self.name, self.device, self.latent, self.config = name, device, latent, config
        if name.startswith("audioldm2"):
            from diffusers.pipelines.audioldm2.modeling_audioldm2 import AudioLDM2UNet2DConditionModel as Unet
        else:
            from diffusers import UNet2DConditionModel as Unet
        with torch.device(device):
            self.unet = Unet(**config)
        self.params = sum(p.numel() for p in self.unet.parameters())

    def cond(self, batch):
        """UNet keyword arguments for ``batch`` prompts, and the names of those step 1 optimises."""
        config, device = self.config, self.device
        mask = torch.ones(batch, TEXT_TOKENS, dtype=torch.long, device=device)
        mask[:, TEXT_TOKENS // 2:] = 0  # a padded prompt, as the pipelines pad to the longest in the batch
        if config.get("class_embed_type") == "simple_projection":  # AudioLDM: one CLAP vector
            dim = config["projection_class_embeddings_input_dim"]
            return {"encoder_hidden_states": None, "class_labels": torch.randn(batch, dim, device=device)}, \
                ["class_labels"]
        dims = config["cross_attention_dim"]
        if isinstance(dims, (list, tuple)) and isinstance(dims[0], (list, tuple)):  # AudioLDM 2: GPT-2 + T5 states
            _, gpt_dim, t5_dim = dims[0]
            return {"encoder_hidden_states": torch.randn(batch, GENERATED_TOKENS, gpt_dim, device=device),
                    "encoder_hidden_states_1": torch.randn(batch, TEXT_TOKENS, t5_dim, device=device),
                    "encoder_attention_mask_1": mask}, ["encoder_hidden_states", "encoder_hidden_states_1"]
        return {"encoder_hidden_states": torch.randn(batch, TEXT_TOKENS, dims, device=device),  # TANGO: FLAN-T5
                "encoder_attention_mask": mask}, ["encoder_hidden_states"]

    def step_fn(self, mode, batch, autocast):
        """A closure running one step of ``mode`` (batch = timesteps per step, or etas sampled)."""
        z0 = torch.randn(batch, *self.latent, device=self.device)
        t = torch.randint(0, 1000, (batch,), device=self.device)
        kwargs, optimised = self.cond(batch)
        unet = self.unet
        if mode == "cfg":
            unet.requires_grad_(False)
            both = {k: None if v is None else torch.cat([v, v]) for k, v in kwargs.items()}
            t_one = t[:1].expand(2 * batch)

            def step():
                with torch.no_grad(), autocast():
                    out = unet(torch.cat([z0, z0]), t_one, **both).sample.float()
                    uncond, cond = out.chunk(2)
                    return uncond + 3.0 * (cond - uncond)
            return step
        if mode == "emb":
            unet.requires_grad_(False)
            for name in optimised:
                kwargs[name] = kwargs[name].clone().requires_grad_(True)
            params = [kwargs[name] for name in optimised]
        elif mode == "full":
            unet.requires_grad_(True)
            params = list(unet.parameters())
        else:  # lora: the adapter was added by the caller
            unet.requires_grad_(False)
            params = [p for n, p in unet.named_parameters() if "lora_" in n]
            for p in params:
                p.requires_grad_(True)
        optimizer = torch.optim.Adam(params, lr=1e-6)
        target = torch.randn_like(z0)

        def step():
            with autocast():
                loss = F.mse_loss(unet(z0, t, **kwargs).sample.float(), target)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            return loss
        return step


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_step(step, device, warmup, iters):
    """Median wall time (ms) of ``iters`` calls after ``warmup``, and the peak CUDA memory (GiB)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(warmup):
        step()
    sync(device)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        step()
        sync(device)
        times.append((time.perf_counter() - start) * 1000)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    return statistics.median(times), peak


def bench_model(name, config, latent, device, precisions, batches, modes, warmup, iters):
    from contextlib import nullcontext

    runner = Runner(name, config, latent, device)
    rows = []

    def autocast_for(precision):
        if precision == "bf16":
            return lambda: torch.autocast(device.type, dtype=torch.bfloat16)
        return nullcontext

    order = [m for m in ("cfg", "emb", "full") if m in modes]
    plan = [(m, p, b) for p in precisions for b in batches for m in order]
    if "lora" in modes:
        plan += [("lora", p, b) for p in precisions for b in batches]
    lora_added = False
    for mode, precision, batch in plan:
        if mode == "lora" and not lora_added:
            from peft import LoraConfig, inject_adapter_in_model

            # (AudioLDM 2's UNet class has no add_adapter: inject with peft directly, as diffusers does)
            inject_adapter_in_model(LoraConfig(r=8, lora_alpha=8, init_lora_weights="gaussian",
                                               target_modules=LORA_TARGETS), runner.unet)
            lora_added = True
        step = runner.step_fn(mode, batch, autocast_for(precision))
        try:
            ms, peak = time_step(step, device, warmup, iters)
        except torch.cuda.OutOfMemoryError:
            ms, peak = float("nan"), float("inf")
        rows_per = 2 * batch if mode == "cfg" else batch
        rows.append(dict(model=name, params_m=runner.params / 1e6, precision=precision, batch=batch,
                         unet_rows=rows_per, mode=mode, ms=ms, peak_gib=peak))
        del step
        runner.unet.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.empty_cache()
        print(f"  {name:10s} {mode:4s} {precision:4s} batch {batch:2d}: {ms:9.1f} ms", file=sys.stderr, flush=True)
    del runner
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def format_table(rows, device_name):
    lines = [f"# UNet step times on {device_name} (median ms per step; peak CUDA memory)", "",
             "| model | UNet params | precision | batch | UNet rows | step | ms/step | peak GiB |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['params_m']:.1f} M | {r['precision']} | {r['batch']} | {r['unet_rows']} | "
                     f"{r['mode']} | {r['ms']:.1f} | {r['peak_gib']:.2f} |")
    lines += ["", "steps: emb = step 1 (grad to the conditioning only), full/lora = step 2, "
              "cfg = one guided sampling step (uncond + cond rows).",
              "A paper-schedule edit costs about 500 x emb(1) + 1500 x full(1) + 200 x cfg(etas)."]
    return "\n".join(lines)


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    parser.add_argument("--batch", type=int, default=8, help="the batched setting (timesteps per step / etas)")
    parser.add_argument("--precisions", nargs="+", default=None, choices=["fp32", "bf16"],
                        help="default: fp32 and bf16 on CUDA, fp32 on CPU")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--device", default=None, help="default: cuda when available, else cpu")
    parser.add_argument("--no-tf32", action="store_true", help="plain fp32 matmuls (SpeechBrain enables TF32)")
    parser.add_argument("--tiny", action="store_true", help="tiny configs and latents (a quick CPU smoke run)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    precisions = args.precisions or (["fp32", "bf16"] if device.type == "cuda" else ["fp32"])
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = not args.no_tf32
        torch.backends.cudnn.allow_tf32 = not args.no_tf32
        device_name = torch.cuda.get_device_name(device) + ("" if args.no_tf32 else ", TF32 on")
    else:
        device_name = "CPU"
    batches = sorted({1, args.batch})
    torch.manual_seed(0)
    rows = []
    for name in args.models:
        config = TINY[name] if args.tiny else MODELS[name]
        latent = TINY_LATENT if args.tiny else LATENT
        rows += bench_model(name, config, latent, device, precisions, batches, args.modes, args.warmup, args.iters)
    table = format_table(rows, device_name + (" (tiny configs)" if args.tiny else ""))
    print(table)
    return rows


if __name__ == "__main__":
    main()
