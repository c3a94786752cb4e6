#!/usr/bin/env bash
# Figure 14: the cost of the kernel boundary, side by side in one run (runc and runsc alternate, after a
# warm-up of each): a container's first start (docker run of the node stand-in, `true`), `git status`
# on this repository bind-mounted read-only, and `npm test` of a small package (node --test, two
# files), each inside a container of the node stand-in on one runtime and the other. Needs an engine
# with runsc registered (.ci/setup-engine.sh). Prints medians of N pairs (default 7), in seconds.
# Run under the engine lock: flock /tmp/devsec-engine.lock bash bench/kernel-figure.sh
set -euo pipefail
N=${1:-7}
# The node stand-in with git, as the dev container has it (the slim image has none).
IMAGE=devsec-bench-kernel:latest
printf 'FROM node:24-trixie-slim\nRUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends git >/dev/null && rm -rf /var/lib/apt/lists/*\n' |
  docker build -q -t "$IMAGE" - >/dev/null
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
docker info --format '{{json .Runtimes}}' | grep -q '"runsc"' || { echo "the engine has no runsc: run .ci/setup-engine.sh" >&2; exit 1; }
PKG=$(mktemp -d)
trap 'rm -rf "$PKG"; for r in runc runsc; do docker rm -f "bench-kernel-$r" >/dev/null 2>&1 || true; done' EXIT
cat >"$PKG/package.json" <<'JSON'
{ "name": "bench-kernel", "version": "1.0.0", "scripts": { "test": "node --test" } }
JSON
mkdir -p "$PKG/test"
for i in 1 2; do
  printf "const t=require('node:test'),a=require('node:assert');t('sum $i',()=>{let s=0;for(let k=0;k<1e6;k++)s+=k;a.ok(s>0)});\n" >"$PKG/test/t$i.test.js"
done
chmod -R a+rX "$PKG"
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
declare -A start gitst npmt
for r in runc runsc; do
  docker rm -f "bench-kernel-$r" >/dev/null 2>&1 || true
  docker run -d --name "bench-kernel-$r" --runtime "$r" --user node -v "$REPO:/repo:ro" -v "$PKG:/pkg:ro" "$IMAGE" sleep infinity >/dev/null
  # warm-up of each
  docker run --rm --runtime "$r" "$IMAGE" true
  docker exec -u node "bench-kernel-$r" git -c safe.directory='*' -C /repo status --short >/dev/null
  docker exec -u node -w /tmp "bench-kernel-$r" sh -c 'cp -r /pkg p && cd p && npm test --silent' >/dev/null
done
for _ in $(seq "$N"); do
  for r in runc runsc; do
    t=$(now); docker run --rm --runtime "$r" "$IMAGE" true; start[$r]+="$(echo "$(now) - $t" | bc) "
    t=$(now); docker exec -u node "bench-kernel-$r" git -c safe.directory='*' -C /repo status --short >/dev/null; gitst[$r]+="$(echo "$(now) - $t" | bc) "
    t=$(now); docker exec -u node -w /tmp "bench-kernel-$r" sh -c 'rm -rf p && cp -r /pkg p && cd p && npm test --silent' >/dev/null; npmt[$r]+="$(echo "$(now) - $t" | bc) "
  done
done
printf '| figure (median of %s pairs, s) | runc | runsc | runsc/runc |\n|---|---|---|---|\n' "$N"
for fig in start gitst npmt; do
  declare -n m=$fig
  a=$(tr ' ' '\n' <<<"${m[runc]}" | grep . | median); b=$(tr ' ' '\n' <<<"${m[runsc]}" | grep . | median)
  name=$([ "$fig" = start ] && echo 'first start (docker run … true)' || { [ "$fig" = gitst ] && echo 'git status on this repository' || echo 'npm test of a small package'; })
  printf '| %s | %.3f | %.3f | %.2f |\n' "$name" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
