"""Generate and layer: an addition edit that leaves the input untouched and mixes a generated sound over it.

Adding a sound to a recording is, physically, mixing: a sound designer layers the new sound over the
old one. This method does that with the backbone: it finds the part of the target prompt the input
lacks (``editing/added_sound.py``: the prompt is cut at its connectors, "a dog barks while a phone rings"
-> "a dog barks", "a phone rings", and the part the scorer matches least to the input is the one to
add), generates that sound alone from fresh noise, and mixes it over the input at several levels
(``layer_gains``, the layer's RMS relative to the input's, one fresh take each). The rule of the
recipe (``eta_selection``) chooses among the takes, as it chooses eta for the method.

Nothing is trained and the input is kept sample for sample under the layer, so the edit keeps the
original's timing by construction. It needs only what a model renders well, one event from a short
prompt, where the method needs the model to compose the whole new scene from the prompt. It applies
to addition only (``method: layer``); ``added_prompt`` names the sound to add where the user knows it.
"""

from typing import List, Optional

import torch

from audio_editing.backbones.base import TextCond
from audio_editing.data.audio import limit_outputs
from audio_editing.editing.added_sound import sound_to_add
from audio_editing.editing.baselines import BaselineEditor, number_list
from audio_editing.editing.inversion import denoise

def mix_layers(input_wav: torch.Tensor, layers: torch.Tensor, gains: List[float],
               peak: Optional[float] = None) -> torch.Tensor:
    """The input [..., T] plus each layer [n, ..., T] scaled to ``gains[i]`` times the input's RMS; an
    output louder than ``peak`` (default: full scale or the input's peak) is scaled down as a whole.

    Example
    -------
    >>> mixed = mix_layers(torch.ones(4) * 0.5, torch.tensor([[1.0, -1.0, 1.0, -1.0]]), [0.5])
    >>> mixed.tolist()
    [[0.75, 0.25, 0.75, 0.25]]
    """
    input_wav = input_wav.to(layers)
    rms_in = input_wav.pow(2).mean().sqrt()
    rms = layers.flatten(1).pow(2).mean(dim=1).sqrt().clamp_min(1e-8)
    scale = torch.tensor(gains, dtype=layers.dtype) * rms_in / rms
    mixed = input_wav + layers * scale.view(-1, *([1] * (layers.dim() - 1)))
    return limit_outputs(mixed, input_wav, peak)


class LayerEditor(BaselineEditor):
    """Generate and layer (see the module): the missing sound generated from fresh noise with ``sampler``,
    ``sample_steps`` and ``guidance_scale``, mixed over the input at each of ``layer_gains``."""

    method = "layer"
    sweep = "gain"
    sweep_key = "layer_gains"
    HPARAMS_NEEDED = ("layer_gains", "added_prompt")
    edit_types = ("addition",)  # what it can do (``methods.with_method`` refuses the others)

    def sweep_values(self) -> List[float]:
        """``layer_gains``, checked (read at each edit: the API may change them per edit)."""
        return number_list(self.hparams.layer_gains, "--layer_gains", "[0.5,1,2]",
                           lambda g: g > 0, "must be a non-empty list of positive numbers (the layer's loudness "
                           "relative to the input's: 1 is as loud)")

    def sample(self, target_prompt: str):
        """Choose the sound to add (:func:`~audio_editing.editing.added_sound.sound_to_add`), then generate, layer,
        score and choose a take as every method does."""
        prompt = sound_to_add(self, target_prompt)
        with torch.no_grad():
            self.layer_cond = self.modules.backbone.encode_text([prompt])
        result = super().sample(target_prompt)
        result.metrics["added_prompt"] = prompt
        return result

    def generate(self, gains, e_target: TextCond, start=None) -> torch.Tensor:
        return super().generate(gains, self.layer_cond)

    def regenerate(self, gains, cond: TextCond, generator, z0, noise, after_step):
        """One take of the layer per gain, each from its own noise: latents [n_gains, ...]."""
        hp, backbone = self.hparams, self.modules.backbone
        sampler = hp.sampler(backbone.scheduler.config)
        sampler.set_timesteps(hp.sample_steps, device=self.device)
        z = torch.randn((len(gains), *z0.shape[1:]), generator=generator).to(z0) * sampler.init_noise_sigma
        both = TextCond.cat([backbone.null_cond(cond).repeat(len(gains)), cond.repeat(len(gains))])
        return denoise(backbone, sampler, z, backbone.noise_timesteps(sampler), both, hp.guidance_scale, after_step)

    def compose(self, input_wav: torch.Tensor, wavs: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """The input with each take layered over it at its gain (the takes as decoded: ``wavs``)."""
        return mix_layers(input_wav, wavs, self.sweep_values())
