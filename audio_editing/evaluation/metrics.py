"""Signal-level metrics that need no learned model."""

import torch


def mel_snr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Log-mel SNR in dB: 10 log10( sum (ref - mean ref)^2 / sum (est - ref)^2 ), per batch row.

    Computed on log-mel spectrograms [B, frames, mels] (a reference row broadcasts). The
    reference's mean is removed so the constant floor of silent frames does not inflate it.

    Example
    -------
    >>> ref = torch.randn(1, 10, 4)
    >>> round(mel_snr(ref + 0.1 * torch.randn(1, 10, 4), ref).item()) in range(15, 26)
    True
    """
    reference = reference.expand_as(estimate)
    signal = (reference - reference.mean(dim=(-2, -1), keepdim=True)).pow(2).sum(dim=(-2, -1))
    error = (estimate - reference).pow(2).sum(dim=(-2, -1)).clamp(min=1e-10)
    return 10 * torch.log10(signal / error)
