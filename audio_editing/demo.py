"""The web demo: the recipes' editor behind a local Gradio page, for several visitors at once.

Each edit goes through the Python API (``audio_editing.api``) with the editor class of
``recipes/<edit_type>/edit.py``, as the command line does, so the page shows the recipes' own outputs and
their own ``UserError`` messages. A visitor's last fit is kept while they try prompts on the same clip
and settings: with a start of step 1 that does not read the prompt (``init: empty`` or ``source``), a
new prompt runs step 3 only. Edits queue and run one at a time. Every visitor (a browser, known by a
random cookie) has a folder of their own; the server gives a file in Gradio's temporary folder
only to the visitor who owns it, and removes a visitor's files when their tab closes or
``results_ttl_seconds`` after their last edit.

Run it with ``python recipes/demo/app.py hparams/demo.yaml`` (needs ``pip install -e .[demo]``).
"""

import hashlib
import html
import json
import os
import re
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from pathlib import Path
from typing import Dict, List, Optional

# Nothing leaves the machine: no usage statistics, no update check (read when gradio is imported).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import ruamel.yaml  # noqa: E402
from hyperpyyaml import load_hyperpyyaml  # noqa: E402

from audio_editing.api import Editor, Fit  # noqa: E402
from audio_editing.cli import parse_arguments  # noqa: E402
from audio_editing.data.audio import atomic_write, load_audio  # noqa: E402
from audio_editing.editing.outputs import edit_wav_name  # noqa: E402
from audio_editing.editing.checks import check_prompt  # noqa: E402
from audio_editing.recipe import SCHEDULES  # noqa: E402
from audio_editing.errors import UserError  # noqa: E402
from audio_editing.editing.edit_types import EDIT_TYPES, REGISTRY, check_edit_type, editor_class  # noqa: E402
from audio_editing.editing.methods import flags_read_by, read_only_by_others  # noqa: E402
from audio_editing.evaluation.manifests import read_manifest  # noqa: E402


COOKIE = "audio_editing_visitor"
# Set by the demo for each edit, so not accepted on its command line.
PER_EDIT_KEYS = ("input_wav", "target_prompt", "output_folder", "edit_id", "mask_start", "mask_end")
# What the zip of one edit holds (the checkpoint folder stays out).
ZIPPED = ("input.wav", "edit_*.wav", "best.wav", "scores.csv", "spectrograms.png", "clap_vs_eta.png", "edit.json")
# the methods the page offers per edit type, the first its default (the recipe's: the method, imagic),
# and the choice's label: the edit-type registry's
DEMO_METHODS = {name: edit_type.demo_methods for name, edit_type in REGISTRY.items()}
EDIT_TYPE_LABELS = {name: edit_type.label for name, edit_type in REGISTRY.items()}


def visitor_token(cookie_header: Optional[str]) -> Optional[str]:
    """The visitor's cookie value from a ``Cookie`` header, if any.

    Example
    -------
    >>> visitor_token("a=1; audio_editing_visitor=abc")
    'abc'
    >>> visitor_token(None) is None
    True
    """
    if not cookie_header:
        return None
    try:
        morsel = SimpleCookie(cookie_header).get(COOKIE)
    except CookieError:
        return None
    return morsel.value if morsel else None


def short_hash(text: str) -> str:
    """A folder name derived from a secret (the cookie) or a client-chosen id, safe in a path."""
    return hashlib.sha256(text.encode()).hexdigest()[:24]


class VisitorFiles:
    """Each visitor's files in a folder of their own, readable by them alone, removed when done.

    Layout: ``<root>/<visitor>/<session>/`` (the visitor: a hash of their cookie; the session:
    a hash of Gradio's id for one open tab). A session's folder is removed when its tab closes
    (or when its running edit ends, if later) or ``ttl`` seconds after its last use. Uploads
    stay in Gradio's own folder (one path per content, so two visitors may upload the same file);
    each is readable by its uploaders and removed ``ttl`` seconds after its last upload.
    ``gated`` is Gradio's temporary folder: inside it a file is served only to its owners.

    Example
    -------
    >>> import tempfile
    >>> gated = Path(tempfile.mkdtemp())
    >>> files = VisitorFiles(gated / "demo", gated, ttl=60)
    >>> mine = files.session_folder("cookie-a", "tab-1") / "best.wav"
    >>> _ = mine.write_bytes(b"RIFF")
    >>> files.may_read("cookie-a", mine), files.may_read("cookie-b", mine), files.may_read(None, mine)
    (True, False, False)
    >>> files.end_session("cookie-a", "tab-1"); mine.exists()
    False
    """

    def __init__(self, root, gated, ttl: float):
        self.root, self.gated, self.ttl = Path(root).resolve(), Path(gated).resolve(), ttl
        self.lock = threading.Lock()
        self.last_used: Dict[Path, float] = {}  # session folder -> time of last use
        self.busy, self.ended = set(), set()  # session folders with an edit running / whose tab closed
        self.uploads: Dict[Path, Dict[str, float]] = {}  # uploaded file -> {visitor folder name: time}

    def session_folder(self, token: str, session: str) -> Path:
        folder = self.root / short_hash(token) / short_hash(session)
        folder.mkdir(parents=True, exist_ok=True)
        with self.lock:
            self.last_used[folder] = time.time()
            self.ended.discard(folder)
        return folder

    @contextmanager
    def editing(self, folder: Path):
        """Keep ``folder`` while an edit writes to it; its TTL counts from the edit's end."""
        with self.lock:
            self.busy.add(folder)
        try:
            yield folder
        finally:
            with self.lock:
                self.busy.discard(folder)
                self.last_used[folder] = time.time()
                ended = folder in self.ended
            if ended:
                self._remove(folder)

    def end_session(self, token: Optional[str], session: str) -> None:
        if not token:
            return
        folder = self.root / short_hash(token) / short_hash(session)
        with self.lock:
            if folder in self.busy:
                self.ended.add(folder)
                return
        self._remove(folder)

    def add_uploads(self, token: str, paths: List[str]) -> None:
        now = time.time()
        with self.lock:
            for path in paths:
                self.uploads.setdefault(Path(os.path.abspath(path)).resolve(), {})[short_hash(token)] = now

    def may_read(self, token: Optional[str], path) -> bool:
        """False for a file in Gradio's folder that ``token``'s visitor did not upload or make."""
        path = Path(os.path.abspath(str(path))).resolve()
        if not path.is_relative_to(self.gated):
            return True  # not a visitor's file; Gradio's own rules apply
        if not token:
            return False
        visitor = short_hash(token)
        if path.is_relative_to(self.root / visitor):
            return True
        with self.lock:
            return visitor in self.uploads.get(path, {})

    def sweep(self, now: Optional[float] = None) -> None:
        """Remove session folders and uploads unused for ``ttl`` seconds."""
        now = time.time() if now is None else now
        with self.lock:
            stale = [f for f, t in self.last_used.items() if now - t > self.ttl and f not in self.busy]
            old_uploads = [p for p, owners in self.uploads.items() if now - max(owners.values()) > self.ttl]
            for path in old_uploads:
                del self.uploads[path]
        for folder in stale:
            self._remove(folder)
        for path in old_uploads:
            shutil.rmtree(path.parent, ignore_errors=True)  # Gradio keeps each upload in a folder of its own

    def start_sweeping(self, interval: float) -> None:
        def loop():
            while True:
                time.sleep(interval)
                self.sweep()

        threading.Thread(target=loop, name="demo-file-sweeper", daemon=True).start()

    def _remove(self, folder: Path) -> None:
        with self.lock:
            self.last_used.pop(folder, None)
            self.ended.discard(folder)
        shutil.rmtree(folder, ignore_errors=True)
        if folder.parent != self.root and folder.parent.is_dir() and not any(folder.parent.iterdir()):
            folder.parent.rmdir()


class VisitorGate:
    """ASGI middleware: a cookie for each browser, files served only to their owner, uploads recorded.

    Gradio serves any file of its temporary folder to whoever has its URL; this gate answers 403
    unless ``VisitorFiles.may_read`` says the requesting visitor owns the file.
    """

    FILE_ROUTE = re.compile(r"/file[=/](.+)$")

    def __init__(self, app, files: VisitorFiles):
        self.app, self.files = app, files

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        token = visitor_token(headers.get(b"cookie", b"").decode("latin-1"))
        new_token = None if token else secrets.token_urlsafe(32)
        match = self.FILE_ROUTE.search(scope["path"])
        if match and not self.files.may_read(token, match.group(1)):
            await send({"type": "http.response.start", "status": 403,
                        "headers": [(b"content-type", b"text/plain")]})
            return await send({"type": "http.response.body", "body": b"This file belongs to another visitor."})
        is_upload = scope["method"] == "POST" and scope["path"].endswith("/upload")
        body = []

        async def send_and_record(message):
            if message["type"] == "http.response.start" and new_token:
                cookie = f"{COOKIE}={new_token}; Path=/; HttpOnly; SameSite=Strict"
                message = dict(message, headers=[*message.get("headers", []), (b"set-cookie", cookie.encode())])
            if is_upload and message["type"] == "http.response.body" and token:
                body.append(message.get("body", b""))
                if not message.get("more_body"):
                    self._record_upload(token, b"".join(body))
            await send(message)

        await self.app(scope, receive, send_and_record)

    def _record_upload(self, token: str, body: bytes) -> None:
        try:
            paths = json.loads(body)
        except ValueError:
            return  # an error answer: nothing was stored
        if isinstance(paths, list):
            self.files.add_uploads(token, [p for p in paths if isinstance(p, str)])


@dataclass
class EditOutputs:
    """What the page shows after one edit (all paths inside the visitor's folder)."""

    etas: List[float]  # the swept values: etas, or layer gains (``sweep``)
    best_index: int
    wavs: List[Path]  # one per value
    spectrograms: Path
    scores_plot: Path
    table: List[List[str]]  # scores.csv: header row, then one row per eta
    downloads: List[Path]  # best.wav, the zip of every output, scores.csv
    fit_reused: bool = False  # steps 1-2 came from the visitor's previous edit: sampling only
    sweep: str = "eta"  # what ``etas`` are: "eta" (imagic) or "gain" (layer)
    added_prompt: Optional[str] = None  # addition: the sound that was added (the layer's, or guided in)


def pack_edit(folder: Path) -> Path:
    """``<folder>.zip`` with the edit's outputs (not its checkpoints)."""
    target = folder.with_suffix(".zip")

    def write(tmp):
        with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as archive:
            for pattern in ZIPPED:
                for path in sorted(folder.glob(pattern)):
                    archive.write(path, f"{folder.name}/{path.name}")

    atomic_write(target, write)
    return target


def split_arguments(argv, demo_keys):
    """(demo hparams file, the demo's own overrides, recipe arguments passed to every edit)."""
    hparams_file, run_opts, overrides = parse_arguments(argv)
    demo_overrides = {k: v for k, v in overrides.items() if k in demo_keys}
    fixed = sorted(k for k in overrides if k in PER_EDIT_KEYS)
    if fixed:
        raise UserError(f"--{fixed[0]} is set per edit on the page; leave it out of the demo's command line")
    recipe_args = [f"--{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in overrides.items()
                   if k not in demo_keys]
    for name in sorted(run_opts.overridden_args):
        value = getattr(run_opts, name)
        recipe_args.append(f"--{name}" if value is True else f"--{name}={value}")
    return hparams_file, demo_overrides, recipe_args


class DemoEditor:
    """What the page does, without the page: check an upload, fit and edit it through the API, pack it.

    ``recipe_args`` (e.g. ``--backbone=tango --emb_steps=50``) go to every edit; they are checked, and
    the model loaded, here (the addition recipe's; the others on first use), so that a mistake stops the
    demo before it serves anyone. ``fits`` keeps each visitor's last fit (by their folder).

    Each edit names its method: ``imagic`` (the three steps: the speed presets and LoRA or full fine-tuning
    apply, one output per eta) for every edit type, or ``layer`` for addition (the
    missing sound generated and mixed over the input, one output per gain). Each (edit type, method) has
    its own ``Editor``, loaded on first use.
    """

    def __init__(self, repo, recipe_hparams, recipe_args: List[str], max_upload_mb: float, manifest=None):
        self.repo, self.recipe_hparams = Path(repo), Path(recipe_hparams)
        self.recipe_args = [arg for arg in recipe_args if not arg.startswith("--method=")]  # set per edit
        self.max_upload_mb = max_upload_mb
        self.editors: Dict[tuple, Editor] = {}  # (edit type, method) -> its Editor
        self.fits: Dict[Path, Fit] = {}
        editor = self.editor("addition")
        self.sample_rate, self.window_seconds = editor.backbone.sample_rate, editor.backbone.window_seconds
        self.etas, self.ft_mode = editor.hparams["etas"], editor.hparams["ft_mode"]
        self.layer_gains = editor.hparams["layer_gains"]
        self.clips = {}
        if manifest and Path(manifest).is_file():
            self.clips = {e["id"]: e for e in read_manifest(manifest)}

    def hparams_file(self, edit_type: str) -> Path:
        return self.recipe_hparams / f"{edit_type}.yaml"

    def editor(self, edit_type: str, method: str = "imagic") -> Editor:
        """The edit type's ``Editor`` for ``method`` (``DEMO_METHODS``) with the demo's arguments, loaded on
        first use."""
        check_edit_type(edit_type)
        if method not in DEMO_METHODS[edit_type]:
            raise UserError(f"the demo's {edit_type} runs {' or '.join(DEMO_METHODS[edit_type])}, not '{method}'")
        if (edit_type, method) not in self.editors:
            hparams_file = self.hparams_file(edit_type)
            own = flags_read_by(method, self.recipe_args)  # the demo's arguments each go to the methods reading them
            _, run_opts, overrides = parse_arguments([str(hparams_file), *own, f"--method={method}"])
            self.editors[edit_type, method] = Editor.from_hparams(hparams_file, overrides, run_opts,
                                                                  editor_class(edit_type))
        return self.editors[edit_type, method]

    def check_upload(self, path) -> None:
        """The demo's size limit, then the recipes' checks of an input file (readable, finite). The length is
        not limited here: the edit runs a clip longer than the backbone's window in windows (``long_input``)."""
        path = Path(path)
        name = path.name
        if path.is_file() and path.stat().st_size > self.max_upload_mb * 2**20:
            raise UserError(f"'{name}' is {path.stat().st_size / 2**20:.1f} MB; the demo takes files up to "
                            f"{self.max_upload_mb:g} MB: trim it or save it as flac or ogg")
        with messages_naming(path, name):
            load_audio(path, self.sample_rate)

    def fit_settings(self, speed="fast", ft_mode=None, mask_start=None, mask_end=None) -> dict:
        """The visitor's choices as fit settings (they win over the demo's arguments)."""
        if speed not in SCHEDULES:
            raise UserError(f"unknown speed '{speed}'; choose one of {', '.join(SCHEDULES)}")
        settings = dict(SCHEDULES[speed])
        if ft_mode:
            settings["ft_mode"] = ft_mode
        settings.update({key: float(value) for key, value in (("mask_start", mask_start), ("mask_end", mask_end))
                         if value is not None})
        return settings

    def fit(self, folder: Path, edit_type: str, input_path: Path, prompt: str, settings: dict,
            method: str = "imagic") -> Fit:
        """The visitor's previous fit when it is of the same clip and settings (and, with ``init: target``,
        prompt), else a new one, kept for their next edit."""
        editor = self.editor(edit_type, method)
        if edit_type != "inpainting":
            settings = {k: v for k, v in settings.items() if k not in ("mask_start", "mask_end")}
        settings = {k: v for k, v in settings.items() if not read_only_by_others(method, k)}  # the layer: no ft_mode
        fit = editor.prepare_fit(input_path, target_prompt=prompt, **settings)
        kept = self.fits.get(folder)
        if kept is not None and kept.editor is editor and kept.identity == fit.identity:
            return kept
        self.fits = {f: other for f, other in self.fits.items() if f.is_dir()}  # visitors gone: their fits too
        self.fits[folder] = fit.run()
        return fit

    def edit(self, folder: Path, source, edit_type: str, prompt: str, method: str = "imagic",
             **choices) -> EditOutputs:
        """Copy ``source`` into ``folder`` and edit it there with ``method``; ``choices``: ``fit_settings``'s
        keywords (read by ``imagic``)."""
        if not source:
            raise UserError("no input audio: upload or record a clip, or pick one of the benchmark set")
        source = Path(source)
        self.check_upload(source)
        prompt = check_prompt(prompt)
        settings = self.fit_settings(**choices)
        editor = self.editor(edit_type, method)
        edit_id = f"edit_{sum(1 for _ in folder.glob('edit_*_input')) + 1}"
        input_path = folder / f"{edit_id}_input" / source.name
        input_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, input_path)
        with messages_naming(input_path, source.name):
            kept = self.fits.get(folder)
            fit = self.fit(folder, edit_type, input_path, prompt, settings, method)
            edit = editor.edit(fit, prompt)
        out = folder / edit_id
        edit.save(out)
        about = {"input": source.name, "edit_type": edit_type, "method": method, "target_prompt": prompt,
                 **settings, "steps_1_2": "reused" if fit is kept else "run"}
        atomic_write(out / "edit.json", lambda tmp: Path(tmp).write_text(json.dumps(about, indent=1)))
        table = [line.split(",") for line in (out / "scores.csv").read_text().splitlines()]
        return EditOutputs(
            etas=edit.etas, best_index=edit.best_index, wavs=[out / edit_wav_name(v, edit.sweep) for v in edit.etas],
            spectrograms=out / "spectrograms.png", scores_plot=out / "clap_vs_eta.png", table=table,
            downloads=[out / "best.wav", pack_edit(out), out / "scores.csv"], fit_reused=fit is kept,
            sweep=edit.sweep, added_prompt=edit.added_prompt)


@contextmanager
def messages_naming(path: Path, name: str):
    """Show the visitor their file's name, not where the server keeps it, in a ``UserError``."""
    try:
        yield
    except UserError as err:
        raise UserError(str(err).replace(str(path), name)) from None


def build_page(editor: DemoEditor, files: VisitorFiles, ttl_seconds: float):
    """The Gradio page (``gradio.Blocks``) over ``editor``; every visitor's files in ``files``."""
    import gradio as gr

    def token_of(request: gr.Request) -> Optional[str]:
        return visitor_token(request.headers.get("cookie"))

    def check_owner(request: gr.Request, path) -> None:
        if path and not files.may_read(token_of(request), path):
            raise UserError("that file belongs to another visitor")

    def folder_of(request: gr.Request) -> Path:
        token = token_of(request)
        if not token:
            raise UserError("this page needs cookies to keep your files apart from other visitors'; "
                            "allow them and reload")
        return files.session_folder(token, request.session_hash)

    def error_text(err) -> str:
        return f"**error:** {html.escape(str(err))}"

    def check_upload(path, request: gr.Request):
        if not path:
            return ""
        try:
            check_owner(request, path)
            editor.check_upload(path)
        except UserError as err:
            return error_text(err)
        return f"Ready: `{html.escape(Path(path).name)}`. Type the target prompt and press Edit."

    def pick_clip(clip_id, request: gr.Request):
        entry = editor.clips.get(clip_id)
        if entry is None:
            return [gr.update()] * 6
        copy = folder_of(request) / "benchmark" / Path(entry["wav"]).name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(entry["wav"], copy)
        span = [float(entry[k]) if entry.get(k) not in (None, "") else None for k in ("mask_start", "mask_end")]
        return [str(copy), entry["edit_type"], entry["target_prompt"], *span,
                f"Benchmark clip `{clip_id}` ({entry['edit_type'].replace('_', ' ')}): its prompt is filled in."]

    slots = max(len(editor.etas), len(editor.layer_gains))  # one player per eta or layer gain

    def run(source, edit_type, method, prompt, mask_start, mask_end, speed, ft_mode, request: gr.Request,
            progress=gr.Progress(track_tqdm=True)):
        blank = [None] * (slots + 3) + [gr.update(value=None)]
        method = method if method in DEMO_METHODS.get(edit_type, ()) else "imagic"
        try:
            folder = folder_of(request)
            check_owner(request, source)
            progress(0, desc="loading the model")
            with files.editing(folder):
                out = editor.edit(folder, source, edit_type, prompt, method, speed=speed, ft_mode=ft_mode,
                                  mask_start=mask_start, mask_end=mask_end)
        except UserError as err:
            return [error_text(err), *blank]
        header, rows = out.table[0], out.table[1:]
        best = dict(zip(header, rows[out.best_index]))
        reused = " Steps 1-2 came from your previous edit of this clip: sampling only." if out.fit_reused else ""
        how = "mixed over your clip" if out.sweep == "gain" else "guided in beside the prompt"
        layer = f" Added: \"{out.added_prompt}\", {how}." if out.added_prompt else ""
        status = (f"**Best edit: {out.sweep} = {out.etas[out.best_index]:g}** (Text {best['text_clap']} + Audio "
                  f"{best['audio_clap']} = {best['sum']}).{layer}{reused} Your files are kept until you close this "
                  f"tab, at most {ttl_seconds / 60:g} minutes after your last edit.")
        players = [gr.update(value=str(w), label=f"{out.sweep} = {v:g}" + (" (best)" if i == out.best_index else ""),
                             visible=True) for i, (v, w) in enumerate(zip(out.etas, out.wavs))]
        players += [gr.update(value=None, visible=False)] * (slots - len(players))
        return [status, *players, str(out.spectrograms), str(out.scores_plot),
                gr.update(value=rows, headers=header), [str(p) for p in out.downloads]]

    def end_session(request: gr.Request):
        files.end_session(token_of(request), request.session_hash)

    clips = [(f"{clip_id}: {e['target_prompt']}", clip_id) for clip_id, e in editor.clips.items()]
    with gr.Blocks(title="audio_editing: edit audio with a text prompt", analytics_enabled=False) as page:
        gr.Markdown("# Edit audio with a text prompt\n"
                    "The method (Imagic) fits the input (step 1: embedding, step 2: fine-tuning), then samples "
                    "it for several eta (step 3): eta 0 reconstructs the input, larger eta follows the prompt "
                    "more. The edit with the best score is marked best. For addition, the layer instead "
                    "generates the sound your clip lacks (the part of the prompt it matches least) and mixes it "
                    "over the clip at several gains. "
                    f"Inputs: wav, flac or ogg, up to {editor.max_upload_mb:g} MB; a clip longer than the "
                    f"model's window ({editor.window_seconds:g} s) is edited in overlapping windows, as on the "
                    "command line. One edit runs at a time, others wait in line.")
        with gr.Row():
            with gr.Column():
                audio_in = gr.Audio(sources=["upload", "microphone"], type="filepath", format=None,
                                    label="Input audio (upload or record)", buttons=["download"],
                                    elem_id="input-audio")
                clip = gr.Dropdown(clips, value=None, label="...or a clip of the benchmark set",
                                   visible=bool(clips), elem_id="clip")
            with gr.Column():
                edit_type = gr.Radio([(EDIT_TYPE_LABELS[t], t) for t in EDIT_TYPES], value="addition",
                                     label="Edit type", elem_id="edit-type")
                prompt = gr.Textbox(label="Target prompt", placeholder="e.g. a dog barks while rain falls",
                                    elem_id="prompt")
                method = gr.Radio([("the method (Imagic): fit, then sample over eta", "imagic"),
                                   ("layer: generate the missing sound, mix it over the clip", "layer")],
                                  value=DEMO_METHODS["addition"][0], label="Method", elem_id="method")
                with gr.Row(visible=False) as span_row:
                    mask_start = gr.Number(label="blank span from (s; empty: find the silent gap)",
                                           elem_id="mask-start")
                    mask_end = gr.Number(label="to (s)", elem_id="mask-end")
                speed = gr.Radio([("fast: the backbone's schedule", "fast"),
                                  ("paper: 500 + 1500 steps, 200 sampling steps", "paper")],
                                 value="fast", label="Speed", elem_id="speed")
                ft_mode = gr.Radio([("full", "full"), ("LoRA", "lora")], value=editor.ft_mode,
                                   label="Fine-tuning", elem_id="ft-mode")
                button = gr.Button("Edit", variant="primary", elem_id="edit-button")
        status = gr.Markdown(min_height=80, container=True, padding=True, elem_id="status")
        players = []
        labels = [f"eta = {eta:g}" for eta in editor.etas] + [""] * (slots - len(editor.etas))
        for start in range(0, slots, 4):
            with gr.Row():
                players += [gr.Audio(label=label, interactive=False, buttons=["download"],
                                     elem_classes="edit-player")
                            for label in labels[start:start + 4]]
        with gr.Row():
            spectrograms = gr.Image(label="Spectrograms: the input, then each eta", type="filepath",
                                    interactive=False, buttons=["download", "fullscreen"], elem_id="spectrograms")
            scores_plot = gr.Image(label="Text-CLAP and Audio-CLAP against eta (dashed: chosen)",
                                   type="filepath", interactive=False, buttons=["download", "fullscreen"],
                                   elem_id="scores-plot")
        table = gr.Dataframe(label="Scores per eta", interactive=False, elem_id="scores")
        downloads = gr.File(label="Downloads: best edit, all edits (zip), scores.csv", file_count="multiple",
                            interactive=False, elem_id="downloads")

        audio_in.upload(check_upload, [audio_in], [status])
        audio_in.stop_recording(check_upload, [audio_in], [status])
        audio_in.clear(lambda: "", None, [status])
        clip.input(pick_clip, [clip], [audio_in, edit_type, prompt, mask_start, mask_end, status])
        edit_type.change(lambda t: gr.update(visible=t == "inpainting"), [edit_type], [span_row])
        edit_type.change(lambda t: gr.update(visible=len(DEMO_METHODS[t]) > 1), [edit_type], [method])
        button.click(run, [audio_in, edit_type, method, prompt, mask_start, mask_end, speed, ft_mode],
                     [status, *players, spectrograms, scores_plot, table, downloads],
                     show_progress_on=[status], concurrency_limit=1, concurrency_id="edit")
        page.unload(end_session)
    return page


def launch_demo(argv, repo) -> None:
    """Parse ``hparams/demo.yaml [--key=value ...]``, load the model, serve the page until stopped."""
    import gradio as gr
    from gradio.utils import get_upload_folder
    from starlette.middleware import Middleware

    demo_file = Path(argv[0]) if argv else None
    if demo_file is None or not demo_file.is_file():
        raise UserError("the first argument must be the demo's hparams file, e.g. hparams/demo.yaml")
    text = demo_file.read_text()
    demo_keys = set(ruamel.yaml.YAML(typ="safe").load(text))
    _, demo_overrides, recipe_args = split_arguments(argv, demo_keys)
    config = load_hyperpyyaml(text, demo_overrides)
    editor = DemoEditor(repo, config["recipe_hparams"], recipe_args, config["max_upload_mb"], config["manifest"])

    ttl = float(config["results_ttl_seconds"])
    gated = Path(get_upload_folder())
    gated.mkdir(parents=True, exist_ok=True)
    # The visitors' folders lie in Gradio's folder, so that Gradio serves their files without copies.
    root = Path(tempfile.mkdtemp(prefix="audio_editing_demo_", dir=gated))
    files = VisitorFiles(root, gated, ttl)
    files.start_sweeping(interval=min(60.0, ttl / 2))
    page = build_page(editor, files, ttl)
    page.queue(default_concurrency_limit=1, max_size=config["queue_size"], api_open=False)
    # Stopped by a signal or Ctrl-C, the demo still removes every visitor's files.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        page.launch(server_name=config["host"], server_port=config["port"], share=False,
                    max_file_size=f"{config['max_upload_mb']}mb", show_error=False, ssr_mode=False,
                    mcp_server=False, enable_monitoring=False, pwa=False, footer_links=[],
                    app_kwargs={"middleware": [Middleware(VisitorGate, files=files)]})
    except OSError:
        raise UserError(f"cannot serve on {config['host']}:{config['port']} (in use, or not this machine's "
                        "address); choose another --port or --host") from None
    finally:
        shutil.rmtree(root, ignore_errors=True)
