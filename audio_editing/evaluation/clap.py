"""Audio-text scoring: Text-CLAP (edit vs target prompt) and Audio-CLAP (edit vs input).

One interface, ``AudioTextScorer``: ``ClapScorer`` wraps transformers' ``ClapModel``
(default ``laion/clap-htsat-unfused``, 48 kHz) for real backbones; an embedded model ships
its own small evaluator, found through ``audio_editing.registry``. ``load_scorer`` picks
one from a source string.
"""

import math
from pathlib import Path
from typing import List

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio

from audio_editing import registry
from audio_editing.errors import UserError


class AudioTextScorer(torch.nn.Module):
    """Embeds audio and text in one space; scores are cosine similarities.

    Subclasses set ``sample_rate`` and implement ``embed_audio`` (waveforms at
    ``sample_rate``) and ``embed_text``; both return unit-norm rows.
    """

    sample_rate: int

    def embed_audio(self, wavs: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def embed_text(self, prompts: List[str]) -> torch.Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def audio_embeddings(self, wavs: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """[B, T] at ``sample_rate`` -> [B, D], resampled to the scorer's rate."""
        wavs = wavs.float().to(self.device)
        if sample_rate != self.sample_rate:
            wavs = torchaudio.functional.resample(wavs, sample_rate, self.sample_rate)
        return F.normalize(self.embed_audio(wavs), dim=-1)

    @torch.no_grad()
    def text_embeddings(self, prompts: List[str]) -> torch.Tensor:
        return F.normalize(self.embed_text(list(prompts)), dim=-1)

    def text_scores(self, wavs: torch.Tensor, sample_rate: int, prompts: List[str]) -> torch.Tensor:
        """Cosine(audio_i, prompt_i) for each row (one prompt broadcasts to all rows)."""
        audio = self.audio_embeddings(wavs, sample_rate)
        text = self.text_embeddings(prompts)
        return (audio * text).sum(-1).cpu()

    def audio_scores(self, wavs: torch.Tensor, sample_rate: int, refs: torch.Tensor) -> torch.Tensor:
        """Cosine(audio_i, ref_i) (one reference row broadcasts to all rows)."""
        audio = self.audio_embeddings(wavs, sample_rate)
        ref = self.audio_embeddings(refs, sample_rate)
        return (audio * ref).sum(-1).cpu()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


class ClapScorer(AudioTextScorer):
    """transformers ``ClapModel`` (LAION-CLAP), 48 kHz."""

    def __init__(self, model, processor):
        super().__init__()
        self.model, self.processor = model.eval(), processor
        self.sample_rate = processor.feature_extractor.sampling_rate

    def embed_audio(self, wavs):
        """Mean of the unit-norm embeddings of fixed windows that cover the whole clip.

        transformers' extractor keeps at most ``max_length_s`` and crops longer audio at random
        (``np.random``, in both ``fusion`` and ``rand_trunc``): a 10.24 s edit scored twice got two
        scores, and each eta's edit was scored on a different crop. Here a clip up to the max length
        goes in whole (the extractor pads it); a longer one is cut into max-length windows with evenly
        spaced starts, the last ending at the clip's end, so the extractor never crops and every clip
        of one length (input and candidates) is scored on the same windows.
        """
        extractor = self.processor.feature_extractor
        size, length = extractor.nb_max_samples, wavs.shape[-1]
        starts = torch.linspace(0, max(length - size, 0), math.ceil(length / size)).round().long().tolist()
        windows = torch.stack([wavs[:, s:s + size] for s in starts], dim=1).flatten(0, 1)
        # "fusion" still draws np.random to flag one row as longer when none is: restore and clear it
        state = np.random.get_state()
        inputs = extractor(list(windows.cpu().numpy()), sampling_rate=self.sample_rate, return_tensors="pt")
        np.random.set_state(state)
        inputs["is_longer"] = torch.zeros_like(inputs["is_longer"])
        embeddings = F.normalize(projected(self.model.get_audio_features(**inputs.to(self.device))), dim=-1)
        return embeddings.view(len(wavs), len(starts), -1).mean(1)

    def embed_text(self, prompts):
        inputs = self.processor(text=prompts, padding=True, return_tensors="pt").to(self.device)
        return projected(self.model.get_text_features(**inputs))

    @classmethod
    def from_pretrained(cls, source: str) -> "ClapScorer":
        from transformers import ClapModel, ClapProcessor

        try:
            return cls(ClapModel.from_pretrained(source), ClapProcessor.from_pretrained(source))
        except OSError as err:
            raise UserError(
                f"cannot load CLAP model '{source}' ({str(err).splitlines()[0]}); "
                f"download it first with `huggingface-cli download {source}` or pass a local folder"
            ) from None


def projected(features) -> torch.Tensor:
    """transformers 5 returns an output object whose ``pooler_output`` holds the projection; 4.x a tensor."""
    return features if isinstance(features, torch.Tensor) else features.pooler_output


def load_scorer(source: str) -> AudioTextScorer:
    """``embedded:<name>`` or a folder with an embedded model's ``evaluator/`` (the registry's); otherwise
    a CLAP hub id/folder."""
    scorer = registry.load_scorer(source)
    if scorer is not None:
        return scorer
    if source.startswith("embedded:"):
        folder = registry.resolve_source(source)
        raise UserError(f"the embedded model '{source}' has no evaluator/ folder at {folder}")
    return ClapScorer.from_pretrained(str(Path(source)) if Path(source).exists() else source)
