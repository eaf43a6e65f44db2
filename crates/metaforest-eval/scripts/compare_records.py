#!/usr/bin/env python3
"""Compare two `metaforest bench … --json FILE` record files, record by record.

Usage: compare_records.py BEFORE.json AFTER.json

A record is keyed by (protocol, variant, domain, method, k, draw). Prints every key present in only one file and
every metric that differs (exact float equality: runs are seeded and deterministic), then a per-method count and,
for every method with changed records, its mean macro-F1 before and after per protocol, variant and K (over the
domains and draws both files hold). Exits 0 when the files hold identical records, 1 otherwise.
"""
import json
import sys
from collections import Counter

KEY = ("protocol", "variant", "domain", "method", "k", "draw")


def load(path):
    with open(path) as f:
        records = json.load(f)
    out = {}
    for r in records:
        key = tuple(r.get(k) for k in KEY)
        if key in out:
            sys.exit(f"{path}: duplicate record {key}")
        out[key] = r
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    before, after = load(sys.argv[1]), load(sys.argv[2])
    only_before = sorted(set(before) - set(after), key=str)
    only_after = sorted(set(after) - set(before), key=str)
    changed = Counter()
    shown = 0
    for key in sorted(set(before) & set(after), key=str):
        a, b = before[key], after[key]
        diffs = [m for m in sorted(set(a) | set(b)) if a.get(m) != b.get(m)]
        if diffs:
            changed[key[3]] += 1
            if shown < 20:
                shown += 1
                print("changed", key, {m: (a.get(m), b.get(m)) for m in diffs[:4]})
    for key in only_before[:20]:
        print("only before", key)
    for key in only_after[:20]:
        print("only after", key)
    same = len(set(before) & set(after)) - sum(changed.values())
    print(f"{len(before)} records before, {len(after)} after: {same} identical, "
          f"{sum(changed.values())} changed {dict(changed)}, {len(only_before)} only before, {len(only_after)} only after")
    for method in sorted(changed):
        groups = {}
        for key in set(before) & set(after):
            if key[3] == method:
                groups.setdefault((key[0], key[1], key[4]), []).append(key)
        for (protocol, variant, k), keys in sorted(groups.items(), key=str):
            mb = sum(before[x]["macro_f1"] or 0.0 for x in keys) / len(keys)
            ma = sum(after[x]["macro_f1"] or 0.0 for x in keys) / len(keys)
            print(f"  {method:8} {protocol} {variant or '-':9} K={k:<3} macro-F1 {mb:.4f} -> {ma:.4f} "
                  f"({(ma - mb) * 100:+.2f} points, {len(keys)} records)")
    sys.exit(0 if not changed and not only_before and not only_after else 1)


if __name__ == "__main__":
    main()
