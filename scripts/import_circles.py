"""The package's file-level import graph (every import, lazy ones inside functions included): prints its circles
and what api.py imports from above it. Run from anywhere: python scripts/import_circles.py [repo root]."""
import ast, pathlib, sys
root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parents[1])
mods = {}
for p in (root / "audio_editing").rglob("*.py"):
    name = ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__")
    mods[name] = p
graph = {m: set() for m in mods}
for m, p in mods.items():
    for node in ast.walk(ast.parse(p.read_text())):
        targets = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for t in targets:
            if t in mods and t != m:
                graph[m].add(t)
# Tarjan's strongly connected components
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
def visit(v):
    index[v] = low[v] = n[0]; n[0] += 1; stack.append(v); on.add(v)
    for w in graph[v]:
        if w not in index: visit(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(sorted(comp))
sys.setrecursionlimit(10000)
for v in graph:
    if v not in index: visit(v)
print(f"{len(graph)} modules, {sum(map(len, graph.values()))} imports, circles: {sccs or 'none'}")
api_up = sorted(t for t in graph["audio_editing.api"] if t.startswith(("audio_editing.evaluation", "audio_editing.recipe", "audio_editing.demo")))
print("api.py imports from above it:", api_up or "nothing")
