"""The toy world's sound-event classes: NumPy synthesisers and the class table.

Twelve classes (sirens, phones, door knocks, ...) are synthesised from a handful of variant
parameters each. :func:`sample_params` draws the variant values of one event (its ``gain`` and
noise ``seed`` included); rendering is a pure function of them, so an event can be re-rendered
bit for bit. ``scenes.py`` places events in a scene and mixes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import scipy.fft
from scipy import signal

from audio_editing.errors import UserError

SAMPLE_RATE = 16000
BACKGROUND_CLASSES = ("rain", "engine")

_FOREGROUND_GAIN_RANGE = (0.25, 0.5)
_BACKGROUND_GAIN_RANGE = (0.06, 0.15)
_HIGHEST_PARTIAL_HZ = 7600.0  # keeps synthesised partials below Nyquist (8 kHz)
_TABLE_SIZE = 2048


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
