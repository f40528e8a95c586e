"""The audio path without a model: reading and its refusals, the model's view of a clip and back, levels,
atomic writes, the blank span of an inpainting input, and the windows of a long input."""

import logging
import os
import stat
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from audio_editing.data.audio import (MIN_SECONDS, OUTPUT_PEAK, SILENCE_PEAK, AudioClip, atomic_write, audio_clip,
                                      check_audible, digital_silence_span, limit_outputs, limit_peak, mixdown,
                                      read_audio, resample, write_audio)
from audio_editing.data.windows import crossfade, crossfade_weights, cut_windows, window_starts
from audio_editing.errors import UserError


def tone(seconds=0.5, rate=16000, channels=1, peak=0.5):
    t = np.arange(round(seconds * rate)) / rate
    return np.stack([peak * np.sin(2 * np.pi * (220 + 110 * c) * t) for c in range(channels)], axis=1)


# --- reading ------------------------------------------------------------------------------------------
def test_read_audio_gives_a_mono_file_one_channel(tmp_path):
    sf.write(tmp_path / "mono.wav", tone().astype("float32"), 16000)
    clip = read_audio(tmp_path / "mono.wav")
    assert clip.samples.shape == (1, 8000) and clip.samples.dtype == torch.float32 and clip.subtype == "PCM_16"


def test_read_audio_keeps_channels_rate_and_format(tmp_path):
    data = tone(channels=2, rate=22050).astype("float32")
    sf.write(tmp_path / "a.wav", data, 22050, subtype="PCM_24")
    clip = read_audio(tmp_path / "a.wav")
    assert clip.sample_rate == 22050 and clip.subtype == "PCM_24" and clip.samples.shape == (2, len(data))
    assert clip.samples.dtype == torch.float32 and np.allclose(clip.samples.numpy().T, data, atol=1e-6)
    assert clip.frames == len(data) and clip.seconds == pytest.approx(len(data) / 22050)


@pytest.mark.parametrize("kind,words", [("folder", "is a folder, not an audio file"), ("missing", "does not exist"),
                                        ("text", "cannot read")])
def test_read_audio_refuses_what_is_not_an_audio_file(kind, words, tmp_path):
    path = tmp_path / "x.wav"
    if kind == "folder":
        path.mkdir()
    elif kind == "text":
        path.write_text("not audio")
    with pytest.raises(UserError, match=words) as err:
        read_audio(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_audio_clip_refuses_empty_short_nonfinite_and_silent_samples():
    rate = 16000
    shortest = int(MIN_SECONDS * rate)
    with pytest.raises(UserError, match="contains no audio samples"):
        audio_clip(np.zeros((0, 1), "float32"), rate, "PCM_16", "x")
    with pytest.raises(UserError, match=r"is 99\.9 ms long; an edit needs at least 0\.1 s"):
        audio_clip(np.full((shortest - 1, 1), 0.1, "float32"), rate, "PCM_16", "x")
    assert audio_clip(np.full((shortest, 1), 0.1, "float32"), rate, "PCM_16", "x").frames == shortest
    for bad in (np.nan, np.inf, -np.inf):
        data = np.full((shortest, 1), 0.1, "float32")
        data[5] = bad
        with pytest.raises(UserError, match="NaN or infinite"):
            audio_clip(data, rate, "PCM_16", "x")
    with pytest.raises(UserError, match="is silent"):
        audio_clip(np.full((shortest, 1), SILENCE_PEAK / 2, "float32"), rate, "FLOAT", "x")
    assert audio_clip(np.full((shortest, 1), SILENCE_PEAK * 2, "float32"), rate, "FLOAT", "x").frames == shortest


def test_a_clipped_pcm_input_is_edited_with_a_warning(caplog):
    data = np.clip(tone(peak=3.0), -1, 1).astype("float32")
    with caplog.at_level(logging.WARNING, logger="audio_editing.data.audio"):
        audio_clip(data, 16000, "PCM_16", "loud")
        assert "looks clipped" in caplog.text
        caplog.clear()
        audio_clip(data, 16000, "FLOAT", "loud")  # float holds levels over full scale: nothing is clipped
        audio_clip(tone(peak=0.5).astype("float32"), 16000, "PCM_16", "quiet")
    assert "looks clipped" not in caplog.text


@pytest.mark.parametrize("subtype,written", [("PCM_16", "PCM_16"), ("PCM_U8", "PCM_16"), ("PCM_24", "PCM_24"),
                                             ("PCM_32", "PCM_32"), ("FLOAT", "FLOAT"), ("DOUBLE", "FLOAT"),
                                             ("VORBIS", "PCM_16")])
def test_edits_are_written_in_16_bit_or_the_inputs_richer_format(subtype, written):
    assert AudioClip(torch.zeros(1, 10), 16000, subtype).output_subtype == written


# --- the model's view and back -------------------------------------------------------------------------
def test_to_model_mixes_to_mono_or_keeps_a_stereo_models_channels():
    samples = torch.tensor([[1.0, 0.0, 0.5, 0.5], [0.0, 1.0, -0.5, 0.5]])
    clip = AudioClip(samples, 16000)
    assert clip.to_model(16000).tolist() == [0.5, 0.5, 0.0, 0.5]
    assert torch.equal(clip.to_model(16000, channels=2), samples)
    mono = AudioClip(samples[:1], 16000)
    assert torch.equal(mono.to_model(16000, channels=2), samples[:1].expand(2, -1))
    three = AudioClip(torch.stack([samples[0], samples[1], samples[1]]), 16000)
    assert torch.allclose(three.to_model(16000, channels=2)[1], three.samples.mean(dim=0))
    assert AudioClip(torch.zeros(1, 44100), 44100).to_model(16000).shape == (16000,)


def test_from_model_returns_the_inputs_rate_length_and_channels():
    clip = AudioClip(torch.zeros(2, 100), 16000)
    edits = torch.arange(2 * 90, dtype=torch.float32).view(2, 90)  # 2 edits, 10 samples short
    out = clip.from_model(edits, 16000)
    assert out.shape == (2, 2, 100) and torch.equal(out[:, 0], out[:, 1])
    assert torch.equal(out[0, 0, :90], edits[0]) and (out[:, :, 90:] == 0).all()
    longer = clip.from_model(torch.ones(1, 130), 16000)
    assert longer.shape == (1, 2, 100)
    stereo_edit = torch.stack([torch.ones(100), -torch.ones(100)])[None]
    assert torch.equal(clip.from_model(stereo_edit, 16000)[0], stereo_edit[0])
    mono_clip = AudioClip(torch.zeros(1, 100), 16000)
    assert torch.equal(mono_clip.from_model(stereo_edit, 16000), torch.zeros(1, 1, 100))  # the mix of +1 and -1
    assert clip.from_model(torch.ones(1, 50), 8000).shape == (1, 2, 100)


def test_mixdown_averages_the_channel_axis_only_when_there_is_one():
    stereo = torch.tensor([[[1.0, 3.0], [3.0, 5.0]]])
    assert mixdown(stereo, 2).tolist() == [[2.0, 4.0]]
    assert mixdown(stereo[0], 1).tolist() == [2.0, 4.0]
    assert torch.equal(mixdown(stereo[0], 2), stereo[0])


def test_resample_keeps_a_tone_and_takes_awkward_rates():
    same = torch.randn(100)
    assert resample(same, 16000, 16000) is same
    x = torch.from_numpy(tone(seconds=1.0, rate=48000)[:, 0].astype("float32"))
    y = resample(x, 48000, 16000)
    reference = torch.from_numpy(tone(seconds=1.0, rate=16000)[:, 0].astype("float32"))
    assert y.shape == (16000,) and torch.allclose(y[100:-100], reference[100:-100], atol=2e-3)
    odd = resample(torch.from_numpy(tone(seconds=1.0, rate=44101)[:, 0].astype("float32")), 44101, 16000)
    assert odd.dtype == torch.float32 and odd.shape == (16000,)
    assert torch.allclose(odd[200:-200], reference[200:-200], atol=2e-3)


def test_check_audible_refuses_channels_that_cancel_out():
    left = torch.from_numpy(tone()[:, 0].astype("float32"))
    clip = AudioClip(torch.stack([left, -left]), 16000)
    with pytest.raises(UserError, match="silent once downmixed to mono"):
        check_audible(clip, clip.to_model(16000), "x")
    with pytest.raises(UserError, match="silent once downmixed"):  # quantisation noise 90 dB down is silence too
        check_audible(clip, torch.full((10,), 0.5 * 10 ** (-90 / 20)), "x")
    check_audible(clip, torch.full((10,), 0.5 * 10 ** (-70 / 20)), "x")
    check_audible(AudioClip(left[None], 16000), left, "x")


# --- levels --------------------------------------------------------------------------------------------
def test_limit_peak_scales_each_loud_row_as_a_whole():
    wavs = torch.tensor([[0.5, -2.0], [0.1, 0.2], [0.0, 0.0]])
    out = limit_peak(wavs, 0.5)
    assert torch.equal(out, torch.tensor([[0.125, -0.5], [0.1, 0.2], [0.0, 0.0]]))
    assert limit_peak(torch.tensor([[OUTPUT_PEAK * 2]])).item() == pytest.approx(OUTPUT_PEAK)
    assert limit_peak(torch.tensor([[0.5]]), 0.5).item() == 0.5


def test_limit_outputs_allows_the_inputs_own_peak_over_full_scale():
    loud = torch.tensor([[[4.0, -1.0]], [[0.5, 0.25]]])
    out = limit_outputs(loud, torch.tensor([0.1, 0.2]))  # a quiet input: full scale (OUTPUT_PEAK)
    assert out[0].abs().max().item() == pytest.approx(OUTPUT_PEAK) and torch.equal(out[1], loud[1])
    assert limit_outputs(loud, torch.tensor([2.0]))[0].abs().max().item() == pytest.approx(2.0)
    assert limit_outputs(loud, torch.tensor([2.0]), peak=1.0)[0].abs().max().item() == pytest.approx(1.0)


# --- writing -------------------------------------------------------------------------------------------
def test_write_audio_clips_pcm_keeps_float_and_leaves_no_temporary_file(tmp_path):
    wav = torch.tensor([[0.5, 1.5, -2.0, 0.25], [0.0, 0.1, 0.2, 0.3]])
    write_audio(tmp_path / "pcm.wav", wav, 8000, "PCM_24")
    data, rate = sf.read(tmp_path / "pcm.wav", dtype="float32")
    assert rate == 8000 and data.shape == (4, 2) and sf.info(str(tmp_path / "pcm.wav")).subtype == "PCM_24"
    assert np.allclose(data[:, 0], [0.5, 1.0, -1.0, 0.25], atol=1e-6)
    write_audio(tmp_path / "float.wav", wav, 8000, "FLOAT")
    assert np.allclose(sf.read(tmp_path / "float.wav", dtype="float32")[0][:, 0], [0.5, 1.5, -2.0, 0.25])
    write_audio(tmp_path / "mono.wav", torch.full((5,), 0.5), 8000)
    assert sf.info(str(tmp_path / "mono.wav")).subtype == "PCM_16"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["float.wav", "mono.wav", "pcm.wav"]


def test_atomic_write_replaces_whole_files_and_a_failed_write_leaves_the_old_one(tmp_path):
    path = tmp_path / "deep" / "er" / "out.txt"
    temporary = []

    def first(tmp):  # a hidden file beside the target (same file system: the rename is atomic)
        temporary.append(Path(tmp))
        open(tmp, "w").write("first")

    atomic_write(path, first)
    assert path.read_text() == "first"
    assert temporary[0].parent == path.parent and temporary[0].name.startswith(".out.txt")
    assert temporary[0].name.endswith(".tmp") and not temporary[0].exists()
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # not mkstemp's owner-only mode

    def fail(tmp):
        open(tmp, "w").write("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, fail)
    assert path.read_text() == "first" and [p.name for p in path.parent.iterdir()] == ["out.txt"]


# --- the blank span of an inpainting input -------------------------------------------------------------
def test_digital_silence_span_finds_the_longest_run_of_zeros():
    rate = 1000
    wav = torch.ones(1000)
    wav[100:160] = 0  # 60 ms
    wav[500:800] = 0  # 300 ms: the longest
    assert digital_silence_span(wav, rate) == (0.5, 0.8)
    assert digital_silence_span(wav, rate, min_seconds=0.3) == (0.5, 0.8)
    assert digital_silence_span(wav, rate, min_seconds=0.301) is None
    assert digital_silence_span(torch.ones(100), rate) is None
    stereo = torch.ones(2, 1000)
    stereo[0, 200:400] = 0
    stereo[1, 300:500] = 0  # both channels are zero only on 300-400
    assert digital_silence_span(stereo, rate) == (0.3, 0.4)
    edge = torch.ones(1000)
    edge[900:] = 0
    assert digital_silence_span(edge, rate) == (0.9, 1.0)
    start = torch.ones(1000)
    start[:100] = 0
    assert digital_silence_span(start, rate) == (0.0, 0.1)


# --- windows of a long input ---------------------------------------------------------------------------
def test_window_starts_cover_the_input_with_the_fewest_windows():
    assert window_starts(40, 40, 10) == [0]
    assert window_starts(41, 40, 10) == [0, 1]
    assert window_starts(70, 40, 10) == [0, 30]
    assert window_starts(71, 40, 10) == [0, 30, 31]
    assert window_starts(100, 40, 0) == [0, 40, 60]


def test_cut_windows_pads_a_short_input_with_the_pad_value():
    wav = torch.arange(1.0, 4.0)
    assert cut_windows(wav, [0], 5, pad_value=-1.0).tolist() == [[1.0, 2.0, 3.0, -1.0, -1.0]]
    assert cut_windows(torch.arange(6.0), [0, 2], 4).tolist() == [[0, 1, 2, 3], [2, 3, 4, 5]]


def test_crossfade_weights_ramp_across_overlaps_only():
    weights = crossfade_weights([0, 3], 5)  # an overlap of 2 samples
    assert weights[0].tolist() == [1, 1, 1, 0.75, 0.25] and weights[1].tolist() == [0.25, 0.75, 1, 1, 1]
    assert crossfade_weights([0, 5], 5).tolist() == [[1] * 5, [1] * 5]  # windows that only touch
    assert crossfade_weights([0], 5).tolist() == [[1] * 5]


def test_crossfade_blends_overlaps_and_crops_a_single_window():
    windows = torch.stack([torch.zeros(5), torch.ones(5)])
    out = crossfade(windows, [0, 3], 8)
    assert out.tolist() == [0, 0, 0, 0.25, 0.75, 1, 1, 1]
    assert crossfade(torch.arange(6.0)[None], [0], 4).tolist() == [0, 1, 2, 3]
    batched = crossfade(windows.expand(3, 2, 5), [0, 3], 8)
    assert batched.shape == (3, 8) and torch.equal(batched[2], out)
