#!/usr/bin/env bash
# Before/after of our fill and warm reads, paired: bench/pair-ab.ts run from checkout A, then from
# checkout B, again and again for SECS seconds (default 330); prints each pair and, at the end, per
# mode the median of B/A over the pairs with its quartiles. Each checkout needs its dependencies
# installed; the script is copied into A's bench/ when A predates it.
# SCRIPT=pair-cold.ts pairs the cold reads instead (bench/pair-cold.ts; give it the image copies);
# SCRIPT=pair-disjoint.ts the disjoint images' unshared and shared fills (give it the derived images). A
# checkout's own copy of the script is used when it has one: an older copy may ignore newer settings
# (a pair-disjoint.ts that predates SPLIT reads whole files whatever SPLIT says) — copy the script over first.
# Usage: bench/pair-ab.sh DIR_A DIR_B IMG... (SECS=N COPIES=N PASSES=N SPLIT=BYTES
#        SCRIPT=pair-ab.ts|pair-cold.ts|pair-disjoint.ts)
set -euo pipefail
if [ $# -lt 3 ]; then echo "usage: bench/pair-ab.sh DIR_A DIR_B IMG..." >&2; exit 2; fi
a=$(realpath "$1"); b=$(realpath "$2"); shift 2
here=$(dirname "$(realpath "$0")")
imgs=(); for i in "$@"; do imgs+=("$(realpath "$i")"); done
script=${SCRIPT:-pair-ab.ts}
for d in "$a" "$b"; do
  [ -x "$d/node_modules/.bin/tsx" ] || { echo "pair-ab: $d has no node_modules (install it first)" >&2; exit 2; }
  [ -f "$d/bench/$script" ] || cp "$here/$script" "$d/bench/$script"
done
log=$(mktemp)
end=$(( $(date +%s) + ${SECS:-330} ))
r=0
while [ "$(date +%s)" -lt "$end" ]; do
  r=$((r + 1))
  for side in A B; do
    d=$a; [ $side = B ] && d=$b
    line=$(cd "$d" && node_modules/.bin/tsx --conditions=source bench/$script "${imgs[@]}" | tail -1)
    echo "$r $side $line" | tee -a "$log"
  done
done
python3 - "$log" <<'PY'
import json, statistics as st, sys
rows = {}
for l in open(sys.argv[1]):
    r, side, js = l.split(' ', 2)
    rows.setdefault(r, {})[side] = json.loads(js)
pairs = [v for v in rows.values() if len(v) == 2]
print(f'{len(pairs)} pairs; B/A per pair: median (quartiles)')
for k in pairs[0]['A']:
    if any(k not in p['A'] or k not in p['B'] for p in pairs):
        continue  # a figure one side's script does not print (an older copy of it)
    if any(p['A'][k] == 0 for p in pairs):
        continue  # a count that can be 0 (faults): no ratio
    q = [p['B'][k] / p['A'][k] for p in pairs]
    qs = st.quantiles(q, n=4) if len(q) > 1 else [q[0]] * 3
    u = "MiB/CPU-s" if k.endswith("/cpu") else ("x" if "/" in k else "MiB/s")
    d = 3 if u == "x" else 0
    print(f"  {k}: A {st.median(p['A'][k] for p in pairs):.{d}f} {u}, B {st.median(p['B'][k] for p in pairs):.{d}f} {u}, "
          f'B/A {st.median(q):.3f} ({qs[0]:.2f}-{qs[2]:.2f})')
PY
rm -f "$log"
