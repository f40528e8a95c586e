"""Audio-text scoring: Text-CLAP (edit vs target prompt) and Audio-CLAP (edit vs input).

One interface, two implementations: ``ClapScorer`` wraps transformers' ``ClapModel``
(default ``laion/clap-htsat-unfused``, 48 kHz) for real backbones; ``ToyClap``
(``evaluation/toy_clap.py``) is the small contrastive evaluator trained with the
embedded model. ``load_scorer`` picks one from a source string.
"""

from pathlib import Path
from typing import List

import torch
import torch.nn.functional as F
import torchaudio

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
        inputs = self.processor(audio=list(wavs.cpu().numpy()), sampling_rate=self.sample_rate,
                                return_tensors="pt").to(self.device)
        return projected(self.model.get_audio_features(**inputs))

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
    """``embedded:<name>`` or a folder with a ToyClap ``evaluator/``; otherwise a CLAP hub id/folder."""
    from audio_editing.backbones.toy import resolve_source
    from audio_editing.evaluation.toy_clap import ToyClap

    folder = resolve_source(source)
    for candidate in (folder / "evaluator", folder):
        if (candidate / ToyClap.CONFIG_NAME).is_file():
            return ToyClap.from_pretrained(candidate)
    if source.startswith("embedded:"):
        raise UserError(f"the embedded model '{source}' has no evaluator/ folder at {folder}")
    return ClapScorer.from_pretrained(str(Path(source)) if Path(source).exists() else source)
