"""Rescore inpainting sweeps (the method's eta_*.wav of evaluate.py runs) with the scorer's Text of the filled span against the part of
the prompt the observed audio matches least; writes features.json. Usage: rescore.py <run folder> <manifest> [...]"""
import csv, json, sys, collections
from pathlib import Path
import torch, soundfile
from audio_editing.evaluation.clap import load_scorer
from audio_editing.editing.added_sound import prompt_events, missing_event

scorer = load_scorer("embedded:toy_world")
out = {}
for run, manifest in zip(sys.argv[1::2], sys.argv[2::2]):
    m = json.load(open(manifest)); base = Path(manifest).parent
    eta_rows = [r for r in csv.DictReader(open(Path(run) / "eta_scores.csv")) if r["edit_type"] == "inpainting" and r["method"] == "imagic"]
    by = collections.defaultdict(list)
    for r in eta_rows: by[r["id"]].append(r)
    for cid, rows in by.items():
        c = m[cid]; folder = Path(run) / "imagic" / "inpainting" / cid
        wav, sr = soundfile.read(base / c["wav"], dtype="float32")
        wav = torch.from_numpy(wav).reshape(1, -1) if wav.ndim == 1 else torch.from_numpy(wav.T).mean(0, keepdim=True)
        parts = prompt_events(c["target_prompt"])
        part_scores = [scorer.text_scores(wav, sr, [p]).item() for p in parts]
        fill = missing_event(parts, part_scores)
        s, e = round(c["mask_start"] * sr), round(c["mask_end"] * sr)
        feats = []
        for r in rows:
            w, _ = soundfile.read(folder / f"edit_eta{float(r['eta']):.2f}.wav", dtype="float32")
            w = torch.from_numpy(w).reshape(1, -1)
            feats.append(dict(eta=float(r["eta"]), text=float(r["text_clap"]), span=float(r["text_clap_span"]),
                              fill=scorer.text_scores(w[:, s:e], sr, [fill]).item(),
                              fill_clip=scorer.text_scores(w, sr, [fill]).item(),
                              onset=float(r["onset_f1"]), audio=float(r["audio_clap"]),
                              judge=float(r["judge_success"]) > 0, pres=float(r["judge_preservation"])))
        out[f"{Path(run).name}/{cid}"] = dict(fill=fill, parts=parts, true=c.get("fill_prompt"), label=c.get("target_label"), feats=feats)
json.dump(out, open("features.json", "w"), indent=1)
print(len(out), "clips")
