"""Judge success of selection rules over the features of rescore.py, per set and pooled. Usage: analyze.py [features.json]"""
import json, collections, sys
d = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "features.json"))
rules = {
    "text_span (default)": lambda f: f["text"] + f["span"],
    "text + fill": lambda f: f["text"] + f["fill"],
    "fill": lambda f: f["fill"],
    "span + fill": lambda f: f["span"] + f["fill"],
    "text + span + fill": lambda f: f["text"] + f["span"] + f["fill"],
    "max_sum": lambda f: f["text"] + f["audio"],
}
sets = collections.defaultdict(list)
for k, v in d.items():
    sets[k.split("/")[0]].append(v)
print("clips", len(d))
header = ["rule"] + sorted(sets) + ["pooled", "preservation"]
print(" | ".join(header))
for name, key in list(rules.items()) + [("best of sweep", None)]:
    cells, tot, pres, n = [], 0, 0, 0
    for s in sorted(sets):
        ok = 0
        for v in sets[s]:
            if key is None:
                b = max(v["feats"], key=lambda f: (f["judge"], f["pres"]))
            else:
                b = max(v["feats"], key=key)
            ok += b["judge"]; pres += b["pres"]; n += 1
        cells.append(str(ok)); tot += ok
    print(" | ".join([name] + cells + [f"{tot}/{n}", f"{pres/n:.2f}"]))
for k, v in list(d.items())[:60]:
    print(k, v["label"], "| fill:", v["fill"], "| parts:", v["parts"])
