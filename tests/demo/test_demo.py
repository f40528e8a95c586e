"""The web demo's logic without a browser: arguments, one edit through the recipes, file ownership."""

import asyncio
import json
import zipfile

import pytest
import soundfile as sf

from audio_editing.demo import (COOKIE, DemoEditor, VisitorFiles, VisitorGate, short_hash, split_arguments,
                                visitor_token)
from audio_editing.recipe import SCHEDULES
from audio_editing.errors import UserError
from tests.conftest import REPO, write_scene_clip
from tests.demo.conftest import TINY_DEMO_ARGS

DEMO_KEYS = {"host", "port", "max_upload_mb"}


def test_split_arguments_keeps_the_demo_keys_and_passes_the_rest_to_every_edit():
    _, demo, recipe = split_arguments(["hparams/demo.yaml", "--port=7861", "--backbone=tango", "--etas=[0,1]",
                                       "--device=cpu", "--noprogressbar"], DEMO_KEYS)
    assert demo == {"port": 7861}
    assert recipe == ["--backbone=tango", "--etas=[0, 1]", "--device=cpu", "--noprogressbar"]
    with pytest.raises(UserError, match="--input_wav is set per edit"):
        split_arguments(["hparams/demo.yaml", "--input_wav=x.wav"], DEMO_KEYS)


@pytest.fixture(scope="module")
def editor(tiny_model_dir):
    return DemoEditor(REPO, REPO / "hparams", [f"--backbone_source={tiny_model_dir}", *TINY_DEMO_ARGS],
                      max_upload_mb=0.1, manifest=REPO / "benchmarks/toy_world/manifest.json")


def test_the_visitors_choices_are_fit_settings_over_the_demos_arguments(editor):
    settings = editor.fit_settings(speed="paper", ft_mode="lora", mask_start=0.5, mask_end=None)
    assert settings == {**SCHEDULES["paper"], "ft_mode": "lora", "mask_start": 0.5}
    assert editor.editors["addition", "imagic"].hparams["emb_steps"] == 2  # the demo's argument, under the preset
    with pytest.raises(UserError, match="unknown speed"):
        editor.fit_settings(speed="warp")
    with pytest.raises(UserError, match="unknown edit type"):
        editor.editor("remix")


def test_an_edit_runs_the_recipe_and_packs_its_outputs(editor, tmp_path):
    assert editor.etas == [0.0, 0.5, 1.0] and editor.window_seconds == pytest.approx(1.28)
    assert len(editor.clips) == 36  # the benchmark's 2.56 s clips, longer than the tiny model's window, too
    clip = write_scene_clip(tmp_path / "knock.wav", ["knock"], seed=1)
    folder = tmp_path / "visitor"
    folder.mkdir()
    out = editor.edit(folder, clip, "addition", "a dog barks while a door is knocked")
    assert [p.name for p in out.wavs] == ["edit_eta0.00.wav", "edit_eta0.50.wav", "edit_eta1.00.wav"]
    assert all(p.is_file() for p in out.wavs + out.downloads + [out.spectrograms, out.scores_plot])
    assert out.table[0][:4] == ["eta", "text_clap", "audio_clap", "sum"] and len(out.table) == 4
    with zipfile.ZipFile(out.downloads[1]) as archive:
        names = set(archive.namelist())
    assert {"edit_1/best.wav", "edit_1/scores.csv", "edit_1/edit_eta1.00.wav", "edit_1/edit.json"} <= names
    assert not any("/save/" in n for n in names)
    assert clip.is_file() and (folder / "edit_1_input" / "knock.wav").is_file()  # the upload is copied, not moved
    # A second edit gets a folder of its own; with init=target (the default) the new prompt is fitted again
    second = editor.edit(folder, clip, "addition", "a door is knocked")
    assert second.wavs[0].parent.name == "edit_2" and not second.fit_reused


def test_addition_can_layer_and_the_other_types_run_the_method_only(editor, tmp_path):
    clip = write_scene_clip(tmp_path / "knock.wav", ["knock"], seed=1)
    folder = tmp_path / "visitor"
    folder.mkdir()
    out = editor.edit(folder, clip, "addition", "a dog barks while a door is knocked", "layer")
    assert out.sweep == "gain" and out.added_prompt in ("a dog barks", "a door is knocked")
    assert [p.name for p in out.wavs] == [f"edit_gain{g:.2f}.wav" for g in editor.layer_gains]
    assert all(p.is_file() for p in out.wavs) and not out.fit_reused
    with zipfile.ZipFile(out.downloads[1]) as archive:
        assert "edit_1/edit_gain1.00.wav" in archive.namelist()
    assert json.loads((folder / "edit_1" / "edit.json").read_text())["method"] == "layer"
    with pytest.raises(UserError, match="runs imagic, not 'layer'"):
        editor.edit(folder, clip, "style_transfer", "a dog barks", "layer")


def test_a_visitors_fit_is_kept_while_they_try_prompts(editor, tmp_path, monkeypatch):
    from audio_editing.editing.imagic import ImagicEditor

    clip = write_scene_clip(tmp_path / "knock.wav", ["knock"], seed=1)
    folder = tmp_path / "visitor"
    folder.mkdir()
    steps = []
    original = ImagicEditor.fit_batch
    monkeypatch.setattr(ImagicEditor, "fit_batch", lambda self, batch: steps.append(1) or original(self, batch))
    addition = editor.editor("addition")
    monkeypatch.setitem(addition.hparams, "init", "empty")  # a start of step 1 that does not read the prompt
    first = editor.edit(folder, clip, "addition", "a dog barks while a door is knocked")
    fitted = len(steps)
    second = editor.edit(folder, clip, "addition", "a siren wails while a door is knocked")
    assert fitted == 4 and len(steps) == fitted and second.fit_reused and not first.fit_reused
    assert second.wavs[0].parent.name == "edit_2"
    other = editor.edit(folder, clip, "addition", "a siren wails", speed="fast", ft_mode="lora")
    assert not other.fit_reused and len(steps) == 2 * fitted  # another fit setting: fitted again


def test_bad_files_give_the_command_lines_messages_with_the_files_name(editor, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("this is not audio\n")
    with pytest.raises(UserError, match="cannot read 'notes.wav' as audio"):
        editor.check_upload(bad)
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * 200_000)
    with pytest.raises(UserError, match="'big.wav' is 0.2 MB; the demo takes files up to 0.1 MB"):
        editor.check_upload(big)
    with pytest.raises(UserError, match="no input audio"):
        editor.edit(tmp_path, None, "addition", "a dog barks")
    # The prompt is checked by the recipe, as on the command line
    with pytest.raises(UserError, match="--target_prompt is empty"):
        editor.edit(tmp_path, write_scene_clip(tmp_path / "ok.wav", ["knock"]), "addition", "  ")


def test_a_clip_longer_than_the_window_is_edited_in_windows_as_on_the_command_line(editor, tmp_path):
    long_clip = write_scene_clip(tmp_path / "long.wav", ["knock"], seed=1, seconds=3.0)  # 94 kB: under 0.1 MB
    assert sf.info(str(long_clip)).duration > editor.window_seconds
    editor.check_upload(long_clip)  # only the size is a limit
    folder = tmp_path / "visitor"
    folder.mkdir()
    out = editor.edit(folder, long_clip, "addition", "a dog barks while a door is knocked")
    assert all(sf.info(str(p)).frames == sf.info(str(long_clip)).frames for p in out.wavs + [out.downloads[0]])
    assert len(editor.fits[folder].brain.window_starts) > 1  # the recipe's windows, not one cut window


def test_visitor_files_are_their_owners_alone_and_go_when_done(tmp_path):
    gated = tmp_path / "gradio"
    files = VisitorFiles(gated / "demo", gated, ttl=100)
    tab_a, tab_b = files.session_folder("a", "tab1"), files.session_folder("b", "tab1")
    upload = gated / "f00d" / "clip.wav"
    upload.parent.mkdir()
    upload.write_bytes(b"RIFF")
    files.add_uploads("a", [str(upload)])
    assert files.may_read("a", tab_a / "x.wav") and files.may_read("a", upload)
    assert not files.may_read("b", tab_a / "x.wav") and not files.may_read("b", upload)
    assert not files.may_read("b", f"{tab_b}/../../{short_hash('a')}/x.wav")  # no way out of one's folder
    assert not files.may_read("a", gated / "someone_elses.wav")
    files.add_uploads("c", [str(upload)])  # the same content uploaded again: the same path, two owners
    assert files.may_read("a", upload) and files.may_read("c", upload) and not files.may_read("b", upload)
    assert files.may_read(None, tmp_path / "elsewhere.txt")  # outside Gradio's folder: Gradio's rules

    with files.editing(tab_a):
        files.end_session("a", "tab1")  # the tab closes while its edit runs: removed when the edit ends
        assert tab_a.is_dir()
    assert not tab_a.exists() and not tab_a.parent.exists()
    files.sweep(now=files.last_used[tab_b] + 50)
    assert tab_b.is_dir() and upload.is_file()
    files.sweep(now=files.last_used[tab_b] + 101)
    assert not tab_b.exists() and not upload.exists() and not files.may_read("a", upload)


def run_asgi(gate, path, method="GET", cookie=None, answer=b"ok"):
    """One request through ``gate`` (wrapping an app that answers ``answer``) -> (status, headers, body)."""
    async def app(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": answer})

    sent = []

    async def send(message):
        sent.append(message)

    headers = [(b"cookie", f"{COOKIE}={cookie}".encode())] if cookie else []
    scope = {"type": "http", "path": path, "method": method, "headers": headers}
    asyncio.run(VisitorGate(app, gate)(scope, None, send))
    return sent[0]["status"], dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])


def test_the_gate_gives_a_cookie_and_serves_files_only_to_their_owner(tmp_path):
    gated = tmp_path / "gradio"
    files = VisitorFiles(gated / "demo", gated, ttl=100)
    mine = files.session_folder("a", "tab1") / "best.wav"
    status, headers, _ = run_asgi(files, "/")
    assert status == 200 and visitor_token(headers[b"set-cookie"].decode().split(";")[0])
    assert run_asgi(files, f"/gradio_api/file={mine}", cookie="a")[0] == 200
    assert run_asgi(files, f"/gradio_api/file={mine}", cookie="b")[0] == 403
    assert run_asgi(files, f"/gradio_api/file={mine}")[0] == 403
    assert b"set-cookie" not in run_asgi(files, "/", cookie="a")[1]
    # An upload's answer names the stored file: it becomes the uploader's
    stored = str(gated / "beef" / "clip.wav")
    run_asgi(files, "/gradio_api/upload", method="POST", cookie="b", answer=json.dumps([stored]).encode())
    assert files.may_read("b", stored) and not files.may_read("a", stored)
