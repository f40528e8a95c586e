"""Procedural sound world for the embedded text-to-audio model.

Twelve sound-event classes (sirens, phones, door knocks, ...) are synthesised
with NumPy from a handful of variant parameters each. A :class:`Scene` lists
timed :class:`Event` objects plus an optional background bed; rendering is a
pure function of the scene, so a scene can be re-rendered bit for bit (every
noise source is seeded from a value stored in the event's ``params``).

On top of the synthesiser the module provides

* captions with many wordings per class, split into a ``"train"`` and a
  disjoint ``"heldout"`` vocabulary (:func:`caption`, :func:`describe_event`),
* a deterministic training stream (:func:`generate_examples`),
* a 27-clip editing benchmark with addition, style-transfer and inpainting
  pairs (:func:`make_benchmark`).

Command line::

    python -m audio_editing.data.toy_world --benchmark OUT_DIR [--seed 0]
    python -m audio_editing.data.toy_world --examples N --out DIR [--seed 0]

Example
-------
>>> rng = np.random.default_rng(0)
>>> scene = sample_scene(rng, background="rain")
>>> wav = render_scene(scene)
>>> wav.shape, wav.dtype.name
((40960,), 'float32')
>>> bool(np.array_equal(wav, render_scene(scene)))
True
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np
import scipy.fft
import soundfile
from scipy import signal

from audio_editing.errors import UserError

SAMPLE_RATE = 16000
CLIP_SECONDS = 2.56
CLIP_SAMPLES = round(CLIP_SECONDS * SAMPLE_RATE)  # 40960, the embedded model's window
PEAK_LIMIT = 0.95
SPLITS = ("train", "heldout")
BACKGROUND_CLASSES = ("rain", "engine")
BACKGROUND_PROBABILITY = 0.3
EDIT_TYPES = ("addition", "style_transfer", "inpainting")

_MIN_ONSET_GAP_SECONDS = 0.2
_FOREGROUND_GAIN_RANGE = (0.25, 0.5)
_BACKGROUND_GAIN_RANGE = (0.06, 0.15)
_HIGHEST_PARTIAL_HZ = 7600.0  # keeps synthesised partials below Nyquist (8 kHz)
_TABLE_SIZE = 2048


# --------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------


@dataclass
class Event:
    """One sound event placed in a scene.

    Parameters
    ----------
    label : str
        Class name, one of :data:`CLASSES`.
    onset : float
        Start time in seconds from the beginning of the scene.
    duration : float
        Length in seconds; the rendered waveform has ``round(duration * 16000)``
        samples (cut where the scene ends).
    params : dict
        Variant values (pitch, rate, ``gain``, noise ``seed``, ...). Together
        with ``label`` and ``duration`` they fix the waveform exactly.
    """

    label: str
    onset: float
    duration: float
    params: dict


@dataclass
class Scene:
    """Foreground events over an optional background bed.

    Parameters
    ----------
    events : list of Event
        Foreground events.
    background : str or None
        Class of the bed spanning the whole scene (one of
        :data:`BACKGROUND_CLASSES`), or None for silence.
    seconds : float
        Scene length in seconds.
    background_params : dict
        Variant values of the bed (empty when there is no background).
    """

    events: list[Event]
    background: Optional[str] = None
    seconds: float = CLIP_SECONDS
    background_params: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return a JSON-serialisable dict; :meth:`from_dict` inverts it."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Scene":
        """Rebuild a scene written by :meth:`to_dict`.

        Example
        -------
        >>> scene = sample_scene(np.random.default_rng(1))
        >>> Scene.from_dict(json.loads(json.dumps(scene.to_dict()))) == scene
        True
        """
        return cls(
            events=[Event(**event) for event in data["events"]],
            background=data["background"],
            seconds=data["seconds"],
            background_params=dict(data["background_params"]),
        )


# --------------------------------------------------------------------------
# Signal building blocks
# --------------------------------------------------------------------------


def _seconds_to_samples(seconds: float) -> int:
    return int(round(seconds * SAMPLE_RATE))


def _time_axis(n: int) -> np.ndarray:
    return np.arange(n) / SAMPLE_RATE


def _band_noise(rng: np.random.Generator, n: int, low_hz: float, high_hz: float,
                slope_db_per_octave: float = 0.0) -> np.ndarray:
    """White noise restricted to ``[low_hz, high_hz]`` with a spectral slope."""
    fft_length = scipy.fft.next_fast_len(n, real=True)
    spectrum = scipy.fft.rfft(rng.standard_normal(fft_length))
    freqs = scipy.fft.rfftfreq(fft_length, 1.0 / SAMPLE_RATE)
    shape = ((freqs >= low_hz) & (freqs <= high_hz)).astype(float)
    if slope_db_per_octave:
        shape *= (np.maximum(freqs, 1.0) / 1000.0) ** (slope_db_per_octave / 6.02)
    return scipy.fft.irfft(spectrum * shape, fft_length)[:n]


def _harmonic_table(amplitudes: Sequence[float]) -> np.ndarray:
    """One period of ``sum_k amplitudes[k-1] * sin(2 pi k x)`` as a lookup table."""
    phase = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    harmonic_numbers = np.arange(1, len(amplitudes) + 1)[:, None]
    return (np.asarray(amplitudes, float)[:, None]
            * np.sin(2 * np.pi * harmonic_numbers * phase)).sum(axis=0)


def _oscillate(freq_hz: np.ndarray, table: Optional[np.ndarray] = None,
               start_cycle: float = 0.0) -> np.ndarray:
    """Phase-continuous oscillator following an instantaneous frequency track.

    A sine without ``table``; otherwise a linear-interpolated wavetable.
    """
    cycles = start_cycle + np.cumsum(freq_hz) / SAMPLE_RATE
    if table is None:
        return np.sin(2 * np.pi * cycles)
    position = (cycles % 1.0) * _TABLE_SIZE
    index = position.astype(np.int64)
    fraction = position - index
    following = table[(index + 1) % _TABLE_SIZE]
    return table[index] + fraction * (following - table[index])


def _pulse_gate(n: int, start_s: float, on_s: float, period_s: float,
                count: float, ramp_s: float) -> np.ndarray:
    """Trapezoid on/off gate: ``count`` pulses of ``on_s`` every ``period_s``."""
    t = _time_axis(n) - start_s
    position = np.mod(t, period_s)
    gate = np.clip(np.minimum(position, on_s - position) / ramp_s, 0.0, 1.0)
    gate[(t < 0) | (np.floor(t / period_s) >= count)] = 0.0
    return gate


def _decaying_sine(n: int, freq_hz: float, decay_s: float, attack_s: float = 0.0) -> np.ndarray:
    t = _time_axis(n)
    envelope = np.exp(-t / decay_s)
    if attack_s > 0:
        envelope *= np.minimum(t / attack_s, 1.0)
    return envelope * np.sin(2 * np.pi * freq_hz * t)


def _place_kernels(n: int, kernels: Sequence[np.ndarray], starts_s: Sequence[float]) -> np.ndarray:
    """Add each kernel into a silent buffer at its start time (cut at the end)."""
    out = np.zeros(n)
    for kernel, start_s in zip(kernels, starts_s):
        start = _seconds_to_samples(start_s)
        if start >= n:
            break
        stop = min(n, start + len(kernel))
        out[start:stop] += kernel[:stop - start]
    return out


def _apply_fades(wave: np.ndarray, fade_in_s: float, fade_out_s: float) -> None:
    """Raised-cosine fade in and out, in place."""
    n_in = min(len(wave), max(1, _seconds_to_samples(fade_in_s)))
    n_out = min(len(wave), max(1, _seconds_to_samples(fade_out_s)))
    wave[:n_in] *= 0.5 - 0.5 * np.cos(np.pi * np.arange(n_in) / n_in)
    wave[len(wave) - n_out:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(1, n_out + 1) / n_out)


def _uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(rng.uniform(low, high))


def _pick(rng: np.random.Generator, options: Sequence):
    return options[int(rng.integers(len(options)))]


# --------------------------------------------------------------------------
# Sound classes: parameter samplers and renderers
#
# A sampler ``(rng, seconds) -> dict`` draws the variant values of one event
# of the given duration (without ``seed``/``gain``, added by the caller); a
# renderer ``(params, n, rng) -> float64 array`` synthesises ``n`` samples,
# taking all of its noise from ``rng`` (seeded from ``params["seed"]``).
# --------------------------------------------------------------------------


def _siren_params(rng, seconds):
    low_hz = _uniform(rng, 550, 850)
    wail = bool(rng.random() < 0.6)
    return {
        "low_hz": low_hz,
        "high_hz": low_hz * _uniform(rng, 1.6, 2.0),
        "style": "wail" if wail else "yelp",
        "sweep_seconds": _uniform(rng, 0.5, 1.0) if wail else _uniform(rng, 0.12, 0.25),
        "start_cycle": _uniform(rng, 0.0, 1.0),
    }


def _render_siren(params, n, rng):
    cycle = (_time_axis(n) / params["sweep_seconds"] + params["start_cycle"]) % 1.0
    sweep = 0.5 - 0.5 * np.cos(2 * np.pi * cycle) if params["style"] == "wail" else cycle
    freq = params["low_hz"] + (params["high_hz"] - params["low_hz"]) * sweep
    wave = _oscillate(freq, _harmonic_table([1.0, 0.45, 0.25, 0.12]))
    _apply_fades(wave, 0.03, 0.05)
    return wave


def _phone_params(rng, seconds):
    low_hz = _uniform(rng, 700, 1000)
    return {
        "low_hz": low_hz,
        "high_hz": low_hz * _uniform(rng, 1.15, 1.35),
        "trill_hz": _uniform(rng, 14, 24),
        "ring_seconds": _uniform(rng, 0.25, 0.45),
        "pause_seconds": _uniform(rng, 0.12, 0.25),
    }


def _render_phone(params, n, rng):
    t = _time_axis(n)
    high_half = np.floor(t * params["trill_hz"] * 2) % 2 == 1
    freq = np.where(high_half, params["high_hz"], params["low_hz"])
    tone = _oscillate(freq, _harmonic_table([1.0, 0.3, 0.15]))
    period = params["ring_seconds"] + params["pause_seconds"]
    return tone * _pulse_gate(n, 0.0, params["ring_seconds"], period, np.inf, 0.005)


def _knock_params(rng, seconds):
    most_knocks = max(2, int((seconds - 0.12) // 0.11) + 1)
    knock_count = int(rng.integers(2, min(4, most_knocks) + 1))
    return {
        "body_hz": _uniform(rng, 110, 240),
        "decay_seconds": _uniform(rng, 0.018, 0.04),
        "spacing_seconds": min(_uniform(rng, 0.11, 0.22), (seconds - 0.12) / (knock_count - 1)),
        "knock_count": knock_count,
        "click_level": _uniform(rng, 0.2, 0.5),
    }


def _render_knock(params, n, rng):
    kernel_n = _seconds_to_samples(0.15)
    kernels = []
    for _ in range(params["knock_count"]):
        body = (_decaying_sine(kernel_n, params["body_hz"], params["decay_seconds"], 0.001)
                + 0.5 * _decaying_sine(kernel_n, 2.7 * params["body_hz"], 0.6 * params["decay_seconds"]))
        click = _band_noise(rng, kernel_n, 100, 2500) * np.exp(-_time_axis(kernel_n) / 0.004)
        kernels.append(_uniform(rng, 0.8, 1.0) * (body + params["click_level"] * click))
    count = params["knock_count"]
    starts = 0.01 + params["spacing_seconds"] * np.arange(count) * rng.uniform(0.95, 1.05, count)
    return _place_kernels(n, kernels, starts)


def _gunshot_params(rng, seconds):
    return {
        "tail_seconds": _uniform(rng, 0.06, 0.25),
        "boom_hz": _uniform(rng, 45, 90),
        "brightness": _uniform(rng, 0.3, 0.8),
        "echo_seconds": _uniform(rng, 0.05, 0.15),
        "echo_level": _uniform(rng, 0.0, 0.35),
    }


def _render_gunshot(params, n, rng):
    t = _time_axis(n)
    attack = np.minimum(t / 0.0005, 1.0)
    crack = rng.standard_normal(n) * np.exp(-t / 0.015)
    tail = _band_noise(rng, n, 20, _HIGHEST_PARTIAL_HZ, -4.0) * np.exp(-t / params["tail_seconds"])
    tail *= 1.0 / max(np.abs(tail).max(), 1e-12)
    boom = _decaying_sine(n, params["boom_hz"], 0.08)
    wave = attack * (params["brightness"] * crack + tail + 0.6 * boom)
    echo_start = min(n, _seconds_to_samples(params["echo_seconds"]))
    wave[echo_start:] += params["echo_level"] * wave[:n - echo_start]
    return wave


def _dog_params(rng, seconds):
    bark_seconds = _uniform(rng, 0.1, 0.2)
    gap_seconds = _uniform(rng, 0.1, 0.25)
    most_barks = max(1, int((seconds - bark_seconds) // (bark_seconds + gap_seconds)) + 1)
    return {
        "pitch_hz": _uniform(rng, 300, 520),
        "bark_seconds": bark_seconds,
        "gap_seconds": gap_seconds,
        "bark_count": int(rng.integers(1, min(3, most_barks) + 1)),
        "formants_hz": [_uniform(rng, 600, 1000), _uniform(rng, 1400, 2000), _uniform(rng, 2600, 3400)],
        "roughness": _uniform(rng, 0.1, 0.4),
    }


def _render_dog(params, n, rng):
    bark_n = _seconds_to_samples(params["bark_seconds"])
    progress = np.arange(bark_n) / bark_n
    pitch_contour = params["pitch_hz"] * (1 + 0.35 * np.sin(np.pi * np.minimum(1.6 * progress, 1.0)) - 0.25 * progress)
    bark_envelope = np.minimum(progress / 0.06, 1.0) * (1 - progress) ** 1.5
    starts = 0.005 + (params["bark_seconds"] + params["gap_seconds"]) * np.arange(params["bark_count"])
    loudness = rng.uniform(0.75, 1.0, params["bark_count"])
    envelope = _place_kernels(n, [level * bark_envelope for level in loudness], starts)
    pitch_bends = _place_kernels(n, [pitch_contour - params["pitch_hz"]] * params["bark_count"], starts)
    freq = params["pitch_hz"] + pitch_bends
    harmonic_count = int(_HIGHEST_PARTIAL_HZ // (1.4 * params["pitch_hz"]))
    voiced = _oscillate(freq, _harmonic_table(1.0 / np.arange(1, harmonic_count + 1)))
    source = envelope * (voiced + params["roughness"] * rng.standard_normal(n))
    wave = np.zeros(n)
    for formant_hz, weight in zip(params["formants_hz"], (1.0, 0.7, 0.35)):
        sos = signal.butter(2, [0.85 * formant_hz, 1.15 * formant_hz], "bandpass", fs=SAMPLE_RATE, output="sos")
        wave += weight * signal.sosfilt(sos, source)
    return wave


def _rain_params(rng, seconds):
    return {
        "low_hz": _uniform(rng, 300, 800),
        "slope_db_per_octave": _uniform(rng, -3.0, 1.0),
        "drops_per_second": _uniform(rng, 20, 70),
        "drop_hz": _uniform(rng, 1800, 4000),
        "drop_level": _uniform(rng, 2.0, 6.0),
    }


def _render_rain(params, n, rng):
    bed = _band_noise(rng, n, params["low_hz"], _HIGHEST_PARTIAL_HZ, params["slope_db_per_octave"])
    bed /= max(np.sqrt(np.mean(bed ** 2)), 1e-12)
    impulses = np.zeros(n)
    drop_count = rng.poisson(params["drops_per_second"] * n / SAMPLE_RATE)
    impulses[rng.integers(0, n, drop_count)] = rng.uniform(0.3, 1.0, drop_count)
    drop_t = _time_axis(_seconds_to_samples(0.02))
    drops = np.zeros(n)
    # Droplets of three sizes (pitches), so their clicks form no steady tone.
    drop_size = rng.integers(0, 3, n)
    for size, pitch_factor in enumerate((0.7, 1.0, 1.4)):
        drop = (np.sin(2 * np.pi * pitch_factor * params["drop_hz"] * drop_t * (1 + 12 * drop_t))
                * np.exp(-drop_t / 0.003))
        drops += signal.fftconvolve(np.where(drop_size == size, impulses, 0.0), drop)[:n]
    wave = bed + params["drop_level"] * drops
    _apply_fades(wave, 0.05, 0.05)
    return wave


def _engine_params(rng, seconds):
    return {
        "pitch_hz": _uniform(rng, 28, 65),
        "wobble": _uniform(rng, 0.005, 0.03),
        "tremolo_hz": _uniform(rng, 4, 12),
        "tremolo_depth": _uniform(rng, 0.1, 0.5),
        "rolloff": _uniform(rng, 0.8, 1.5),
        "top_hz": _uniform(rng, 1200, 2200),
        "rumble_level": _uniform(rng, 0.3, 0.8),
    }


def _render_engine(params, n, rng):
    t = _time_axis(n)
    freq = params["pitch_hz"] * (1 + params["wobble"] * np.sin(2 * np.pi * 0.7 * t + rng.uniform(0, 2 * np.pi)))
    harmonic_numbers = np.arange(1, int(params["top_hz"] // params["pitch_hz"]) + 1)
    hum = _oscillate(freq, _harmonic_table(harmonic_numbers ** -params["rolloff"]))
    hum *= 1 - params["tremolo_depth"] * (0.5 + 0.5 * np.sin(2 * np.pi * params["tremolo_hz"] * t))
    rumble = _band_noise(rng, n, 20, 250)
    rumble *= np.sqrt(np.mean(hum ** 2) / max(np.mean(rumble ** 2), 1e-12))
    wave = hum + params["rumble_level"] * rumble
    _apply_fades(wave, 0.08, 0.08)
    return wave


def _bird_params(rng, seconds):
    chirp_seconds = _uniform(rng, 0.04, 0.12)
    gap_seconds = _uniform(rng, 0.03, 0.12)
    most_chirps = max(1, int(seconds // (chirp_seconds + gap_seconds)))
    start_hz = _uniform(rng, 3500, 6500)
    return {
        "start_hz": start_hz,
        "end_hz": min(7000.0, start_hz * _uniform(rng, 0.55, 1.4)),
        "chirp_seconds": chirp_seconds,
        "gap_seconds": gap_seconds,
        "chirp_count": int(rng.integers(min(2, most_chirps), min(6, most_chirps) + 1)),
        "trill_hz": _uniform(rng, 0, 60),
        "trill_depth_hz": _uniform(rng, 0, 400),
    }


def _render_bird(params, n, rng):
    chirp_n = _seconds_to_samples(params["chirp_seconds"])
    progress = np.arange(chirp_n) / chirp_n
    sweep = (params["start_hz"] + (params["end_hz"] - params["start_hz"]) * progress
             + params["trill_depth_hz"] * np.sin(2 * np.pi * params["trill_hz"] * progress * params["chirp_seconds"]))
    starts = 0.005 + (params["chirp_seconds"] + params["gap_seconds"]) * np.arange(params["chirp_count"])
    loudness = rng.uniform(0.6, 1.0, params["chirp_count"])
    envelope = _place_kernels(n, [level * np.sin(np.pi * progress) ** 2 for level in loudness], starts)
    freq = _place_kernels(n, [sweep] * params["chirp_count"], starts)
    return envelope * _oscillate(freq)


def _clock_params(rng, seconds):
    return {
        "tick_seconds": _uniform(rng, 0.25, 0.5),
        "tick_hz": _uniform(rng, 2500, 4500),
        "tock_ratio": _uniform(rng, 0.7, 0.9),
        "decay_seconds": _uniform(rng, 0.004, 0.01),
    }


def _render_clock(params, n, rng):
    tick_count = int((n / SAMPLE_RATE - 0.01) // params["tick_seconds"]) + 1
    kernel_n = _seconds_to_samples(0.04)
    click_envelope = np.exp(-_time_axis(kernel_n) / 0.001)
    kernels = []
    for tick in range(tick_count):
        pitch = params["tick_hz"] * (params["tock_ratio"] if tick % 2 else 1.0)
        click = _band_noise(rng, kernel_n, 1000, _HIGHEST_PARTIAL_HZ) * click_envelope
        kernels.append(_decaying_sine(kernel_n, pitch, params["decay_seconds"], 0.0003) + 0.3 * click)
    return _place_kernels(n, kernels, 0.01 + params["tick_seconds"] * np.arange(tick_count))


def _beep_params(rng, seconds):
    beep_seconds = _uniform(rng, 0.08, 0.25)
    gap_seconds = _uniform(rng, 0.06, 0.18)
    most_beeps = max(1, int((seconds - beep_seconds) // (beep_seconds + gap_seconds)) + 1)
    return {
        "freq_hz": _uniform(rng, 600, 1600),
        "beep_seconds": beep_seconds,
        "gap_seconds": gap_seconds,
        "beep_count": int(rng.integers(1, min(4, most_beeps) + 1)),
    }


def _render_beep(params, n, rng):
    tone = _oscillate(np.full(n, params["freq_hz"]))
    period = params["beep_seconds"] + params["gap_seconds"]
    return tone * _pulse_gate(n, 0.005, params["beep_seconds"], period, params["beep_count"], 0.004)


def _whistle_params(rng, seconds):
    return {
        "freq_hz": _uniform(rng, 1700, 3200),
        "vibrato_hz": _uniform(rng, 4.5, 7.0),
        "vibrato_depth": _uniform(rng, 0.01, 0.03),
        "glide_ratio": _uniform(rng, 0.8, 1.0),
        "breath_level": _uniform(rng, 0.02, 0.08),
    }


def _render_whistle(params, n, rng):
    t = _time_axis(n)
    glide = 1 - (1 - params["glide_ratio"]) * np.exp(-t / 0.06)
    freq = params["freq_hz"] * glide * (1 + params["vibrato_depth"] * np.sin(2 * np.pi * params["vibrato_hz"] * t))
    breath = _band_noise(rng, n, params["freq_hz"] - 400, params["freq_hz"] + 400)
    breath /= max(np.abs(breath).max(), 1e-12)
    wave = _oscillate(freq) + params["breath_level"] * breath
    _apply_fades(wave, 0.04, 0.06)
    return wave


def _footsteps_params(rng, seconds):
    return {
        "step_seconds": _uniform(rng, 0.38, 0.6),
        "thump_hz": _uniform(rng, 60, 110),
        "scuff_level": _uniform(rng, 0.3, 0.9),
        "scuff_low_hz": _uniform(rng, 250, 500),
        "scuff_high_hz": _uniform(rng, 1500, 3000),
    }


def _render_footsteps(params, n, rng):
    step_count = int((n / SAMPLE_RATE - 0.01) // params["step_seconds"]) + 1
    kernel_n = _seconds_to_samples(0.15)
    t = _time_axis(kernel_n)
    scuff_envelope = np.minimum(t / 0.005, 1.0) * np.exp(-np.maximum(t - 0.01, 0.0) / 0.025)
    kernels = []
    for step in range(step_count):
        thump = _decaying_sine(kernel_n, params["thump_hz"], 0.03, 0.003)
        scuff = _band_noise(rng, kernel_n, params["scuff_low_hz"], params["scuff_high_hz"])
        scuff *= scuff_envelope / max(np.abs(scuff).max(), 1e-12)
        side_level = 1.0 if step % 2 == 0 else _uniform(rng, 0.7, 0.95)
        kernels.append(side_level * (thump + params["scuff_level"] * scuff))
    starts = 0.01 + params["step_seconds"] * np.arange(step_count) + rng.uniform(-0.01, 0.01, step_count)
    return _place_kernels(n, kernels, np.maximum(starts, 0.0))


@dataclass(frozen=True)
class _SoundClass:
    duration_range: tuple[float, float]
    sample_params: Callable[[np.random.Generator, float], dict]
    render: Callable[[dict, int, np.random.Generator], np.ndarray]


_SOUND_CLASSES: dict[str, _SoundClass] = {
    "siren": _SoundClass((0.8, 1.5), _siren_params, _render_siren),
    "phone": _SoundClass((0.7, 1.5), _phone_params, _render_phone),
    "knock": _SoundClass((0.3, 0.9), _knock_params, _render_knock),
    "gunshot": _SoundClass((0.4, 1.0), _gunshot_params, _render_gunshot),
    "dog": _SoundClass((0.3, 1.0), _dog_params, _render_dog),
    "rain": _SoundClass((0.8, 1.5), _rain_params, _render_rain),
    "engine": _SoundClass((1.0, 1.5), _engine_params, _render_engine),
    "bird": _SoundClass((0.4, 1.2), _bird_params, _render_bird),
    "clock": _SoundClass((0.8, 1.5), _clock_params, _render_clock),
    "beep": _SoundClass((0.3, 1.0), _beep_params, _render_beep),
    "whistle": _SoundClass((0.5, 1.3), _whistle_params, _render_whistle),
    "footsteps": _SoundClass((0.8, 1.5), _footsteps_params, _render_footsteps),
}

CLASSES: list[str] = list(_SOUND_CLASSES)
"""Names of the sound-event classes, in a fixed order."""

_EVENT_CLASSES = [label for label in CLASSES if label not in BACKGROUND_CLASSES]


def _check_label(label: str) -> None:
    if label not in _SOUND_CLASSES:
        raise UserError(f"unknown sound class {label!r}; choose one of: {', '.join(CLASSES)}")


def _check_split(split: str) -> None:
    if split not in SPLITS:
        raise UserError(f"unknown caption split {split!r}; choose 'train' or 'heldout'")


def duration_range(label: str) -> tuple[float, float]:
    """Characteristic event duration range of a class, in seconds.

    Example
    -------
    >>> duration_range("knock")
    (0.3, 0.9)
    """
    _check_label(label)
    return _SOUND_CLASSES[label].duration_range


def sample_params(label: str, rng: np.random.Generator, seconds: float, background: bool = False) -> dict:
    """Draw the variant values of one event (or background bed) of a class.

    Parameters
    ----------
    label : str
        Class name.
    rng : numpy.random.Generator
        Source of the variant values.
    seconds : float
        Duration the event will have (patterns such as knock counts fit it).
    background : bool
        Draw the quieter gain of a background bed.

    Returns
    -------
    dict
        JSON-serialisable values including ``gain`` (peak level) and ``seed``
        (for the noise used while rendering).
    """
    _check_label(label)
    params = _SOUND_CLASSES[label].sample_params(rng, seconds)
    gain_range = _BACKGROUND_GAIN_RANGE if background else _FOREGROUND_GAIN_RANGE
    params["gain"] = _uniform(rng, *gain_range)
    params["seed"] = int(rng.integers(2 ** 31))
    return params


def _render_source(label: str, params: dict, n: int) -> np.ndarray:
    """Synthesise ``n`` samples of a class, scaled to peak ``params['gain']`` (float64)."""
    if n <= 0:
        return np.zeros(0)
    wave = _SOUND_CLASSES[label].render(params, n, np.random.default_rng(params["seed"]))
    _apply_fades(wave, 0.0005, 0.01)
    peak = np.abs(wave).max()
    return wave * (params["gain"] / peak) if peak > 0 else wave


def _event_in_buffer(event: Event, n_samples: int) -> np.ndarray:
    out = np.zeros(n_samples)
    start = _seconds_to_samples(event.onset)
    if start >= n_samples:
        return out
    length = min(_seconds_to_samples(event.duration), n_samples - start)
    out[start:start + length] = _render_source(event.label, event.params, length)
    return out


def render_event(event: Event, n_samples: int) -> np.ndarray:
    """Render one event alone into a silent buffer of ``n_samples``.

    The event starts at sample ``round(onset * 16000)`` and is cut where the
    buffer ends. This is exactly the event's contribution to
    :func:`render_scene` (before that function's peak limiting, which never
    applies when the mixture already peaks at or below 0.95).

    Example
    -------
    >>> event = Event("beep", onset=0.5, duration=0.4,
    ...               params=sample_params("beep", np.random.default_rng(0), 0.4))
    >>> wav = render_event(event, CLIP_SAMPLES)
    >>> bool(np.all(wav[:8000] == 0)), bool(np.abs(wav).max() > 0)
    (True, True)
    """
    _check_label(event.label)
    return _event_in_buffer(event, n_samples).astype(np.float32)


def _mixture(scene: Scene) -> np.ndarray:
    """Unlimited float64 sum of background and events."""
    n = _seconds_to_samples(scene.seconds)
    if scene.background is None:
        mix = np.zeros(n)
    else:
        mix = _render_source(scene.background, scene.background_params, n)
    for event in scene.events:
        mix += _event_in_buffer(event, n)
    return mix


def render_scene(scene: Scene) -> np.ndarray:
    """Render a scene to a mono float32 waveform at 16 kHz.

    A pure function of ``scene``: rendering twice gives identical arrays. The
    mixture is scaled down only if its peak exceeds 0.95.

    Returns
    -------
    numpy.ndarray
        float32, length ``round(scene.seconds * 16000)``, peak at most 0.95.
    """
    for event in scene.events:
        _check_label(event.label)
    if scene.background is not None:
        _check_label(scene.background)
    mix = _mixture(scene)
    peak = np.abs(mix).max(initial=0.0)
    if peak > PEAK_LIMIT:
        mix *= PEAK_LIMIT / peak
    return mix.astype(np.float32)


# --------------------------------------------------------------------------
# Scene sampling
# --------------------------------------------------------------------------


def _draw_onset(rng: np.random.Generator, duration: float, seconds: float,
                taken: Sequence[Event], avoid_overlap_with: str) -> float:
    """Onset in ``[0, seconds - duration]`` away from the onsets in ``taken``.

    Prefers onsets at least 0.2 s from every other onset and not overlapping
    events of class ``avoid_overlap_with``; relaxes those wishes when the
    clip is too crowded, but never returns an onset already taken.
    """
    latest = max(seconds - duration, 0.0)
    for attempt in range(100):
        onset = round(_uniform(rng, 0.0, latest), 3)
        if any(abs(onset - event.onset) < _MIN_ONSET_GAP_SECONDS for event in taken) and attempt < 60:
            continue
        if any(onset == event.onset for event in taken):
            continue
        overlaps_same_class = any(
            event.label == avoid_overlap_with and onset < event.onset + event.duration
            and event.onset < onset + duration for event in taken)
        if overlaps_same_class and attempt < 30:
            continue
        return onset
    raise UserError(f"cannot place {len(taken) + 1} events with distinct onsets in {seconds} s")


def _draw_foreground_labels(rng: np.random.Generator, n_events: int, background: Optional[str]) -> list[str]:
    candidates = [label for label in CLASSES if label != background]
    labels: list[str] = []
    for _ in range(n_events):
        repeatable = [label for label in labels if label not in BACKGROUND_CLASSES]
        if repeatable and rng.random() < 0.25:
            labels.append(_pick(rng, repeatable))
        else:
            labels.append(_pick(rng, candidates))
    return labels


def sample_scene(rng: np.random.Generator, seconds: float = CLIP_SECONDS, n_events: Optional[int] = None,
                 background: Optional[str] = None, labels: Optional[Sequence[str]] = None) -> Scene:
    """Draw a random scene.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    seconds : float
        Scene length.
    n_events : int, optional
        Number of foreground events; drawn from 1-3 when None (or taken from
        ``labels``).
    background : {None, "random"} or str
        None: no background; ``"random"``: a bed with probability 0.3; a
        class name from :data:`BACKGROUND_CLASSES`: that bed.
    labels : sequence of str, optional
        Classes of the foreground events (repeats allowed); drawn at random
        when None, avoiding the background's class and now and then
        repeating an earlier class (other than the bed-like rain and engine).

    Returns
    -------
    Scene
        Events sorted by onset, each inside the clip with its own onset.
        Events of one class share their variant (same dog, same phone) and
        differ only in noise seed and onset.

    Example
    -------
    >>> scene = sample_scene(np.random.default_rng(3), labels=["knock", "knock"])
    >>> [event.label for event in scene.events]
    ['knock', 'knock']
    """
    if background == "random":
        background = (BACKGROUND_CLASSES[int(rng.integers(len(BACKGROUND_CLASSES)))]
                      if rng.random() < BACKGROUND_PROBABILITY else None)
    elif background is not None and background not in BACKGROUND_CLASSES:
        raise UserError(f"background must be None, 'random' or one of {', '.join(BACKGROUND_CLASSES)}; "
                        f"got {background!r}")
    if labels is None:
        if n_events is None:
            n_events = int(rng.integers(1, 4))
        if n_events < 1:
            raise UserError(f"a scene needs at least one event; got n_events={n_events}")
        labels = _draw_foreground_labels(rng, n_events, background)
    else:
        labels = list(labels)
        if n_events is not None and n_events != len(labels):
            raise UserError(f"n_events={n_events} does not match the {len(labels)} labels given")
        if not labels:
            raise UserError("a scene needs at least one event; labels is empty")
        for label in labels:
            _check_label(label)

    variants: dict[str, tuple[float, dict]] = {}
    for label in labels:
        if label not in variants:
            low, high = _SOUND_CLASSES[label].duration_range
            longest = max(0.2, 0.9 * seconds / labels.count(label))
            duration = round(min(_uniform(rng, low, high), longest, seconds), 3)
            variants[label] = (duration, sample_params(label, rng, duration))
    events: list[Event] = []
    for label in labels:
        duration, variant = variants[label]
        params = dict(variant, seed=int(rng.integers(2 ** 31)))
        onset = _draw_onset(rng, duration, seconds, events, label)
        events.append(Event(label, onset, duration, params))
    events.sort(key=lambda event: event.onset)
    background_params = sample_params(background, rng, seconds, background=True) if background else {}
    return Scene(events, background, seconds, background_params)


# --------------------------------------------------------------------------
# Captions
# --------------------------------------------------------------------------

# Per class and split: clauses ("a dog barks", take a count such as "twice")
# and noun phrases ("a barking dog"). The heldout wordings never occur in
# train captions.
_WORDINGS: dict[str, dict[str, dict[str, list[str]]]] = {
    "siren": {
        "train": {"clause": ["a siren wails", "a siren blares", "an emergency siren howls", "a police siren sounds"],
                  "noun": ["an ambulance siren", "police siren", "a wailing siren", "emergency siren howling",
                           "a siren", "the wail of a siren"]},
        "heldout": {"clause": ["a fire truck siren screams"],
                    "noun": ["an emergency vehicle alarm", "a patrol car siren"]},
    },
    "phone": {
        "train": {"clause": ["a phone rings", "a telephone rings", "a cell phone is ringing", "the phone rings"],
                  "noun": ["a ringing phone", "telephone ringing", "phone ring", "a ringtone",
                           "ringing of a telephone"]},
        "heldout": {"clause": ["a landline trills"], "noun": ["an incoming call chiming", "a handset buzzing"]},
    },
    "knock": {
        "train": {"clause": ["someone knocks on a door", "someone knocks on the door", "a person knocks"],
                  "noun": ["door knocking", "a knock at the door", "knocking", "knocks on a wooden door",
                           "door knock"]},
        "heldout": {"clause": ["a visitor raps on the door"], "noun": ["rapping on wood", "a tapping at the entrance"]},
    },
    "gunshot": {
        "train": {"clause": ["a gun fires", "a gunshot rings out", "a shot is fired", "a rifle fires"],
                  "noun": ["a gunshot", "gunfire", "a loud gunshot", "gun shot", "the bang of a gun"]},
        "heldout": {"clause": ["a pistol goes off"], "noun": ["a firearm discharge", "a single loud blast"]},
    },
    "dog": {
        "train": {"clause": ["a dog barks", "a puppy yaps", "a dog is barking"],
                  "noun": ["barking", "a dog barking", "woofing of a dog", "dog bark", "a barking dog"]},
        "heldout": {"clause": ["a hound bays"], "noun": ["a canine woofing", "yelping of a pup"]},
    },
    "rain": {
        "train": {"clause": ["rain falls", "it is raining", "rain pours down", "rain patters"],
                  "noun": ["rain", "rainfall", "light rain", "raindrops falling", "heavy rain", "pattering rain"]},
        "heldout": {"clause": ["a downpour drums on the roof"], "noun": ["a drizzle", "precipitation splattering"]},
    },
    "engine": {
        "train": {"clause": ["an engine idles", "an engine runs", "a motor hums", "an engine rumbles"],
                  "noun": ["engine hum", "an idling engine", "a running motor", "engine rumble",
                           "the rumble of an engine", "a car engine"]},
        "heldout": {"clause": ["a diesel generator drones"],
                    "noun": ["a truck motor ticking over", "machinery droning"]},
    },
    "bird": {
        "train": {"clause": ["a bird chirps", "a bird sings", "birds tweet", "a bird is chirping"],
                  "noun": ["birdsong", "chirping", "a chirping bird", "bird chirps", "tweeting of a bird"]},
        "heldout": {"clause": ["a songbird warbles"], "noun": ["a sparrow twittering", "avian calls"]},
    },
    "clock": {
        "train": {"clause": ["a clock ticks", "a clock is ticking", "a wall clock ticks"],
                  "noun": ["clock ticking", "a ticking clock", "tick tock of a clock", "clock ticks", "ticking"]},
        "heldout": {"clause": ["a grandfather clock keeps time"],
                    "noun": ["the tick-tock of a timepiece", "a pendulum clicking"]},
    },
    "beep": {
        "train": {"clause": ["a device beeps", "a machine beeps", "an alarm beeps", "something beeps"],
                  "noun": ["beeping", "a beep", "electronic beeps", "a beeping sound", "a tone beep"]},
        "heldout": {"clause": ["a microwave bleeps"], "noun": ["an electronic pip", "a timer bleeping"]},
    },
    "whistle": {
        "train": {"clause": ["someone whistles", "a person whistles", "a whistle blows", "a man whistles"],
                  "noun": ["whistling", "a whistle", "a high whistle", "a person whistling", "a shrill whistle"]},
        "heldout": {"clause": ["a referee toots a whistle"], "noun": ["a kettle whistling", "a whistled note"]},
    },
    "footsteps": {
        "train": {"clause": ["someone walks", "a person walks by", "footsteps approach", "someone is walking"],
                  "noun": ["footsteps", "steps", "walking footsteps", "a person walking",
                           "footsteps on a hard floor"]},
        "heldout": {"clause": ["somebody strolls past"], "noun": ["treading feet", "paces on a wooden floor"]},
    },
}

CLASS_WORDINGS: dict[str, dict[str, list[str]]] = {
    label: {split: forms["clause"] + forms["noun"] for split, forms in splits.items()}
    for label, splits in _WORDINGS.items()
}
"""Every wording of every class, per split (``"train"``, ``"heldout"``)."""

# Count words appended to a clause; key 4 stands for "four or more".
_COUNT_WORDS = {
    "train": {2: ["twice"], 3: ["three times"], 4: ["repeatedly"]},
    "heldout": {2: ["two times", "a couple of times"], 3: ["thrice"], 4: ["over and over"]},
}
# (connector, form of the phrase after it); "any" takes a clause or a noun phrase.
_SEQUENTIAL_LINKS = {
    "train": [(", then ", "clause"), (" followed by ", "noun"), (", and then ", "clause"), (" before ", "clause")],
    "heldout": [(", after which ", "clause"), ("; afterwards ", "clause"), (" succeeded by ", "noun")],
}
_OVERLAPPING_LINKS = {
    "train": [(" while ", "clause"), (" as ", "clause"), (" and ", "any")],
    "heldout": [(" at the same time as ", "clause"), (" alongside ", "noun"), ("; meanwhile ", "clause")],
}
# (template, form of its phrase) for a single event without background.
_SINGLE_TEMPLATES = {
    "train": [("{}", "any"), ("the sound of {}", "noun"), ("{} can be heard", "noun")],
    "heldout": [("{}", "any"), ("one hears {}", "noun"), ("a recording of {}", "noun")],
}
# (template, form the foreground starts with, form of the background phrase).
_BACKGROUND_TEMPLATES = {
    "train": [("{fg}, while {bg}", "any", "clause"), ("{fg} with {bg} in the background", "any", "noun"),
              ("{fg} over {bg}", "any", "noun"), ("{bg} while {fg}", "clause", "noun"),
              ("{bg} and {fg}", "any", "noun")],
    "heldout": [("{fg} amid {bg}", "any", "noun"), ("{fg}; behind it, {bg}", "any", "clause"),
                ("{bg}, during which {fg}", "clause", "noun")],
}


@dataclass
class _EventGroup:
    """Consecutive events of one class, captioned together ("knocks twice")."""

    label: str
    count: int
    start: float
    end: float


def _event_groups(events: Sequence[Event]) -> list[_EventGroup]:
    groups: list[_EventGroup] = []
    for event in sorted(events, key=lambda event: event.onset):
        end = event.onset + event.duration
        if groups and groups[-1].label == event.label:
            groups[-1].count += 1
            groups[-1].end = max(groups[-1].end, end)
        else:
            groups.append(_EventGroup(event.label, 1, event.onset, end))
    return groups


def _phrase(label: str, form: str, count: int, rng: np.random.Generator, split: str) -> str:
    """A wording of ``label`` in the requested form; counts force a clause."""
    if count > 1:
        form = "clause"
    options = CLASS_WORDINGS[label][split] if form == "any" else _WORDINGS[label][split][form]
    text = _pick(rng, options)
    if count > 1:
        text += " " + _pick(rng, _COUNT_WORDS[split][min(count, 4)])
    return text


def _foreground_text(groups: Sequence[_EventGroup], first_form: str, rng: np.random.Generator, split: str) -> str:
    text = _phrase(groups[0].label, first_form, groups[0].count, rng, split)
    for previous, group in zip(groups, groups[1:]):
        sequential = group.start >= previous.end - 0.05
        links = (_SEQUENTIAL_LINKS if sequential else _OVERLAPPING_LINKS)[split]
        if group.count > 1:
            links = [link for link in links if link[1] != "noun"]
        connector, form = _pick(rng, links)
        text += connector + _phrase(group.label, form, group.count, rng, split)
    return text


def caption(scene: Scene, rng: np.random.Generator, split: str = "train") -> str:
    """Describe a scene in one lower-case sentence.

    Consecutive events of one class are counted ("a dog barks twice"); events
    are joined in onset order with "then", "followed by", ... when one ends
    before the next starts and with "while", "as", "and" when they overlap;
    a background bed is woven in ("..., while rain falls").

    Parameters
    ----------
    scene : Scene
        The scene to describe.
    rng : numpy.random.Generator
        Picks wordings and templates.
    split : {"train", "heldout"}
        Vocabulary to use; the two are disjoint, so no heldout caption is ever
        produced with ``split="train"``.

    Example
    -------
    >>> scene = Scene([Event("dog", 0.1, 0.5, {}), Event("dog", 1.0, 0.5, {})])
    >>> "twice" in caption(scene, np.random.default_rng(0))
    True
    """
    _check_split(split)
    groups = _event_groups(scene.events)
    if scene.background is None:
        if len(groups) == 1 and groups[0].count == 1:
            template, form = _pick(rng, _SINGLE_TEMPLATES[split])
            return template.format(_phrase(groups[0].label, form, 1, rng, split))
        return _foreground_text(groups, "any", rng, split)
    template, first_form, background_form = _pick(rng, _BACKGROUND_TEMPLATES[split])
    return template.format(fg=_foreground_text(groups, first_form, rng, split),
                           bg=_phrase(scene.background, background_form, 1, rng, split))


def describe_event(label: str, rng: np.random.Generator, split: str = "train") -> str:
    """A one-event prompt such as "a dog barking" or "the sound of a siren".

    Example
    -------
    >>> describe_event("dog", np.random.default_rng(0)) in {
    ...     template.format(wording) for template, _ in _SINGLE_TEMPLATES["train"]
    ...     for wording in CLASS_WORDINGS["dog"]["train"]}
    True
    """
    _check_label(label)
    _check_split(split)
    template, form = _pick(rng, _SINGLE_TEMPLATES[split])
    return template.format(_phrase(label, form, 1, rng, split))


# --------------------------------------------------------------------------
# Training stream
# --------------------------------------------------------------------------


def generate_examples(n: int, seed: int, seconds: float = CLIP_SECONDS,
                      split: str = "train") -> Iterator[tuple[np.ndarray, str, Scene]]:
    """Yield ``n`` random ``(waveform, caption, scene)`` training examples.

    Deterministic from ``seed``. Scenes hold 1-3 events and a background bed
    with probability 0.3.

    Example
    -------
    >>> wav, text, scene = next(generate_examples(1, seed=0))
    >>> wav.shape, isinstance(text, str)
    ((40960,), True)
    """
    _check_split(split)
    rng = np.random.default_rng(seed)
    for _ in range(n):
        scene = sample_scene(rng, seconds=seconds, background="random")
        yield render_scene(scene), caption(scene, rng, split), scene


def write_examples(out_dir: str | Path, n: int, seed: int = 0, split: str = "train") -> Path:
    """Write ``n`` example clips for listening, plus ``captions.txt``.

    Writes ``example_000.wav`` ... (16-bit, 16 kHz) and a tab-separated
    ``captions.txt`` of file name and caption; returns the captions path.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    lines = []
    for index, (wav, text, _) in enumerate(generate_examples(n, seed, split=split)):
        name = f"example_{index:03d}.wav"
        soundfile.write(out / name, wav, SAMPLE_RATE, subtype="PCM_16")
        lines.append(f"{name}\t{text}\n")
    captions_path = out / "captions.txt"
    captions_path.write_text("".join(lines))
    return captions_path


# --------------------------------------------------------------------------
# Editing benchmark
# --------------------------------------------------------------------------


def _fits_unlimited(*scenes: Scene) -> bool:
    """True when no scene needs peak limiting (so event sums stay exact)."""
    return all(np.abs(_mixture(scene)).max() <= PEAK_LIMIT for scene in scenes)


def _background_avoiding(rng: np.random.Generator, excluded: Sequence[str]) -> Optional[str]:
    if rng.random() >= BACKGROUND_PROBABILITY:
        return None
    allowed = [label for label in BACKGROUND_CLASSES if label not in excluded]
    return _pick(rng, allowed) if allowed else None


def _addition_item(rng: np.random.Generator, split: str):
    while True:
        source = sample_scene(rng, n_events=int(rng.integers(1, 3)), background="random")
        present = {event.label for event in source.events} | {source.background}
        added_label = _pick(rng, [label for label in CLASSES if label not in present])
        low, high = _SOUND_CLASSES[added_label].duration_range
        duration = round(_uniform(rng, low, high), 3)
        onset = _draw_onset(rng, duration, source.seconds, source.events, added_label)
        added = Event(added_label, onset, duration, sample_params(added_label, rng, duration))
        target = Scene(source.events + [added], source.background, source.seconds, source.background_params)
        if _fits_unlimited(source, target):
            break
    fields = {
        "source_prompt": caption(source, rng, split),
        "target_prompt": caption(target, rng, split),
        "added_label": added_label,
        "added_prompt": describe_event(added_label, rng, split),
    }
    return source, target, render_scene(source), render_scene(target), fields


def _style_transfer_item(rng: np.random.Generator, split: str, source_label: str):
    target_label = _pick(rng, [label for label in _EVENT_CLASSES if label != source_label])
    while True:
        background = _background_avoiding(rng, (source_label, target_label))
        source = sample_scene(rng, labels=[source_label] * int(rng.integers(1, 4)), background=background)
        duration = source.events[0].duration
        variant = sample_params(target_label, rng, duration)
        target_events = [Event(target_label, event.onset, event.duration,
                               dict(variant, seed=int(rng.integers(2 ** 31)))) for event in source.events]
        target = Scene(target_events, source.background, source.seconds, source.background_params)
        if _fits_unlimited(source, target):
            break
    fields = {
        "source_prompt": caption(source, rng, split),
        "target_prompt": caption(Scene(target_events, None, target.seconds), rng, split),
        "target_caption": caption(target, rng, split),
        "source_label": source_label,
        "target_label": target_label,
    }
    return source, target, render_scene(source), render_scene(target), fields


def _inpainting_item(rng: np.random.Generator, split: str):
    while True:  # redraw until the observed part is audible: a silent input gives nothing to keep
        scene = sample_scene(rng, background="random")
        reference = render_scene(scene)
        event = scene.events[int(rng.integers(len(scene.events)))]
        span = _seconds_to_samples(_uniform(rng, 0.4, 0.9))
        onset = _seconds_to_samples(event.onset)
        earliest = max(0, onset - span + _seconds_to_samples(0.1))
        latest = min(onset, len(reference) - span)
        mask_start = int(rng.integers(earliest, latest + 1))
        masked = reference.copy()
        masked[mask_start:mask_start + span] = 0.0
        if np.abs(masked).max() >= 0.05:
            break
    fields = {
        "source_prompt": caption(scene, rng, split),
        "target_prompt": caption(scene, rng, split),
        "fill_prompt": describe_event(event.label, rng, split),
        "target_label": event.label,
        "mask_start": mask_start / SAMPLE_RATE,
        "mask_end": (mask_start + span) / SAMPLE_RATE,
    }
    return scene, scene, masked, reference, fields


def make_benchmark(out_dir: str | Path, seed: int = 0, n_per_type: int = 9, split: str = "train") -> Path:
    """Write the editing benchmark: input/reference clip pairs and a manifest.

    For each of :data:`EDIT_TYPES` ``n_per_type`` items ``<type>_<NN>`` are
    written as ``<id>_input.wav`` and ``<id>_reference.wav`` (16-bit PCM,
    16 kHz, 2.56 s) next to ``manifest.json``, a SpeechBrain-style dict of
    ``{id: {"wav", "reference", "edit_type", "source_prompt",
    "target_prompt", "duration", "input_scene", "reference_scene", ...}}``
    with file names relative to the manifest's folder.

    * ``addition``: the reference is the input scene plus one event of a new
      class (``added_label``, ``added_prompt``); every input event is
      rendered identically in both, so reference - input is the added event.
    * ``style_transfer``: one class repeated 1-3 times is re-rendered as
      another class at the same onsets and durations over the same background
      (``source_label``, ``target_label``; ``target_prompt`` describes the new
      sound, e.g. "a dog barks twice", ``target_caption`` the whole new
      scene). Both classes are discrete events, not rain or engine.
    * ``inpainting``: the input is the reference with ``[mask_start,
      mask_end)`` seconds (0.4-0.9 s, covering the onset of the
      ``target_label`` event) set to exact zeros; ``target_prompt`` captions
      the full scene and ``fill_prompt`` the missing event. The input is a
      damaged recording of the reference scene, so ``source_prompt`` captions
      that scene too.

    Deterministic from ``seed`` and ``split`` (the caption vocabulary).

    Returns
    -------
    pathlib.Path
        Path of ``manifest.json``.
    """
    _check_split(split)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    source_labels = [_EVENT_CLASSES[index] for index in rng.permutation(len(_EVENT_CLASSES))]
    manifest = {}
    for edit_type in EDIT_TYPES:
        for index in range(n_per_type):
            if edit_type == "addition":
                item = _addition_item(rng, split)
            elif edit_type == "style_transfer":
                item = _style_transfer_item(rng, split, source_labels[index % len(source_labels)])
            else:
                item = _inpainting_item(rng, split)
            input_scene, reference_scene, input_wav, reference_wav, fields = item
            item_id = f"{edit_type}_{index:02d}"
            input_name, reference_name = f"{item_id}_input.wav", f"{item_id}_reference.wav"
            soundfile.write(out / input_name, input_wav, SAMPLE_RATE, subtype="PCM_16")
            soundfile.write(out / reference_name, reference_wav, SAMPLE_RATE, subtype="PCM_16")
            manifest[item_id] = {
                "wav": input_name,
                "reference": reference_name,
                "edit_type": edit_type,
                "duration": input_scene.seconds,
                **fields,
                "input_scene": input_scene.to_dict(),
                "reference_scene": reference_scene.to_dict(),
            }
    manifest_path = out / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2))
    return manifest_path


# --------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Command-line entry: write the benchmark or listening examples."""
    parser = argparse.ArgumentParser(
        prog="python -m audio_editing.data.toy_world",
        description="Write the toy-world editing benchmark or example clips with captions.")
    parser.add_argument("--benchmark", metavar="OUT_DIR", help="write the 27-clip benchmark to OUT_DIR")
    parser.add_argument("--examples", type=int, metavar="N", help="write N example clips (needs --out)")
    parser.add_argument("--out", metavar="DIR", help="folder for --examples")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--split", choices=SPLITS, default="train", help="caption vocabulary (default train)")
    args = parser.parse_args(argv)
    if args.benchmark is None and args.examples is None:
        parser.error("give --benchmark OUT_DIR or --examples N --out DIR")
    if args.examples is not None and (args.out is None or args.examples < 1):
        parser.error("--examples needs a positive N and --out DIR")
    try:
        if args.benchmark is not None:
            print(make_benchmark(args.benchmark, seed=args.seed, split=args.split))
        if args.examples is not None:
            print(write_examples(args.out, args.examples, seed=args.seed, split=args.split))
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
