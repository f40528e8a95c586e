"""Manifests of a batch evaluation, read and checked before the first edit.

A SpeechBrain-style JSON dict ``{id: {"wav", "target_prompt", "edit_type", ...}}``, a CSV with those columns, or
the paper authors' format, a folder of ``.txt`` files whose first line is the wav path and second the target
prompt (edit type: the first folder below the root). Optional fields: ``mask_start``/``mask_end`` (inpainting),
``reference`` (a reference edit), ``added_prompt`` (addition: the added sound alone). Relative paths are relative
to the manifest.
"""

import csv
import json
import re
from pathlib import Path
from typing import List

from audio_editing.cli import list_arg
from audio_editing.data.audio import check_audible, read_audio
from audio_editing.editing.edit_types import EDIT_TYPES
from audio_editing.errors import UserError


def read_txt_folder(root: Path) -> List[dict]:
    """The paper authors' layout: ``<root>/<edit_type>/[<clip folders>/]<clip>.txt``, line 1 the wav (relative
    to the .txt; when it names no file, the ``<clip>.wav`` beside the .txt), line 2 the target prompt. The id
    is the edit type and the path below its folder joined by ``_`` (``addition/audit/e1.txt`` ->
    ``addition_audit_e1``, ``Style-Transfer/e1.txt`` -> ``style_transfer_e1``): the authors' names repeat
    across edit types and sub-folders (``addition/e1``, ``inpainting/e1``, ``addition/audit/e1``), and an id
    names a folder of outputs, so it keeps both and no ``/``."""
    txts = sorted(root.rglob("*.txt"))
    if not txts:
        raise UserError(f"manifest folder '{root}' holds no .txt file; lay it out as <edit_type>/<clip>.txt")
    loose = [str(txt) for txt in txts if txt.parent == root]
    if loose:
        raise UserError(f"{', '.join(loose)}: a .txt directly in the manifest folder has no edit type; move it into "
                        f"a folder named for its edit type ({', '.join(EDIT_TYPES)})")
    folder_type = {t.replace("_", ""): t for t in EDIT_TYPES}  # 'Style Transfer', 'style-transfer' alike
    entries, unknown, missing, seen = [], set(), [], {}
    for txt in txts:
        parts = txt.relative_to(root).parts
        edit_type = folder_type.get(re.sub(r"[\s_-]", "", parts[0].lower()))
        if edit_type is None:
            unknown.add(parts[0])
            continue
        lines = [line.strip() for line in txt.read_text().splitlines() if line.strip()]
        if len(lines) < 2:
            raise UserError(f"'{txt}' needs two lines: the wav path, then the target prompt")
        named = txt.parent / lines[0]
        wav = next((w for w in (named, txt.parent / Path(lines[0]).name, txt.with_suffix(".wav")) if w.is_file()),
                   None)
        if wav is None:
            missing.append(str(txt))
        clip_id = "_".join((edit_type, *Path(*parts[1:]).with_suffix("").parts))
        if clip_id in seen:
            raise UserError(f"'{seen[clip_id]}' and '{txt}' both give clip id '{clip_id}' (the edit type and the "
                            "path below its folder, '/' as '_'); rename one of them")
        seen[clip_id] = txt
        entries.append({"id": clip_id, "wav": lines[0] if wav in (None, named) else wav.name,  # .name: beside the .txt
                        "target_prompt": lines[1], "edit_type": edit_type, "_root": txt.parent})
    if unknown:
        raise UserError(f"manifest folder '{root}': {', '.join(repr(u) for u in sorted(unknown))} is not an edit "
                        f"type; the first folder below it must be one of {', '.join(EDIT_TYPES)}, holding the "
                        ".txt files (or sub-folders of them) of that type")
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        raise UserError(f"{len(missing)} .txt file(s) of '{root}' name a wav that does not exist "
                        f"({', '.join(missing[:3])}{more}); fix their first line or put <name>.wav beside each")
    return entries


def read_manifest(source) -> List[dict]:
    """Entries with absolute ``wav`` (and ``reference``) paths, in manifest order."""
    source = Path(source)
    if not source.exists():
        raise UserError(f"manifest '{source}' does not exist; pass --manifest=<.json, .csv or folder of .txt>")
    if source.is_dir():
        entries = read_txt_folder(source)
    elif source.suffix == ".json":
        try:
            data = json.loads(source.read_text())
        except ValueError as err:
            raise UserError(f"manifest '{source}' is not valid JSON ({err})") from None
        entries = [dict(value, id=key, _root=source.parent) for key, value in data.items()]
    elif source.suffix == ".csv":
        with open(source, newline="") as f:
            entries = [dict(row, _root=source.parent) for row in csv.DictReader(f)]
    else:
        raise UserError(f"manifest '{source}' must be a .json or .csv file or a folder of .txt files")
    for entry in entries:
        root = entry.pop("_root")
        missing = [k for k in ("id", "wav", "target_prompt", "edit_type") if not entry.get(k)]
        if missing:
            raise UserError(f"manifest entry {entry.get('id', '?')} lacks {', '.join(missing)}")
        if entry["edit_type"] not in EDIT_TYPES:
            raise UserError(f"manifest entry {entry['id']}: unknown edit_type '{entry['edit_type']}'; "
                            f"use one of {', '.join(EDIT_TYPES)}")
        for key in ("wav", "reference"):
            if entry.get(key):
                entry[key] = str((root / entry[key]).resolve()) if not Path(entry[key]).is_absolute() \
                    else entry[key]
    return entries


def select_edit_types(entries: List[dict], edit_types) -> List[dict]:
    """The entries of the edit types asked for (None: all), in manifest order.

    Example
    -------
    >>> entries = [{"id": "a", "edit_type": "addition"}, {"id": "b", "edit_type": "inpainting"}]
    >>> [e["id"] for e in select_edit_types(entries, ["inpainting"])]
    ['b']
    """
    if edit_types is None:
        return entries
    edit_types = list_arg(edit_types)
    unknown = [t for t in edit_types if t not in EDIT_TYPES]
    if unknown or not edit_types:
        raise UserError(f"--edit_types={list(edit_types)}: choose one or more of {', '.join(EDIT_TYPES)} "
                        "(or leave it out for all)")
    chosen = [e for e in entries if e["edit_type"] in edit_types]
    if not chosen:
        raise UserError(f"the manifest has no clip of edit type {', '.join(edit_types)}")
    return chosen


def check_entries(entries: List[dict]) -> None:
    """Read every clip (and reference) and check every prompt before anything is edited."""
    from audio_editing.editing.checks import check_prompt

    for entry in entries:
        try:
            check_prompt(entry["target_prompt"])
            clip = read_audio(entry["wav"])
            check_audible(clip, clip.samples.mean(dim=0), entry["wav"])
            if entry.get("reference"):
                read_audio(entry["reference"])
        except UserError as err:
            raise UserError(f"manifest entry {entry['id']}: {err}") from None
