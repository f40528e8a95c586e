"""TANGO (declare-lab): FLAN-T5-large text states -> a latent-diffusion UNet on AudioLDM's mel VAE.

The published checkpoints (``declare-lab/tango``, ``declare-lab/tango-full-ft-audiocaps``,
``declare-lab/tango2``, ``declare-lab/tango2-full``, ...) are not in diffusers layout. A folder holds::

    main_config.json          text_encoder_name ("google/flan-t5-large"), scheduler_name
                              ("stabilityai/stable-diffusion-2-1"), unet_model_name (null),
                              unet_model_config_path ("configs/diffusion_model_config.json": a path
                              into TANGO's GitHub repository, not into the hub folder), snr_gamma, ...
    vae_config.json           AudioLDM's AutoencoderKL arguments: ddconfig (ch, ch_mult, z_channels,
                              num_res_blocks, ...), embed_dim, subband, time_shuffle, scale_factor
    stft_config.json          TacotronSTFT arguments (filter_length, hop_length, n_mel_channels, ...)
    pytorch_model_main.bin    TANGO's ``AudioDiffusion`` module: ``unet.*`` (diffusers UNet2DConditionModel
                              names) and ``text_encoder.*`` (the frozen FLAN-T5 encoder, transformers names)
    pytorch_model_vae.bin     AudioLDM-original VAE names (``encoder.down.0.block.0.norm1.weight``,
                              ``encoder.mid.attn_1.q.weight``, ...) **and the vocoder**: ``vocoder.*`` is
                              AudioLDM's HiFi-GAN (``conv_pre``, ``ups.N``, ``resblocks.N.convs1.M``,
                              ``conv_post``; weight norm already removed). Its hyperparameters are not in
                              any file: AudioLDM hard-codes them (``HIFIGAN_16K_64`` below).
    pytorch_model_stft.bin    TacotronSTFT buffers (STFT bases, librosa mel basis): recomputed here by ``LogMel``

``convert_tango_checkpoint`` maps these state dicts onto diffusers ``UNet2DConditionModel`` and
``AutoencoderKL``, transformers ``T5EncoderModel`` and ``SpeechT5HifiGan``, and reports every key it
could not place; ``check_state_dict`` reports missing/unexpected/mis-shaped keys against a module.
The UNet config is TANGO's published ``configs/diffusion_model_config.json`` (embedded below) unless
the folder holds a file at ``unet_model_config_path``; the training scheduler is Stable Diffusion 2.1's
(DDPM, scaled-linear betas 0.00085-0.012, **v-prediction**), embedded as well, so that loading needs
only the TANGO folder plus FLAN-T5's config and tokenizer (its weights are in ``pytorch_model_main.bin``).
"""

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from audio_editing.backbones.base import TextCond
from audio_editing.backbones.mel_vae import AudioLDMLineageBackbone
from audio_editing.backbones.mel import LogMel
from audio_editing.backbones.vocoders import HifiGanVocoder
from audio_editing.errors import UserError

logger = logging.getLogger(__name__)

HUB_IDS = ("declare-lab/tango", "declare-lab/tango-full", "declare-lab/tango-full-ft-audiocaps",
           "declare-lab/tango2", "declare-lab/tango2-full")
MAIN_CONFIG, VAE_CONFIG, STFT_CONFIG = "main_config.json", "vae_config.json", "stft_config.json"
MAIN_WEIGHTS, VAE_WEIGHTS, STFT_WEIGHTS = "pytorch_model_main.bin", "pytorch_model_vae.bin", "pytorch_model_stft.bin"
CHECKPOINT_FILES = (MAIN_CONFIG, VAE_CONFIG, STFT_CONFIG, MAIN_WEIGHTS, VAE_WEIGHTS, STFT_WEIGHTS)
REQUIRED_FILES = (MAIN_CONFIG, VAE_CONFIG, MAIN_WEIGHTS, VAE_WEIGHTS)

# TANGO's configs/diffusion_model_config.json (declare-lab/tango on GitHub), which main_config.json
# names by a path relative to that repository: the SD-2.x UNet with 8 latent channels.
TANGO_UNET_CONFIG = {
    "act_fn": "silu", "attention_head_dim": [5, 10, 20, 20], "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False, "cross_attention_dim": 1024,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1, "dual_cross_attention": False, "flip_sin_to_cos": True, "freq_shift": 0,
    "in_channels": 8, "layers_per_block": 2, "mid_block_scale_factor": 1, "norm_eps": 1e-05,
    "norm_num_groups": 32, "num_class_embeds": None, "only_cross_attention": False, "out_channels": 8,
    "sample_size": [32, 2],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    "use_linear_projection": True, "upcast_attention": True,
}
PUBLISHED_UNET_CONFIGS = {"diffusion_model_config.json": TANGO_UNET_CONFIG}

# stabilityai/stable-diffusion-2-1 scheduler/scheduler_config.json, which TANGO loads as a DDPMScheduler
# for training and sampling (main_config.json: "scheduler_name"). The 768-px SD 2.x models, and so
# TANGO, are trained with v-prediction.
SD21_SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
    "prediction_type": "v_prediction", "clip_sample": False, "steps_offset": 1, "trained_betas": None,
}
PUBLISHED_SCHEDULERS = {"stabilityai/stable-diffusion-2-1": SD21_SCHEDULER_CONFIG}

# AudioLDM's HiFi-GAN (audioldm/hifigan/utilities.py: HIFIGAN_16K_64), the vocoder inside
# pytorch_model_vae.bin. Widths and kernel sizes are read back from the weights; the strides and
# dilations, which the weights cannot tell, come from here.
HIFIGAN_16K_64 = {
    "num_mels": 64, "sampling_rate": 16000, "upsample_initial_channel": 1024,
    "upsample_rates": [5, 4, 2, 2, 2], "upsample_kernel_sizes": [16, 16, 8, 4, 4],
    "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5], [1, 3, 5], [1, 3, 5]],
}
WINDOW_SECONDS = 10.24  # TANGO trains on 1024 mel frames (10.24 s at 16 kHz, hop 160): latent 8 x 256 x 16


# --- hub folders ----------------------------------------------------------------------------------
def _offline() -> bool:
    from huggingface_hub import constants

    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return constants.HF_HUB_OFFLINE or any(f.strip().lower() in ("1", "true", "yes", "on") for f in flags)


def resolve_checkpoint_folder(source: str, what: str, allow_patterns: Optional[Sequence[str]] = None,
                              local_files_only: Optional[bool] = None, flag: str = "--backbone_source",
                              download: Optional[str] = None, local: Optional[str] = None) -> Path:
    """A local folder as is, or a hub id's snapshot (downloaded unless offline); else a one-line ``UserError``.

    ``local_files_only`` defaults to the ``HF_HUB_OFFLINE``/``TRANSFORMERS_OFFLINE`` environment;
    ``download`` is the pre-download command the error suggests (default: the whole repo), ``local``
    how to point at a folder instead (default: ``flag``).

    Example
    -------
    >>> import tempfile
    >>> resolve_checkpoint_folder(tempfile.gettempdir(), "TANGO").is_dir()
    True
    """
    path = Path(str(source)).expanduser()
    if path.is_dir():
        return path
    if local_files_only is None:
        local_files_only = _offline()
    how = (f"pre-download it with `{download or f'huggingface-cli download {source}'}` or "
           f"{local or f'pass a local folder ({flag}=/path/to/folder)'}")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HFValidationError, RepositoryNotFoundError

        folder = snapshot_download(repo_id=str(source), allow_patterns=list(allow_patterns) if allow_patterns else None,
                                   local_files_only=local_files_only)
    except HFValidationError:
        raise UserError(f"{what} source '{source}' is neither a folder nor a Hugging Face hub id; "
                        f"pass an existing folder ({flag}=/path/to/folder) or a hub id") from None
    except RepositoryNotFoundError:
        raise UserError(f"{what} '{source}' was not found on the Hugging Face hub (or needs a login); "
                        f"check the id, or pass a local folder ({flag}=/path/to/folder)") from None
    except Exception as err:  # not cached offline, no connection, hub errors
        state = "is not in the local Hugging Face cache and downloads are off" if local_files_only else \
            f"could not be downloaded ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})"
        raise UserError(f"{what} '{source}' {state}; {how}") from None
    return Path(folder)


def require_components(folder: Path, components: Sequence[str], what: str, example: str) -> None:
    """Refuse a folder lacking one of a diffusers pipeline's component folders."""
    missing = [c for c in components if not (folder / c).is_dir()]
    if missing:
        raise UserError(f"'{folder}' is not {what} in diffusers layout (missing "
                        f"{', '.join(c + '/' for c in missing)}); expected the folders of e.g. {example}")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise UserError(f"cannot read '{path}' ({str(err).splitlines()[0]})") from None


def load_state_dict_file(path: Path) -> Dict[str, torch.Tensor]:
    """``torch.load`` a weights-only checkpoint on CPU (memory-mapped when the file allows it)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except RuntimeError:  # legacy (non-zip) serialisation cannot be memory-mapped
        state = torch.load(path, map_location="cpu", weights_only=True)
    if "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    return dict(state)


# --- key reports ----------------------------------------------------------------------------------
@dataclass
class KeyReport:
    """How a state dict fits a module: keys it lacks, keys it has extra, and keys of the wrong shape."""

    missing: List[str] = field(default_factory=list)
    unexpected: List[str] = field(default_factory=list)
    mismatched: List[Tuple[str, tuple, tuple]] = field(default_factory=list)  # key, expected, got

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self, limit: int = 4) -> str:
        parts = []
        for name, items in (("missing", self.missing), ("unexpected", self.unexpected),
                            ("wrong shape", [f"{k} {tuple(g)} != {tuple(e)}" for k, e, g in self.mismatched])):
            if items:
                shown = ", ".join(items[:limit]) + (f", ... ({len(items)} in all)" if len(items) > limit else "")
                parts.append(f"{name}: {shown}")
        return "; ".join(parts) or "all keys match"


def check_state_dict(module: torch.nn.Module, state_dict: Dict[str, torch.Tensor]) -> KeyReport:
    """Compare ``state_dict`` with ``module.state_dict()`` (names and shapes) without loading anything."""
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    report = KeyReport(missing=sorted(set(expected) - set(state_dict)),
                       unexpected=sorted(set(state_dict) - set(expected)))
    report.mismatched = [(k, expected[k], tuple(v.shape)) for k, v in state_dict.items()
                         if k in expected and tuple(v.shape) != expected[k]]
    return report


def load_checked(module: torch.nn.Module, state_dict: Dict[str, torch.Tensor], what: str) -> torch.nn.Module:
    """Load a converted state dict, refusing any missing, unexpected or mis-shaped key (one-line error)."""
    report = check_state_dict(module, state_dict)
    if not report.ok:
        raise UserError(f"the {what} weights do not fit the {what} built from the checkpoint's config "
                        f"({report.summary()})")
    module.load_state_dict(state_dict, strict=True, assign=True)
    meta = [n for n, t in list(module.named_parameters()) + list(module.named_buffers()) if t.is_meta]
    if meta:
        raise UserError(f"the {what} has tensors no checkpoint key fills: {', '.join(meta[:4])}")
    return module


def build_empty(build):
    """Construct a module without allocating or initialising its weights (they come from a checkpoint)."""
    with torch.device("meta"):
        return build()


# --- the converter --------------------------------------------------------------------------------
@dataclass
class TangoStateDicts:
    """A TANGO checkpoint in diffusers/transformers names, plus what the conversion left out."""

    unet: Dict[str, torch.Tensor]
    text_encoder: Dict[str, torch.Tensor]  # empty when pytorch_model_main.bin has no text_encoder.*
    vae: Dict[str, torch.Tensor]
    vocoder: Dict[str, torch.Tensor]
    ignored: List[str] = field(default_factory=list)  # understood and not needed (STFT buffers)
    unused: List[str] = field(default_factory=list)   # not understood: should be empty


def split_main_state_dict(state: Dict[str, torch.Tensor]):
    """``AudioDiffusion`` state -> (UNet state, T5 encoder state, unused keys)."""
    unet, text, unused = {}, {}, []
    for key, value in state.items():
        if key.startswith("unet."):
            unet[key[len("unet."):]] = value
        elif key.startswith("text_encoder."):
            text[key[len("text_encoder."):]] = value
        elif key.startswith(("group_in.", "group_out.")):
            raise UserError("this TANGO checkpoint wraps a Stable Diffusion UNet with group_in/group_out "
                            "adapters (unet_model_name set); only unet_model_config_path checkpoints are supported")
        else:
            unused.append(key)
    # T5 ties the encoder's token embedding to ``shared``: either copy may be all a checkpoint stores.
    if text and "shared.weight" in text and "encoder.embed_tokens.weight" not in text:
        text["encoder.embed_tokens.weight"] = text["shared.weight"]
    if text and "encoder.embed_tokens.weight" in text and "shared.weight" not in text:
        text["shared.weight"] = text["encoder.embed_tokens.weight"]
    return unet, text, unused


_RESNET_RENAMES = {"nin_shortcut": "conv_shortcut"}
_ATTN_RENAMES = {"norm": "group_norm", "q": "to_q", "k": "to_k", "v": "to_v", "proj_out": "to_out.0"}


def _vae_key(key: str, num_up: int) -> Optional[str]:
    """One AudioLDM/LDM VAE key -> its diffusers ``AutoencoderKL`` name (None: not a VAE key we know)."""
    if key.startswith(("quant_conv.", "post_quant_conv.")):
        return key
    m = re.fullmatch(r"(encoder|decoder)\.(conv_in|conv_out|norm_out)\.(weight|bias)", key)
    if m:
        part, layer, kind = m.groups()
        return f"{part}.{'conv_norm_out' if layer == 'norm_out' else layer}.{kind}"
    m = re.fullmatch(r"encoder\.down\.(\d+)\.block\.(\d+)\.(\w+)\.(weight|bias)", key)
    if m:
        level, block, layer, kind = m.groups()
        return f"encoder.down_blocks.{level}.resnets.{block}.{_RESNET_RENAMES.get(layer, layer)}.{kind}"
    m = re.fullmatch(r"encoder\.down\.(\d+)\.downsample\.conv\.(weight|bias)", key)
    if m:
        return f"encoder.down_blocks.{m.group(1)}.downsamplers.0.conv.{m.group(2)}"
    m = re.fullmatch(r"decoder\.up\.(\d+)\.block\.(\d+)\.(\w+)\.(weight|bias)", key)
    if m:  # the original decoder indexes levels from the finest; diffusers from the coarsest
        level, block, layer, kind = m.groups()
        return f"decoder.up_blocks.{num_up - 1 - int(level)}.resnets.{block}.{_RESNET_RENAMES.get(layer, layer)}.{kind}"
    m = re.fullmatch(r"decoder\.up\.(\d+)\.upsample\.conv\.(weight|bias)", key)
    if m:
        return f"decoder.up_blocks.{num_up - 1 - int(m.group(1))}.upsamplers.0.conv.{m.group(2)}"
    m = re.fullmatch(r"(encoder|decoder)\.mid\.block_(\d)\.(\w+)\.(weight|bias)", key)
    if m:
        part, index, layer, kind = m.groups()
        return f"{part}.mid_block.resnets.{int(index) - 1}.{_RESNET_RENAMES.get(layer, layer)}.{kind}"
    m = re.fullmatch(r"(encoder|decoder)\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(weight|bias)", key)
    if m:
        part, layer, kind = m.groups()
        return f"{part}.mid_block.attentions.0.{_ATTN_RENAMES[layer]}.{kind}"
    return None


def convert_vae_state_dict(state: Dict[str, torch.Tensor]):
    """AudioLDM VAE state (incl. ``vocoder.*``) -> (AutoencoderKL state, vocoder state in original names, unused)."""
    num_up = len({m.group(1) for k in state for m in [re.match(r"decoder\.up\.(\d+)\.", k)] if m})
    vae, vocoder, unused = {}, {}, []
    for key, value in state.items():
        if key.startswith("vocoder."):
            vocoder[key[len("vocoder."):]] = value
            continue
        new = _vae_key(key, num_up)
        if new is None:
            unused.append(key)
            continue
        if ".mid_block.attentions.0.to_" in new and new.endswith(".weight") and value.dim() == 4:
            value = value[:, :, 0, 0]  # 1x1 convolutions -> linear projections
        vae[new] = value
    return vae, vocoder, unused


def _fold_weight_norm(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Replace weight-norm pairs (``weight_g``/``weight_v`` or torch parametrizations) by plain weights."""
    out = dict(state)
    for key in [k for k in state if k.endswith((".weight_v", ".parametrizations.weight.original1"))]:
        if key.endswith(".weight_v"):
            base, g_key = key[: -len(".weight_v")], key[: -len("_v")] + "_g"
        else:
            base = key[: -len(".parametrizations.weight.original1")]
            g_key = base + ".parametrizations.weight.original0"
        v, g = out.pop(key), out.pop(g_key)
        norm = v.flatten(1).norm(dim=1).view(-1, *([1] * (v.dim() - 1)))
        out[base + ".weight"] = g * v / norm
    return out


def convert_hifigan_state_dict(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """AudioLDM HiFi-GAN names (``ups.N``) -> transformers ``SpeechT5HifiGan`` names (``upsampler.N``)."""
    state = _fold_weight_norm(state)
    out = {}
    for key, value in state.items():
        m = re.fullmatch(r"ups\.(\d+)\.(weight|bias)", key)
        out[f"upsampler.{m.group(1)}.{m.group(2)}" if m else key] = value
    if "conv_pre.weight" in out:
        mels = out["conv_pre.weight"].shape[1]
        # AudioLDM feeds the log-mel as is: normalize_before=False, so mean/scale stay at identity.
        out.setdefault("mean", torch.zeros(mels))
        out.setdefault("scale", torch.ones(mels))
    return out


def hifigan_config_from_state_dict(state: Dict[str, torch.Tensor], sample_rate: int = 16000) -> dict:
    """``SpeechT5HifiGanConfig`` kwargs: widths and kernel sizes from the weights, strides/dilations from AudioLDM."""
    ups = sorted({int(m.group(1)) for k in state for m in [re.fullmatch(r"upsampler\.(\d+)\.weight", k)] if m})
    blocks = sorted({int(m.group(1)) for k in state for m in [re.match(r"resblocks\.(\d+)\.", k)] if m})
    if "conv_pre.weight" not in state or not ups or len(blocks) % len(ups):
        raise UserError("the vocoder weights in pytorch_model_vae.bin are not an AudioLDM HiFi-GAN "
                        "(conv_pre / ups.N / resblocks.N keys)")
    kernels = len(blocks) // len(ups)
    if len(ups) != len(HIFIGAN_16K_64["upsample_rates"]) or kernels != len(HIFIGAN_16K_64["resblock_kernel_sizes"]):
        raise UserError(f"the vocoder has {len(ups)} upsampling stages and {kernels} kernels per stage; AudioLDM's "
                        f"HiFi-GAN (HIFIGAN_16K_64) has {len(HIFIGAN_16K_64['upsample_rates'])} and "
                        f"{len(HIFIGAN_16K_64['resblock_kernel_sizes'])}")
    return dict(
        model_in_dim=state["conv_pre.weight"].shape[1], sampling_rate=sample_rate,
        upsample_initial_channel=state["conv_pre.weight"].shape[0],
        upsample_rates=list(HIFIGAN_16K_64["upsample_rates"]),
        upsample_kernel_sizes=[state[f"upsampler.{i}.weight"].shape[2] for i in ups],
        resblock_kernel_sizes=[state[f"resblocks.{j}.convs1.0.weight"].shape[2] for j in range(kernels)],
        resblock_dilation_sizes=[list(d) for d in HIFIGAN_16K_64["resblock_dilation_sizes"]],
        normalize_before=False,
    )


def convert_tango_checkpoint(main: Dict[str, torch.Tensor], vae: Dict[str, torch.Tensor],
                             stft: Optional[Dict[str, torch.Tensor]] = None) -> TangoStateDicts:
    """The three published state dicts -> diffusers/transformers state dicts (see the module docstring)."""
    unet, text, unused = split_main_state_dict(main)
    vae_state, vocoder_original, vae_unused = convert_vae_state_dict(vae)
    ignored = sorted(f"stft.{k}" for k in (stft or {}))
    return TangoStateDicts(unet=unet, text_encoder=text, vae=vae_state,
                           vocoder=convert_hifigan_state_dict(vocoder_original), ignored=ignored,
                           unused=sorted(unused) + sorted(f"vae.{k}" for k in vae_unused))


def vae_config_from_tango(vae_config: dict, sample_size: int = 256) -> dict:
    """``vae_config.json`` (AudioLDM AutoencoderKL kwargs) -> diffusers ``AutoencoderKL`` kwargs."""
    dd = vae_config["ddconfig"]
    if int(vae_config.get("subband", 1)) != 1 or int(vae_config.get("time_shuffle", 1)) != 1:
        raise UserError("TANGO VAEs with subband or time_shuffle != 1 are not supported")
    if dd.get("attn_resolutions"):
        raise UserError("TANGO VAEs with attention outside the middle block (attn_resolutions) are not supported")
    if dd.get("downsample_time_stride4_levels"):
        raise UserError("TANGO VAEs with stride-4 time downsampling are not supported")
    if int(vae_config["embed_dim"]) != int(dd["z_channels"]):
        raise UserError(f"VAE embed_dim {vae_config['embed_dim']} != z_channels {dd['z_channels']} is not supported")
    levels = len(dd["ch_mult"])
    return dict(
        in_channels=dd["in_channels"], out_channels=dd["out_ch"],
        down_block_types=["DownEncoderBlock2D"] * levels, up_block_types=["UpDecoderBlock2D"] * levels,
        block_out_channels=[dd["ch"] * m for m in dd["ch_mult"]], layers_per_block=dd["num_res_blocks"],
        latent_channels=dd["z_channels"], norm_num_groups=32, sample_size=sample_size,
        scaling_factor=float(vae_config.get("scale_factor", 1.0)),
    )


def logmel_from_stft_config(stft_config: dict) -> LogMel:
    """``stft_config.json`` (TacotronSTFT kwargs) -> the equivalent ``LogMel`` front end."""
    if stft_config.get("win_length", stft_config["filter_length"]) != stft_config["filter_length"]:
        raise UserError("TANGO front ends with win_length != filter_length are not supported")
    return LogMel(sample_rate=stft_config["sampling_rate"], n_fft=stft_config["filter_length"],
                  hop_length=stft_config["hop_length"], n_mels=stft_config["n_mel_channels"],
                  f_min=float(stft_config["mel_fmin"]), f_max=float(stft_config["mel_fmax"]))


DEFAULT_STFT_CONFIG = {"filter_length": 1024, "hop_length": 160, "win_length": 1024, "n_mel_channels": 64,
                       "sampling_rate": 16000, "mel_fmin": 0, "mel_fmax": 8000}


def _local_or_none(name: Optional[str], folder: Path) -> Optional[Path]:
    if not name:
        return None
    for candidate in (Path(name).expanduser(), folder / name):
        if candidate.exists():
            return candidate
    return None


def resolve_unet_config(main_config: dict, folder: Path) -> dict:
    """The UNet config: a file at ``unet_model_config_path`` (absolute or inside the folder), else the published one."""
    if main_config.get("unet_model_name"):
        raise UserError("this TANGO checkpoint starts from a pretrained UNet (unet_model_name); only "
                        "unet_model_config_path checkpoints (all published TANGO models) are supported")
    name = main_config.get("unet_model_config_path") or "configs/diffusion_model_config.json"
    local = _local_or_none(name, folder)
    if local is not None:
        config = _read_json(local)
    elif Path(name).name in PUBLISHED_UNET_CONFIGS:
        config = dict(PUBLISHED_UNET_CONFIGS[Path(name).name])
    else:
        raise UserError(f"TANGO UNet config '{name}' is neither in '{folder}' nor a published TANGO config")
    return {k: v for k, v in config.items() if not k.startswith("_")}


def resolve_scheduler(main_config: dict, folder: Path):
    """The training scheduler: a local ``scheduler/`` folder if named, else the published SD-2.1 config."""
    from diffusers import DDPMScheduler

    name = main_config.get("scheduler_name") or "stabilityai/stable-diffusion-2-1"
    local = _local_or_none(name, folder)
    if local is not None:
        sub = local / "scheduler" if (local / "scheduler").is_dir() else local
        return DDPMScheduler.from_pretrained(sub)
    if name in PUBLISHED_SCHEDULERS:
        return DDPMScheduler(**PUBLISHED_SCHEDULERS[name])
    remote = resolve_checkpoint_folder(name, "scheduler", allow_patterns=["scheduler/*"])
    return DDPMScheduler.from_pretrained(remote / "scheduler")


# --- the backbone ---------------------------------------------------------------------------------
class TangoBackbone(AudioLDMLineageBackbone):
    """TANGO: FLAN-T5 token states (with mask) condition a v-prediction UNet on AudioLDM mel latents.

    Arguments
    ---------
    vae : diffusers.AutoencoderKL (log-mel [B, 1, frames, 64] <-> latent [B, 8, frames/4, 16])
    unet : diffusers.UNet2DConditionModel (called with ``encoder_attention_mask``)
    scheduler : diffusers.DDPMScheduler (the training schedule; v-prediction for published TANGO)
    text_encoder : transformers.T5EncoderModel (frozen)
    tokenizer : its tokenizer
    vocoder : transformers.SpeechT5HifiGan (AudioLDM's HiFi-GAN)
    logmel : LogMel (16 kHz, hop 160, 64 mels, like TANGO's TacotronSTFT)
    window_seconds : longest input of one pass (published: 10.24 s)

    Example
    -------
    >>> bb = TangoBackbone.build_tiny()
    >>> z = bb.encode_audio(torch.zeros(1, 4000))
    >>> tuple(z.shape), bb.prediction_type
    ((1, 8, 8, 16), 'v_prediction')
    """

    def __init__(self, vae, unet, scheduler, text_encoder, tokenizer, vocoder, logmel: LogMel,
                 window_seconds: float = WINDOW_SECONDS, source: str = ""):
        super().__init__()
        self.vae, self.unet, self.text_encoder = vae, unet, text_encoder
        self.scheduler, self.tokenizer, self.source = scheduler, tokenizer, source
        self.vocoder = HifiGanVocoder(vocoder)
        self.logmel = logmel
        self.sample_rate = logmel.sample_rate
        self.window_seconds = float(window_seconds)
        self.max_text_tokens = min(int(getattr(tokenizer, "model_max_length", 512) or 512), 512)
        self.check_window(WINDOW_SECONDS)
        self.freeze(self.vae, self.text_encoder, self.vocoder)

    # --- text -------------------------------------------------------------
    @torch.no_grad()
    def encode_text(self, prompts: List[str]) -> TextCond:
        """FLAN-T5 last hidden states [B, L, D] and the token mask, padded to the longest prompt (as TANGO)."""
        tokens = self.tokenizer(list(prompts), max_length=self.max_text_tokens, padding=True, truncation=True,
                                return_tensors="pt")
        device = next(self.text_encoder.parameters()).device
        hidden = self.text_encoder(input_ids=tokens["input_ids"].to(device),
                                   attention_mask=tokens["attention_mask"].to(device)).last_hidden_state
        return TextCond(hidden.float(), tokens["attention_mask"].to(device))

    # --- diffusion ----------------------------------------------------------
    def predict(self, z_t: torch.Tensor, t: torch.Tensor, cond: TextCond) -> torch.Tensor:
        if t.dim() == 0:
            t = t.expand(z_t.shape[0])
        return self.unet(z_t, t, encoder_hidden_states=cond.hidden, encoder_attention_mask=cond.mask).sample

    # --- folders ------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, source: str = "declare-lab/tango", window_seconds: Optional[float] = None,
                        local_files_only: Optional[bool] = None, **kwargs) -> "TangoBackbone":
        """Load a published TANGO checkpoint (hub id or folder), converting it on the fly.

        ``source="random"`` builds the published size with random weights instead (timing runs),
        ``"random:tiny"`` the tiny one (``build_random``).
        """
        if source in ("random", "random:tiny"):
            size = "tiny" if source == "random:tiny" else "published"
            return cls.build_random(size, window_seconds=window_seconds or WINDOW_SECONDS)
        folder = resolve_checkpoint_folder(source, "TANGO checkpoint", allow_patterns=list(CHECKPOINT_FILES),
                                           local_files_only=local_files_only)
        missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
        if missing:
            raise UserError(f"'{folder}' is not a TANGO checkpoint (missing {', '.join(missing)}); "
                            f"expected the files of e.g. {HUB_IDS[0]}")
        main_config = _read_json(folder / MAIN_CONFIG)
        vae_config = _read_json(folder / VAE_CONFIG)
        stft_config = _read_json(folder / STFT_CONFIG) if (folder / STFT_CONFIG).is_file() else DEFAULT_STFT_CONFIG
        stft_state = load_state_dict_file(folder / STFT_WEIGHTS) if (folder / STFT_WEIGHTS).is_file() else None
        states = convert_tango_checkpoint(load_state_dict_file(folder / MAIN_WEIGHTS),
                                          load_state_dict_file(folder / VAE_WEIGHTS), stft_state)
        if states.unused:
            raise UserError(f"'{folder}' holds weights this loader cannot place: {', '.join(states.unused[:4])}"
                            + (f", ... ({len(states.unused)} in all)" if len(states.unused) > 4 else ""))
        return cls.from_state_dicts(states, main_config, vae_config, stft_config, folder,
                                    window_seconds=window_seconds, source=str(source),
                                    local_files_only=local_files_only)

    @classmethod
    def from_state_dicts(cls, states: TangoStateDicts, main_config: dict, vae_config: dict, stft_config: dict,
                         folder: Path, window_seconds: Optional[float] = None, source: str = "",
                         local_files_only: Optional[bool] = None) -> "TangoBackbone":
        from diffusers import AutoencoderKL, UNet2DConditionModel
        from transformers import AutoTokenizer, SpeechT5HifiGan, SpeechT5HifiGanConfig, T5Config, T5EncoderModel

        folder = Path(folder)
        logmel = logmel_from_stft_config(stft_config)
        unet_config = resolve_unet_config(main_config, folder)
        unet = load_checked(build_empty(lambda: UNet2DConditionModel(**unet_config)), states.unet, "UNet")
        vae = load_checked(build_empty(lambda: AutoencoderKL(**vae_config_from_tango(vae_config))), states.vae, "VAE")
        vocoder_config = SpeechT5HifiGanConfig(**hifigan_config_from_state_dict(states.vocoder, logmel.sample_rate))
        vocoder = load_checked(build_empty(lambda: SpeechT5HifiGan(vocoder_config)), states.vocoder, "vocoder")

        name = main_config.get("text_encoder_name") or "google/flan-t5-large"
        text_folder = _local_or_none(name, folder)
        if text_folder is None:  # the weights are in pytorch_model_main.bin: fetch only config + tokenizer
            patterns = ["*.json", "*.model", "*.txt"] + ([] if states.text_encoder else ["*.safetensors"])
            text_folder = resolve_checkpoint_folder(
                name, "TANGO's text encoder", allow_patterns=patterns, local_files_only=local_files_only,
                download=f'huggingface-cli download {name} --include "*.json" "*.model"' if states.text_encoder
                else None, local=f"set text_encoder_name in {folder / MAIN_CONFIG} to a local folder")
        tokenizer = AutoTokenizer.from_pretrained(text_folder)
        if states.text_encoder:
            t5_config = T5Config.from_pretrained(text_folder)
            text_encoder = load_checked(build_empty(lambda: T5EncoderModel(t5_config)), states.text_encoder,
                                        "text encoder")
        else:
            text_encoder = T5EncoderModel.from_pretrained(text_folder, dtype=torch.float32)
        scheduler = resolve_scheduler(main_config, folder)
        model = cls(vae.float(), unet.float(), scheduler, text_encoder.float(), tokenizer, vocoder.float(), logmel,
                    window_seconds=WINDOW_SECONDS if window_seconds is None else window_seconds, source=source)
        logger.info(f"loaded TANGO from {folder}: UNet {count_parameters(unet) / 1e6:.0f} M parameters, "
                    f"{scheduler.config.prediction_type}")
        return model

    @classmethod
    def build_tiny(cls, seed: int = 0, window_seconds: float = 0.32) -> "TangoBackbone":
        """A random TANGO-shaped model at tiny widths (for doctests; tests write real checkpoint folders)."""
        return cls.build_random("tiny", seed, window_seconds)

    @classmethod
    def build_random(cls, size: str = "published", seed: int = 0,
                     window_seconds: float = WINDOW_SECONDS) -> "TangoBackbone":
        """TANGO with random weights, for timing and memory (its edits are noise).

        ``size="published"``: the published widths (UNet 866 M, FLAN-T5-large encoder 341 M,
        AudioLDM VAE and HiFi-GAN), what ``--backbone=tango --backbone_source=random`` builds;
        ``"tiny"``: the same shapes at tiny widths. The tokenizer is a small one built in code
        (FLAN-T5's is a download), so prompts tokenise a little longer than with the real one.
        """
        from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
        from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig, T5Config, T5EncoderModel

        if size not in ("published", "tiny"):
            raise ValueError(f"size must be 'published' or 'tiny', got {size!r}")
        published = size == "published"
        torch.manual_seed(seed)
        tokenizer = tiny_t5_tokenizer()
        t5_config = FLAN_T5_LARGE_CONFIG if published else dict(TINY_T5_CONFIG, vocab_size=len(tokenizer))
        text_encoder = T5EncoderModel(T5Config(**t5_config))
        unet = UNet2DConditionModel(**(TANGO_UNET_CONFIG if published else
                                       tiny_unet_config(cross_attention_dim=TINY_T5_CONFIG["d_model"])))
        vae = AutoencoderKL(**vae_config_from_tango(PUBLISHED_VAE_CONFIG if published else TINY_VAE_CONFIG))
        vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(**(PUBLISHED_HIFIGAN_CONFIG if published
                                                           else TINY_HIFIGAN_CONFIG)))
        return cls(vae, unet, DDPMScheduler(**SD21_SCHEDULER_CONFIG), text_encoder, tokenizer, vocoder,
                   logmel_from_stft_config(DEFAULT_STFT_CONFIG), window_seconds=window_seconds,
                   source="random" if published else "tiny")


def count_parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- tiny published-shape configs (tests, doctests) ------------------------------------------------
TINY_T5_CONFIG = dict(d_model=16, d_kv=8, d_ff=32, num_layers=1, num_heads=2, feed_forward_proj="gated-gelu",
                      tie_word_embeddings=False, relative_attention_num_buckets=8,
                      relative_attention_max_distance=16, decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
# FLAN-T5-large's encoder (google/flan-t5-large config.json) and TANGO's VAE / vocoder at their published widths
FLAN_T5_LARGE_CONFIG = dict(vocab_size=32128, d_model=1024, d_kv=64, d_ff=2816, num_layers=24, num_heads=16,
                            feed_forward_proj="gated-gelu", tie_word_embeddings=False,
                            relative_attention_num_buckets=32, relative_attention_max_distance=128,
                            decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
PUBLISHED_VAE_CONFIG = {"image_key": "fbank", "subband": 1, "embed_dim": 8, "time_shuffle": 1,
                        "ddconfig": {"double_z": True, "z_channels": 8, "resolution": 256, "downsample_time": False,
                                     "in_channels": 1, "out_ch": 1, "ch": 128, "ch_mult": [1, 2, 4],
                                     "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0},
                        "scale_factor": 0.9227914214134216}
PUBLISHED_HIFIGAN_CONFIG = dict(model_in_dim=64, sampling_rate=16000,
                                upsample_initial_channel=HIFIGAN_16K_64["upsample_initial_channel"],
                                upsample_rates=HIFIGAN_16K_64["upsample_rates"],
                                upsample_kernel_sizes=HIFIGAN_16K_64["upsample_kernel_sizes"],
                                resblock_kernel_sizes=HIFIGAN_16K_64["resblock_kernel_sizes"],
                                resblock_dilation_sizes=HIFIGAN_16K_64["resblock_dilation_sizes"],
                                normalize_before=False)
TINY_VAE_CONFIG = {"image_key": "fbank", "subband": 1, "embed_dim": 8, "time_shuffle": 1,
                   "ddconfig": {"double_z": True, "z_channels": 8, "resolution": 256, "downsample_time": False,
                                "in_channels": 1, "out_ch": 1, "ch": 32, "ch_mult": [1, 1, 1], "num_res_blocks": 1,
                                "attn_resolutions": [], "dropout": 0.0},
                   "scale_factor": 0.9227914214134216}
TINY_HIFIGAN_CONFIG = dict(model_in_dim=64, sampling_rate=16000, upsample_initial_channel=32,
                           upsample_rates=HIFIGAN_16K_64["upsample_rates"],
                           upsample_kernel_sizes=HIFIGAN_16K_64["upsample_kernel_sizes"],
                           resblock_kernel_sizes=HIFIGAN_16K_64["resblock_kernel_sizes"],
                           resblock_dilation_sizes=HIFIGAN_16K_64["resblock_dilation_sizes"], normalize_before=False)
TINY_WORDS = ("a the of and while with in dog dogs bark barks barking rain falls falling siren wails car engine "
              "knock knocks beep beeps phone rings bird birds sing chirp water wind man woman speaks sound "
              "loud quiet two three times").split()


def tiny_unet_config(cross_attention_dim: int = 16) -> dict:
    """TANGO's UNet config at tiny widths: same keys, two levels of 32/64 channels."""
    config = dict(TANGO_UNET_CONFIG)
    config.update(attention_head_dim=[2, 4], block_out_channels=[32, 64], cross_attention_dim=cross_attention_dim,
                  down_block_types=["CrossAttnDownBlock2D", "DownBlock2D"],
                  up_block_types=["UpBlock2D", "CrossAttnUpBlock2D"], layers_per_block=1)
    return config


def tiny_t5_tokenizer():
    """A T5 (unigram) tokenizer over a small closed vocabulary, built in code (no download)."""
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [("\u2581" + w, -2.0) for w in TINY_WORDS]
    vocab += [("\u2581", -8.0)] + [(c, -10.0) for c in "abcdefghijklmnopqrstuvwxyz0123456789,.'-"]
    return T5Tokenizer(vocab=vocab, extra_ids=0, model_max_length=512)
