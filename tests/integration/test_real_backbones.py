"""Real backbones (TANGO, AudioLDM, AudioLDM 2) loaded from checkpoint folders written in their published layouts.

Each fixture writes what the hub holds -- the same file names, config keys, state-dict key names and
tensor ranks -- at tiny widths, then the project's loader reads it like a downloaded checkpoint.
Nothing is downloaded: the text encoders, tokenizers and the CLAP scorer are tiny models built in code.
"""

import json
import uuid

import pytest
import soundfile as sf
import torch

from audio_editing.backbones.audioldm import (AUDIOLDM_S_UNET_CONFIG, AUDIOLDM_VAE_CONFIG, CLAP_TEXT_CONFIG,
                                              AudioLDMBackbone)
from audio_editing.backbones.audioldm2 import AUDIOLDM2_UNET_CONFIG, AudioLDM2Backbone
from audio_editing.backbones.tango import (HIFIGAN_16K_64, TANGO_UNET_CONFIG, TINY_HIFIGAN_CONFIG, TINY_T5_CONFIG,
                                           TangoBackbone, check_state_dict, convert_hifigan_state_dict,
                                           convert_tango_checkpoint, hifigan_config_from_state_dict,
                                           load_state_dict_file, tiny_t5_tokenizer, tiny_unet_config,
                                           vae_config_from_tango)
from audio_editing.editing.imagic import ImagicEditor
from audio_editing.recipe import run_edit
from audio_editing.errors import UserError
from tests.conftest import TINY_SECONDS, tiny_args, tiny_clap

# --- published layouts -----------------------------------------------------------------------------
# declare-lab/tango*/main_config.json, vae_config.json and stft_config.json: the keys TANGO's loader
# passes to AudioDiffusion(**), AutoencoderKL(**) and TacotronSTFT(**).
MAIN_CONFIG_KEYS = {"text_encoder_name", "scheduler_name", "unet_model_name", "unet_model_config_path", "snr_gamma"}
TANGO_FILES = ("main_config.json", "vae_config.json", "stft_config.json",
               "pytorch_model_main.bin", "pytorch_model_vae.bin", "pytorch_model_stft.bin")
PUBLISHED_VAE_CONFIG = {  # AudioLDM-S's VAE, as in declare-lab/tango*/vae_config.json
    "image_key": "fbank", "subband": 1, "embed_dim": 8, "time_shuffle": 1,
    "ddconfig": {"double_z": True, "z_channels": 8, "resolution": 256, "downsample_time": False, "in_channels": 1,
                 "out_ch": 1, "ch": 128, "ch_mult": [1, 2, 4], "num_res_blocks": 2, "attn_resolutions": [],
                 "dropout": 0.0},
    "scale_factor": 0.9227914214134216,
}
STFT_CONFIG = {"filter_length": 1024, "hop_length": 160, "win_length": 1024, "n_mel_channels": 64,
               "sampling_rate": 16000, "mel_fmin": 0, "mel_fmax": 8000}
FLAN_T5_LARGE = dict(vocab_size=32128, d_model=1024, d_kv=64, d_ff=2816, num_layers=24, num_heads=16,
                     feed_forward_proj="gated-gelu", tie_word_embeddings=False)
AUDIOLDM_MODEL_INDEX = {
    "_class_name": "AudioLDMPipeline", "_diffusers_version": "0.15.0.dev0",
    "scheduler": ["diffusers", "DDIMScheduler"], "text_encoder": ["transformers", "ClapTextModelWithProjection"],
    "tokenizer": ["transformers", "RobertaTokenizer"], "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"], "vocoder": ["transformers", "SpeechT5HifiGan"],
}
AUDIOLDM2_MODEL_INDEX = {
    "_class_name": "AudioLDM2Pipeline", "_diffusers_version": "0.21.0.dev0",
    "feature_extractor": ["transformers", "ClapFeatureExtractor"], "language_model": ["transformers", "GPT2Model"],
    "projection_model": ["audioldm2", "AudioLDM2ProjectionModel"], "scheduler": ["diffusers", "DDIMScheduler"],
    "text_encoder": ["transformers", "ClapModel"], "text_encoder_2": ["transformers", "T5EncoderModel"],
    "tokenizer": ["transformers", "RobertaTokenizer"], "tokenizer_2": ["transformers", "T5Tokenizer"],
    "unet": ["audioldm2", "AudioLDM2UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
    "vocoder": ["transformers", "SpeechT5HifiGan"],
}


def original_vae_state_dict(vae):
    """A diffusers AutoencoderKL's weights under AudioLDM's original names (the LDM Encoder/Decoder modules).

    Written from the original module tree: ``down[i].block[j]``, ``down[i].downsample``, ``mid.block_1``,
    ``mid.attn_1`` (1x1 convolutions q/k/v/proj_out), ``up[i]`` indexed from the finest level, ``norm_out``.
    """
    state, out = vae.state_dict(), {}
    levels, blocks = len(vae.config.block_out_channels), vae.config.layers_per_block

    def copy(original, diffusers_prefix):
        for key, value in state.items():
            if key.startswith(diffusers_prefix + "."):
                out[original + key[len(diffusers_prefix):].replace("conv_shortcut", "nin_shortcut")] = value

    def attention(original, diffusers_prefix):
        for old, new in (("norm", "group_norm"), ("q", "to_q"), ("k", "to_k"), ("v", "to_v"),
                         ("proj_out", "to_out.0")):
            weight = state[f"{diffusers_prefix}.{new}.weight"]
            out[f"{original}.{old}.weight"] = weight if old == "norm" else weight[:, :, None, None]
            out[f"{original}.{old}.bias"] = state[f"{diffusers_prefix}.{new}.bias"]

    for part in ("encoder", "decoder"):
        copy(f"{part}.conv_in", f"{part}.conv_in")
        copy(f"{part}.norm_out", f"{part}.conv_norm_out")
        copy(f"{part}.conv_out", f"{part}.conv_out")
        copy(f"{part}.mid.block_1", f"{part}.mid_block.resnets.0")
        copy(f"{part}.mid.block_2", f"{part}.mid_block.resnets.1")
        attention(f"{part}.mid.attn_1", f"{part}.mid_block.attentions.0")
    for level in range(levels):
        for block in range(blocks):
            copy(f"encoder.down.{level}.block.{block}", f"encoder.down_blocks.{level}.resnets.{block}")
        if level < levels - 1:
            copy(f"encoder.down.{level}.downsample.conv", f"encoder.down_blocks.{level}.downsamplers.0.conv")
        for block in range(blocks + 1):
            copy(f"decoder.up.{level}.block.{block}", f"decoder.up_blocks.{levels - 1 - level}.resnets.{block}")
        if level > 0:
            copy(f"decoder.up.{level}.upsample.conv", f"decoder.up_blocks.{levels - 1 - level}.upsamplers.0.conv")
    copy("quant_conv", "quant_conv")
    copy("post_quant_conv", "post_quant_conv")
    assert len(out) == len(state)
    return out


def original_hifigan_state_dict(vocoder):
    """SpeechT5HifiGan weights under AudioLDM's HiFi-GAN names (``ups.N``; no mean/scale buffers)."""
    out = {}
    for key, value in vocoder.state_dict().items():
        if key not in ("mean", "scale"):
            out[key.replace("upsampler.", "ups.")] = value
    return out


def write_tango_checkpoint(folder, text_encoder_dir, seed=0):
    """A tiny TANGO checkpoint folder; returns the source modules its weights came from."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig, T5Config, T5EncoderModel

    from audio_editing.backbones.mel import LogMel

    torch.manual_seed(seed)
    tokenizer = tiny_t5_tokenizer()
    t5_config = T5Config(**TINY_T5_CONFIG, vocab_size=len(tokenizer))
    t5_config.save_pretrained(text_encoder_dir)  # like google/flan-t5-large: config + tokenizer
    tokenizer.save_pretrained(text_encoder_dir)
    text_encoder = T5EncoderModel(t5_config).eval()
    unet_config = tiny_unet_config(cross_attention_dim=t5_config.d_model)
    unet = UNet2DConditionModel(**unet_config).eval()
    vae_config = json.loads(json.dumps(PUBLISHED_VAE_CONFIG))
    vae_config["ddconfig"].update(ch=32, ch_mult=[1, 1, 1], num_res_blocks=1)  # GroupNorm(32) needs 32 channels
    dd = vae_config["ddconfig"]
    vae = AutoencoderKL(in_channels=1, out_channels=1, latent_channels=dd["z_channels"],
                        down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
                        block_out_channels=[dd["ch"] * m for m in dd["ch_mult"]], layers_per_block=1,
                        norm_num_groups=32, scaling_factor=vae_config["scale_factor"]).eval()
    with torch.no_grad():  # keep decoded log-mels in a plausible range so the vocoder output stays finite
        vae.decoder.conv_out.weight.mul_(0.1)
    vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(**TINY_HIFIGAN_CONFIG)).eval()

    folder.mkdir(parents=True, exist_ok=True)
    main_config = {"text_encoder_name": str(text_encoder_dir), "scheduler_name": "stabilityai/stable-diffusion-2-1",
                   "unet_model_name": None, "unet_model_config_path": "configs/diffusion_model_config.json",
                   "snr_gamma": None}
    (folder / "main_config.json").write_text(json.dumps(main_config))
    (folder / "vae_config.json").write_text(json.dumps(vae_config))
    (folder / "stft_config.json").write_text(json.dumps(STFT_CONFIG))
    # The tiny UNet's config sits where main_config.json points (TANGO resolves it in its repository;
    # the published one is embedded in the loader).
    (folder / "configs").mkdir(exist_ok=True)
    (folder / "configs" / "diffusion_model_config.json").write_text(json.dumps(
        {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.10.0.dev0", **unet_config}))
    main = {f"unet.{k}": v for k, v in unet.state_dict().items()}
    main.update({f"text_encoder.{k}": v for k, v in text_encoder.state_dict().items()})
    torch.save(main, folder / "pytorch_model_main.bin")
    vae_state = original_vae_state_dict(vae)
    vae_state.update({f"vocoder.{k}": v for k, v in original_hifigan_state_dict(vocoder).items()})
    torch.save(vae_state, folder / "pytorch_model_vae.bin")
    n_fft = STFT_CONFIG["filter_length"]
    torch.save({"stft_fn.forward_basis": torch.zeros(n_fft + 2, 1, n_fft),
                "stft_fn.inverse_basis": torch.zeros(n_fft + 2, 1, n_fft),
                "mel_basis": LogMel().filterbank.T.contiguous()}, folder / "pytorch_model_stft.bin")
    return dict(unet=unet, vae=vae, vocoder=vocoder, text_encoder=text_encoder, tokenizer=tokenizer)


@pytest.fixture(scope="module")
def tango_checkpoint(tmp_path_factory):
    root = tmp_path_factory.mktemp("tango")
    sources = write_tango_checkpoint(root / "tango-tiny", root / "flan-t5-tiny")
    return root / "tango-tiny", sources


@pytest.fixture(scope="module")
def audioldm_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audioldm") / "audioldm-tiny"
    model = AudioLDMBackbone.build_tiny(seed=0, window_seconds=TINY_SECONDS)
    with torch.no_grad():
        model.vae.decoder.conv_out.weight.mul_(0.1)
    model.save_pretrained(folder)
    (folder / "model_index.json").write_text(json.dumps(AUDIOLDM_MODEL_INDEX))
    return folder


@pytest.fixture(scope="module")
def audioldm2_dir(tmp_path_factory):
    from transformers import ClapFeatureExtractor

    folder = tmp_path_factory.mktemp("audioldm2") / "audioldm2-tiny"
    model = AudioLDM2Backbone.build_tiny(seed=0, window_seconds=TINY_SECONDS)
    with torch.no_grad():
        model.vae.decoder.conv_out.weight.mul_(0.1)
    model.save_pretrained(folder)
    ClapFeatureExtractor(truncation="rand_trunc").save_pretrained(folder / "feature_extractor")
    (folder / "model_index.json").write_text(json.dumps(AUDIOLDM2_MODEL_INDEX))
    return folder


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory):
    """A tiny transformers ClapModel + ClapProcessor folder (the layout of laion/clap-htsat-unfused)."""
    folder = tmp_path_factory.mktemp("clap")
    model, processor = tiny_clap()
    model.save_pretrained(folder)
    processor.save_pretrained(folder)
    return folder


# --- TANGO: the converter -----------------------------------------------------------------------------
def test_tango_folder_is_in_the_published_layout(tango_checkpoint):
    folder, _ = tango_checkpoint
    for name in TANGO_FILES:
        assert (folder / name).is_file(), name
    assert set(json.loads((folder / "main_config.json").read_text())) == MAIN_CONFIG_KEYS
    vae_config = json.loads((folder / "vae_config.json").read_text())
    assert set(vae_config) == set(PUBLISHED_VAE_CONFIG)
    assert set(vae_config["ddconfig"]) == set(PUBLISHED_VAE_CONFIG["ddconfig"])
    vae_keys = load_state_dict_file(folder / "pytorch_model_vae.bin")
    assert "encoder.down.0.block.0.norm1.weight" in vae_keys and "decoder.up.2.upsample.conv.weight" in vae_keys
    assert vae_keys["encoder.mid.attn_1.q.weight"].dim() == 4 and "vocoder.ups.0.weight" in vae_keys


def test_tango_converter_places_every_key(tango_checkpoint):
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

    folder, sources = tango_checkpoint
    states = convert_tango_checkpoint(*(load_state_dict_file(folder / f"pytorch_model_{n}.bin")
                                        for n in ("main", "vae", "stft")))
    assert states.unused == []
    assert states.ignored == ["stft.mel_basis", "stft.stft_fn.forward_basis", "stft.stft_fn.inverse_basis"]
    unet_config = json.loads((folder / "configs" / "diffusion_model_config.json").read_text())
    vae_config = json.loads((folder / "vae_config.json").read_text())
    targets = {
        "unet": UNet2DConditionModel(**{k: v for k, v in unet_config.items() if not k.startswith("_")}),
        "vae": AutoencoderKL(**vae_config_from_tango(vae_config)),
        "vocoder": SpeechT5HifiGan(SpeechT5HifiGanConfig(**hifigan_config_from_state_dict(states.vocoder))),
        "text_encoder": sources["text_encoder"],
    }
    for name, module in targets.items():
        report = check_state_dict(module, getattr(states, name))
        assert report.ok, f"{name}: {report.summary()}"


def test_tango_converter_at_published_size():
    """Real-size modules on the meta device: every published-name key maps, none is left over or missing."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig, T5Config, T5EncoderModel

    with torch.device("meta"):
        unet = UNet2DConditionModel(**TANGO_UNET_CONFIG)
        vae = AutoencoderKL(**vae_config_from_tango(PUBLISHED_VAE_CONFIG))
        vocoder = SpeechT5HifiGan(SpeechT5HifiGanConfig(
            model_in_dim=64, upsample_initial_channel=1024, upsample_rates=HIFIGAN_16K_64["upsample_rates"],
            upsample_kernel_sizes=HIFIGAN_16K_64["upsample_kernel_sizes"],
            resblock_kernel_sizes=HIFIGAN_16K_64["resblock_kernel_sizes"],
            resblock_dilation_sizes=HIFIGAN_16K_64["resblock_dilation_sizes"], normalize_before=False))
        t5 = T5EncoderModel(T5Config(**FLAN_T5_LARGE))
    main = {f"unet.{k}": v for k, v in unet.state_dict().items()}
    main.update({f"text_encoder.{k}": v for k, v in t5.state_dict().items()})
    vae_state = original_vae_state_dict(vae)
    vae_state.update({f"vocoder.{k}": v for k, v in original_hifigan_state_dict(vocoder).items()})
    states = convert_tango_checkpoint(main, vae_state)
    assert states.unused == []
    assert hifigan_config_from_state_dict(states.vocoder)["upsample_initial_channel"] == 1024
    for name, module in (("unet", unet), ("vae", vae), ("vocoder", vocoder), ("text_encoder", t5)):
        report = check_state_dict(module, getattr(states, name))
        assert report.ok, f"{name}: {report.summary()}"
    assert len(states.vae) == len(vae.state_dict()) == 204  # AudioLDM-S VAE: 88 encoder, 112 decoder, 4 quant tensors


def test_check_state_dict_reports_missing_unexpected_and_misshaped_keys():
    module = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.Linear(3, 1))
    state = {"0.weight": torch.zeros(3, 2), "1.weight": torch.zeros(1, 4), "2.bias": torch.zeros(1)}
    report = check_state_dict(module, state)
    assert report.missing == ["0.bias", "1.bias"] and report.unexpected == ["2.bias"]
    assert report.mismatched == [("1.weight", (1, 3), (1, 4))] and not report.ok
    assert "missing: 0.bias, 1.bias" in report.summary()


def test_hifigan_weight_norm_is_folded():
    conv = torch.nn.utils.weight_norm(torch.nn.Conv1d(4, 3, 5))
    state = {f"conv_pre.{k}": v for k, v in conv.state_dict().items()}
    assert set(state) == {"conv_pre.bias", "conv_pre.weight_g", "conv_pre.weight_v"}
    folded = convert_hifigan_state_dict(state)
    assert torch.allclose(folded["conv_pre.weight"], conv.weight, atol=1e-6)
    assert folded["mean"].shape == (4,) and torch.equal(folded["scale"], torch.ones(4))


# --- TANGO: the loaded backbone -------------------------------------------------------------------
@pytest.fixture(scope="module")
def tango(tango_checkpoint):
    folder, _ = tango_checkpoint
    return TangoBackbone.from_pretrained(str(folder), window_seconds=TINY_SECONDS)


def test_tango_loads_the_same_networks_it_was_written_from(tango, tango_checkpoint):
    _, sources = tango_checkpoint
    torch.manual_seed(0)
    with torch.no_grad():
        z = torch.randn(1, 8, 32, 16)
        assert torch.allclose(tango.vae.decode(z).sample, sources["vae"].decode(z).sample, atol=1e-5)
        mel = torch.randn(1, 128, 64) * 0.1 - 5
        assert torch.allclose(tango.vocoder(mel), sources["vocoder"](mel), atol=1e-6)
        cond = tango.encode_text(["a dog barks", "rain"])
        tokens = sources["tokenizer"](["a dog barks", "rain"], padding=True, return_tensors="pt")
        assert torch.allclose(cond.hidden, sources["text_encoder"](**tokens).last_hidden_state, atol=1e-6)
        assert cond.mask.tolist() == tokens["attention_mask"].tolist()
        t = torch.tensor([10, 900])
        expected = sources["unet"](z.expand(2, -1, -1, -1), t, encoder_hidden_states=cond.hidden,
                                   encoder_attention_mask=cond.mask).sample
        assert torch.allclose(tango.predict(z.expand(2, -1, -1, -1), t, cond), expected, atol=1e-5)


def test_tango_is_v_prediction_on_the_sd21_schedule(tango):
    assert tango.prediction_type == "v_prediction"
    config = tango.scheduler.config
    assert (config.beta_schedule, config.beta_start, config.beta_end, config.num_train_timesteps) == \
        ("scaled_linear", 0.00085, 0.012, 1000)
    z0, noise, t = torch.randn(2, 8, 32, 16), torch.randn(2, 8, 32, 16), torch.tensor([3, 700])
    alpha_bar = tango.scheduler.alphas_cumprod[t].view(-1, 1, 1, 1)
    expected = alpha_bar.sqrt() * noise - (1 - alpha_bar).sqrt() * z0
    assert torch.allclose(tango.training_target(z0, noise, t), expected, atol=1e-5)


def test_tango_audio_path_shapes_and_normalisation(tango):
    wav = torch.randn(1, 16000) * 0.1 + 0.3
    prepared = tango.prepare_audio(wav)
    assert abs(prepared.mean().item()) < 1e-5 and abs(prepared.abs().max().item() - 0.5) < 1e-5
    with torch.no_grad():
        z = tango.encode_audio(prepared)
        assert tuple(z.shape) == (1, 8, 32, 16)  # 1.28 s -> 128 mel frames -> latent 8 x 32 x 16
        assert tango.decode(z).shape == (1, tango.window_samples)
    null = tango.null_cond(tango.encode_text(["a dog barks loudly twice"]))
    assert null.mask.sum().item() == 1  # "" is the end-of-sequence token alone, like TANGO's unconditional input


def test_tango_window_must_fit_the_model(tango_checkpoint):
    folder, _ = tango_checkpoint
    with pytest.raises(UserError, match="window_seconds=1 does not fit"):
        TangoBackbone.from_pretrained(str(folder), window_seconds=1.0)


def test_tango_published_window_is_latent_8x256x16():
    bb = TangoBackbone.build_tiny(window_seconds=10.24)
    assert bb.window_samples == 163840 and bb.window_frames == 1024
    assert bb.window_frames // 4 == 256 and bb.logmel.mel.n_mels // 4 == 16


def test_lora_reaches_tango_attention():
    bb = TangoBackbone.build_tiny()
    bb.enable_lora(rank=2)
    params = bb.trainable_parameters("lora")
    names = [n for n, p in bb.unet.named_parameters() if p.requires_grad]
    assert params and all("lora_" in n for n in names)
    assert any(".attn2.to_k.lora_A" in n for n in names)  # cross-attention to the T5 states is adapted too


@pytest.mark.slow
def test_full_tango_edit_end_to_end(tango_checkpoint, clap_dir, clip, tmp_path):
    folder, _ = tango_checkpoint
    result = run_edit(ImagicEditor, ["hparams/addition.yaml", "--backbone=tango", f"--input_wav={clip}",
                                     "--target_prompt=a dog barks while rain falls",
                                     *tiny_args(folder, tmp_path, f"--scorer_source={clap_dir}",
                                                f"--window_seconds={TINY_SECONDS}", "--loss_batch=2")])
    assert len(result.losses["embedding"]) == 4 and len(result.losses["finetune"]) == 4
    assert result.latents.shape == (2, 1, 8, 32, 16)
    for name in ("best.wav", "edit_eta0.00.wav", "edit_eta1.00.wav", "scores.csv", "spectrograms.png"):
        assert (result.folder / name).is_file(), name
    out, rate = sf.read(result.folder / "edit_eta1.00.wav")
    assert rate == 16000 and len(out) == sf.info(str(clip)).frames
    assert all(torch.isfinite(torch.tensor(result.scores["sum"])))


# --- AudioLDM -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def audioldm(audioldm_dir):
    return AudioLDMBackbone.from_pretrained(str(audioldm_dir), window_seconds=TINY_SECONDS)


def test_audioldm_folder_is_diffusers_layout(audioldm_dir):
    for part, files in (("vae", ["config.json"]), ("unet", ["config.json"]), ("vocoder", ["config.json"]),
                        ("text_encoder", ["config.json"]), ("scheduler", ["scheduler_config.json"]),
                        ("tokenizer", ["tokenizer_config.json"])):
        for name in files:
            assert (audioldm_dir / part / name).is_file(), f"{part}/{name}"
    unet_config = json.loads((audioldm_dir / "unet" / "config.json").read_text())
    assert unet_config["class_embed_type"] == "simple_projection" and unet_config["class_embeddings_concat"]


def test_audioldm_conditioning_is_one_normalised_clap_vector(audioldm):
    cond = audioldm.encode_text(["a dog barks", "rain falls"])
    assert cond.mask is None and cond.hidden.shape == (2, 16)
    assert torch.allclose(cond.hidden.norm(dim=-1), torch.ones(2), atol=1e-5)
    null = audioldm.null_cond(cond)
    assert null.hidden.shape == cond.hidden.shape and torch.allclose(null.hidden[0], null.hidden[1])
    z, t = torch.randn(1, 8, 32, 16), torch.tensor(500)
    with torch.no_grad():
        a = audioldm.predict(z, t, TextCond_slice(cond, 0))
        b = audioldm.predict(z, t, TextCond_slice(cond, 1))
    assert a.shape == z.shape and not torch.allclose(a, b)  # the vector reaches the UNet (class_labels)
    assert audioldm.prediction_type == "epsilon"


def TextCond_slice(cond, i):
    from audio_editing.backbones.base import TextCond

    return TextCond(cond.hidden[i: i + 1])


@pytest.mark.slow
def test_full_audioldm_edit_end_to_end(audioldm_dir, clap_dir, clip, tmp_path):
    result = run_edit(ImagicEditor, ["hparams/addition.yaml", "--backbone=audioldm", f"--input_wav={clip}",
                                     "--target_prompt=a dog barks while rain falls",
                                     *tiny_args(audioldm_dir, tmp_path, f"--scorer_source={clap_dir}",
                                                f"--window_seconds={TINY_SECONDS}", "--loss_batch=2")])
    assert len(result.losses["embedding"]) == 4 and result.latents.shape == (2, 1, 8, 32, 16)
    evals = result.losses["eval"]
    assert set(evals) == {"e_target", "e_opt", "finetuned"}
    out, _ = sf.read(result.folder / "edit_eta0.00.wav")
    assert len(out) == sf.info(str(clip)).frames


def test_layer_adds_over_the_input_on_audioldm_with_the_clap_scorer(audioldm_dir, clap_dir, clip, tmp_path):
    # addition's default method on a real family: one vector per prompt, the LAION-CLAP scorer picks the part
    result = run_edit(ImagicEditor, ["hparams/addition.yaml", "--backbone=audioldm", f"--input_wav={clip}",
                                     "--target_prompt=a dog barks while rain falls",
                                     *tiny_args(audioldm_dir, tmp_path, f"--scorer_source={clap_dir}",
                                                f"--window_seconds={TINY_SECONDS}", "--method=layer",
                                                "--layer_gains=[0.5,1]")])
    assert result.sweep == "gain" and result.metrics["added_prompt"] in ("a dog barks", "rain falls")
    original, _ = sf.read(clip, dtype="float32")
    out, _ = sf.read(result.folder / "edit_gain0.50.wav", dtype="float32")
    assert len(out) == len(original) and float(abs(torch.from_numpy(out - original)).max()) > 0


# --- AudioLDM 2 ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def audioldm2(audioldm2_dir):
    return AudioLDM2Backbone.from_pretrained(str(audioldm2_dir), window_seconds=TINY_SECONDS)


def test_audioldm2_conditioning_matches_the_diffusers_pipeline(audioldm2):
    """The packed TextCond holds exactly what AudioLDM2Pipeline.encode_prompt feeds the UNet (and the negative)."""
    from diffusers import AudioLDM2Pipeline
    from transformers import ClapFeatureExtractor, GPT2LMHeadModel

    bb = audioldm2
    lm = GPT2LMHeadModel(bb.language_model.config)  # the pipeline's generation loop needs the LM-head class
    lm.transformer = bb.language_model
    pipe = AudioLDM2Pipeline(vae=bb.vae, text_encoder=bb.text_encoder, text_encoder_2=bb.text_encoder_2,
                             projection_model=bb.projection_model, language_model=lm, tokenizer=bb.tokenizer,
                             tokenizer_2=bb.tokenizer_2, feature_extractor=ClapFeatureExtractor(),
                             unet=bb.unet, scheduler=bb.scheduler, vocoder=bb.vocoder.model)
    prompts = ["a dog barks while rain falls", "rain"]
    with torch.no_grad():
        t5, t5_mask, generated = pipe.encode_prompt(prompts, "cpu", 1, True)
    cond = bb.encode_text(prompts)
    both = [bb.unpack(bb.null_cond(cond)), bb.unpack(cond)]
    assert torch.allclose(torch.cat([b[0] for b in both]), generated, atol=1e-6)
    assert torch.allclose(torch.cat([b[1] for b in both]), t5, atol=1e-6)
    assert torch.equal(torch.cat([b[2] for b in both]), t5_mask)
    assert cond.hidden.shape[1] == bb.generated_tokens + t5.shape[1] == cond.mask.shape[1]
    assert cond.hidden[:, : bb.generated_tokens, bb.gpt_dim:].abs().sum() == 0  # zero-padded columns


def test_audioldm2_lora_trains_only_the_adapter_and_round_trips():
    from peft import get_peft_model_state_dict, set_peft_model_state_dict

    bb = AudioLDM2Backbone.build_tiny()
    bb.enable_lora(rank=2)
    params = bb.trainable_parameters("lora")
    trained = [n for n, p in bb.unet.named_parameters() if p.requires_grad]
    assert params and all("lora_" in n for n in trained) and any("attn2" in n for n in trained)
    state = get_peft_model_state_dict(bb.unet)
    assert state and all("lora" in k for k in state)
    set_peft_model_state_dict(bb.unet, {k: torch.ones_like(v) for k, v in state.items()})
    assert all(torch.equal(v, torch.ones_like(v)) for v in get_peft_model_state_dict(bb.unet).values())


@pytest.mark.slow
def test_full_audioldm2_edit_end_to_end(audioldm2_dir, clap_dir, clip, tmp_path):
    result = run_edit(ImagicEditor, ["hparams/addition.yaml", "--backbone=audioldm2", f"--input_wav={clip}",
                                     "--target_prompt=a dog barks while rain falls",
                                     *tiny_args(audioldm2_dir, tmp_path, f"--scorer_source={clap_dir}",
                                                f"--window_seconds={TINY_SECONDS}", "--loss_batch=2",
                                                "--ft_mode=lora", "--lora_rank=2", "--ft_lr=0.01")])
    assert len(result.losses["finetune"]) == 4 and result.latents.shape == (2, 1, 8, 32, 16)
    ckpt = next((result.folder / "save").glob("CKPT*"))
    adapter = torch.load(ckpt / "unet.ckpt")
    assert adapter and all("lora" in k for k in adapter)  # LoRA without diffusers' add_adapter (see enable_lora)
    out, _ = sf.read(result.folder / "edit_eta1.00.wav")
    assert len(out) == sf.info(str(clip)).frames
    e_opt = torch.load(ckpt / "embedding.ckpt")
    gpt_dim = json.loads((audioldm2_dir / "language_model" / "config.json").read_text())["n_embd"]
    assert e_opt["hidden"][:, :8, gpt_dim:].abs().sum() == 0  # step 1 never moves the padding columns


# --- checkpoints the loaders refuse, each with one line naming what is wrong ----------------------------
def _edit_json(name, change):
    def apply(folder):
        config = json.loads((folder / name).read_text())
        change(config)
        (folder / name).write_text(json.dumps(config))
    return apply


def _edit_weights(name, change):
    def apply(folder):
        state = torch.load(folder / name, weights_only=True)
        change(state)
        torch.save(state, folder / name)
    return apply


def _drop_upsampler(state):
    """A HiFi-GAN one upsampling stage short: its last upsampler and that stage's residual blocks removed."""
    def index(key):
        return int(key.split(".")[2])

    stages = 1 + max(index(k) for k in state if k.startswith("vocoder.ups."))
    kernels = (1 + max(index(k) for k in state if k.startswith("vocoder.resblocks."))) // stages
    for key in [k for k in state if k.startswith("vocoder.ups.") and index(k) == stages - 1
                or k.startswith("vocoder.resblocks.") and index(k) >= (stages - 1) * kernels]:
        del state[key]


TANGO_REFUSALS = [  # (case, change to a copy of the tiny published-layout folder, words of the one-line error)
    ("missing_file", lambda f: (f / "vae_config.json").unlink(), "is not a TANGO checkpoint (missing vae_config.json)"),
    ("unreadable_config", lambda f: (f / "main_config.json").write_text("{not json"), "cannot read"),
    ("pretrained_unet", _edit_json("main_config.json", lambda c: c.update(unet_model_name="runwayml/sd")),
     "starts from a pretrained UNet (unet_model_name)"),
    ("unknown_unet_config", _edit_json("main_config.json", lambda c: c.update(unet_model_config_path="x/other.json")),
     "TANGO UNet config 'x/other.json' is neither in"),
    ("subband_vae", _edit_json("vae_config.json", lambda c: c.update(subband=2)), "subband or time_shuffle"),
    ("attention_vae", _edit_json("vae_config.json", lambda c: c["ddconfig"].update(attn_resolutions=[32])),
     "attention outside the middle block"),
    ("stride4_vae", _edit_json("vae_config.json", lambda c: c["ddconfig"].update(downsample_time_stride4_levels=[1])),
     "stride-4 time downsampling"),
    ("embed_dim", _edit_json("vae_config.json", lambda c: c.update(embed_dim=4)), "VAE embed_dim 4 != z_channels 8"),
    ("stft_window", _edit_json("stft_config.json", lambda c: c.update(win_length=512)),
     "win_length != filter_length"),
    ("group_adapters", _edit_weights("pytorch_model_main.bin", lambda s: s.update({"group_in.weight": torch.zeros(1)})),
     "group_in/group_out adapters"),
    ("unplaced_weights", _edit_weights("pytorch_model_main.bin", lambda s: s.update({"ema.decay": torch.zeros(1)})),
     "holds weights this loader cannot place: ema.decay"),
    ("not_a_hifigan", _edit_weights("pytorch_model_vae.bin", lambda s: s.pop("vocoder.conv_pre.weight_v", None)
                                    or s.pop("vocoder.conv_pre.weight")), "not an AudioLDM HiFi-GAN"),
    ("hifigan_stages", _edit_weights("pytorch_model_vae.bin", _drop_upsampler), "upsampling stages"),
    ("misshaped_unet", _edit_weights("pytorch_model_main.bin", lambda s: s.update(
        {"unet.conv_in.weight": torch.zeros(3, 3, 3, 3)})), "the UNet weights do not fit the UNet built from"),
]


@pytest.mark.parametrize("case,change,message", TANGO_REFUSALS, ids=[c[0] for c in TANGO_REFUSALS])
def test_tango_loader_refuses_a_broken_checkpoint_in_one_line(case, change, message, tango_checkpoint, tmp_path):
    import shutil

    folder = tmp_path / "tango"
    shutil.copytree(tango_checkpoint[0], folder)
    change(folder)
    with pytest.raises(UserError) as err:
        TangoBackbone.from_pretrained(str(folder), window_seconds=TINY_SECONDS)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_a_source_that_is_neither_a_folder_nor_a_hub_id_is_refused_in_one_line():
    with pytest.raises(UserError, match="is neither a folder nor a Hugging Face hub id"):
        TangoBackbone.from_pretrained("no such//folder", local_files_only=True)


@pytest.mark.parametrize("backbone_class,fixture", [(AudioLDMBackbone, "audioldm_dir"),
                                                    (AudioLDM2Backbone, "audioldm2_dir")])
def test_audioldm_loaders_refuse_broken_folders_in_one_line(backbone_class, fixture, request, tmp_path):
    import shutil

    source = request.getfixturevalue(fixture)
    missing = shutil.copytree(source, tmp_path / "missing")
    shutil.rmtree(missing / "vae")
    broken = shutil.copytree(source, tmp_path / "broken")
    (broken / "unet" / "config.json").write_text("{not json")
    for folder, words in ((missing, "in diffusers layout (missing vae/)"), (broken, "cannot load the AudioLDM")):
        with pytest.raises(UserError) as err:
            backbone_class.from_pretrained(str(folder), window_seconds=TINY_SECONDS)
        assert words in str(err.value) and "\n" not in str(err.value), str(err.value)
    if backbone_class is AudioLDMBackbone:  # a UNet without the CLAP class projection is not AudioLDM's
        other = shutil.copytree(source, tmp_path / "other")
        _edit_json("unet/config.json", lambda c: c.update(class_embed_type=None))(other)
        with pytest.raises(UserError, match="is not an AudioLDM UNet"):
            backbone_class.from_pretrained(str(other), window_seconds=TINY_SECONDS)


# --- hub ids offline, published sizes ----------------------------------------------------------------
@pytest.mark.parametrize("backbone_class", [TangoBackbone, AudioLDMBackbone, AudioLDM2Backbone])
def test_uncached_hub_id_offline_is_one_line_user_error(backbone_class, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_id = f"declare-lab/not-cached-{uuid.uuid4().hex[:8]}"
    with pytest.raises(UserError) as err:
        backbone_class.from_pretrained(hub_id)
    message = str(err.value)
    assert "\n" not in message and hub_id in message
    assert f"huggingface-cli download {hub_id}" in message and "local folder" in message


def test_uncached_hub_id_offline_through_the_recipe(monkeypatch, clip, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError, match="declare-lab/tango2-uncached-test"):
        run_edit(ImagicEditor, ["hparams/addition.yaml", "--backbone=tango2", f"--input_wav={clip}",
                                "--target_prompt=a dog",
                                *tiny_args("declare-lab/tango2-uncached-test", tmp_path / "out")])
    assert not (tmp_path / "out").exists()  # nothing written


def test_published_parameter_counts():
    """Real-size configs on the meta device (no weights): TANGO's UNet is 866 M, AudioLDM-S is 421 M in all."""
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.pipelines.audioldm2.modeling_audioldm2 import AudioLDM2UNet2DConditionModel
    from transformers import (ClapTextConfig, ClapTextModelWithProjection, SpeechT5HifiGan, SpeechT5HifiGanConfig,
                              T5Config, T5EncoderModel)

    def count(module):
        return sum(p.numel() for p in module.parameters())

    vocoder_config = SpeechT5HifiGanConfig(
        model_in_dim=64, upsample_initial_channel=1024, upsample_rates=HIFIGAN_16K_64["upsample_rates"],
        upsample_kernel_sizes=HIFIGAN_16K_64["upsample_kernel_sizes"],
        resblock_kernel_sizes=HIFIGAN_16K_64["resblock_kernel_sizes"],
        resblock_dilation_sizes=HIFIGAN_16K_64["resblock_dilation_sizes"], normalize_before=False)
    with torch.device("meta"):
        tango_unet = count(UNet2DConditionModel(**TANGO_UNET_CONFIG))
        flan_t5_encoder = count(T5EncoderModel(T5Config(**FLAN_T5_LARGE)))
        vae = count(AutoencoderKL(**vae_config_from_tango(PUBLISHED_VAE_CONFIG)))
        vocoder = count(SpeechT5HifiGan(vocoder_config))
        audioldm_unet = count(UNet2DConditionModel(**AUDIOLDM_S_UNET_CONFIG))
        audioldm2_unet = count(AudioLDM2UNet2DConditionModel(**AUDIOLDM2_UNET_CONFIG))
        audioldm_vae = count(AutoencoderKL(**AUDIOLDM_VAE_CONFIG))
        clap_text = count(ClapTextModelWithProjection(ClapTextConfig(**CLAP_TEXT_CONFIG)))
    assert tango_unet == 865_933_768  # TANGO paper: 866 M trainable parameters
    assert flan_t5_encoder == 341_231_104  # FLAN-T5-large's encoder
    assert vae == audioldm_vae == 55_376_873 and vocoder == 55_264_897
    assert audioldm_unet == 185_036_552
    total = audioldm_unet + audioldm_vae + vocoder + clap_text
    assert abs(total / 421e6 - 1) < 0.005, total  # cvssp/audioldm-s-full-v2 model card: 421 M
    assert audioldm2_unet == 346_943_496  # cvssp/audioldm2 model card: UNet 350 M
