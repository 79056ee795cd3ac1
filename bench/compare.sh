#!/usr/bin/env bash
# Two versions of hallboard benchmarked in turns on this machine, and the comparison
# written to docs/benchmark-comparison.md (bench/compare.py).
#
#   bench/compare.sh BEFORE_REF [SIZES] [RUNS]     e.g. bench/compare.sh a8a164c 1000,10000 3
#
# BEFORE_REF is checked out into a throwaway worktree with its own virtualenv; the
# working tree here is the "after". Only hallboard's one-process stack is run (the
# server's own figures); at each size both versions run before the next size. Both are
# driven by this checkout's bench/run.py and load client (the before's servers run from
# its worktree: run.py --server-root), so only the server differs between them.
set -euo pipefail
cd "$(dirname "$0")/.."
before=${1:?usage: bench/compare.sh BEFORE_REF [SIZES] [RUNS]}
sizes=${2:-1000,10000}
runs=${3:-3}
work=$(mktemp -d /tmp/hallboard-compare-XXXXXX)
trap 'git worktree remove --force "$work/before" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add --quiet --detach "$work/before" "$before"
(cd "$work/before" && make .venv/.installed >/dev/null)
make .venv/.installed >/dev/null
.venv/bin/pip install --quiet -e '.[test,bench]'
befores=() afters=()
for n in ${sizes//,/ }; do
  .venv/bin/python bench/run.py --stacks hallboard --sizes "$n" --runs "$runs" \
    --server-root "$work/before" --json "$work/before-$n.json" --markdown "$work/before-$n.md"
  .venv/bin/python bench/run.py --stacks hallboard --sizes "$n" --runs "$runs" \
    --json "$work/after-$n.json" --markdown "$work/after-$n.md"
  befores+=("$work/before-$n.json") afters+=("$work/after-$n.json")
done
.venv/bin/python bench/compare.py --before "${befores[@]}" --after "${afters[@]}" \
  --before-label "$(git rev-parse --short "$before")" \
  --after-label "$(git rev-parse --short HEAD)" --out docs/benchmark-comparison.md
