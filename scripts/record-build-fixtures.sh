#!/bin/bash
# Record what Docker 20.10's classic builder makes of the fixture Dockerfiles under
# engine/tests/fixtures/build/ (listed in builds.txt): for each, the image's Config and
# Author (docker image inspect) and its config's history (from docker save, which keeps
# empty_layer), as NAME/docker.json. The tests compare wharf's builds with these fields.
#
# dockerd runs in a network namespace of its own (unshare -n) with its own data root,
# exec root and socket, --bridge none and no iptables: nothing is pulled, the host's
# network is untouched. The base image is wharf's demo image, loaded into it.
# Needs root, dockerd and the docker CLI (Debian's docker.io), and a built wharf.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
fx="$here/engine/tests/fixtures/build"
wharf="${WHARF:-$here/target/debug/wharf}"
tmp=$(mktemp -d /tmp/wfx.XXXXXX)
dpid=""
cleanup() {
    if [ -n "$dpid" ]; then kill "$dpid" 2>/dev/null || true; wait "$dpid" 2>/dev/null || true; fi
    grep " $tmp" /proc/self/mountinfo | awk '{print $5}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT
"$wharf" --root "$tmp/wharf" image demo >/dev/null
"$wharf" --root "$tmp/wharf" save -o "$tmp/demo.tar" wharf/demo
unshare -n -- dockerd --data-root "$tmp/data" --exec-root "$tmp/exec" --pidfile "$tmp/docker.pid" \
    -H "unix://$tmp/docker.sock" --bridge none --iptables=false --ip6tables=false --ip-masq=false \
    --userland-proxy=false >"$tmp/dockerd.log" 2>&1 &
dpid=$!
export DOCKER_HOST="unix://$tmp/docker.sock" DOCKER_CONFIG="$tmp/cfg" DOCKER_BUILDKIT=0
mkdir -p "$DOCKER_CONFIG"
for _ in $(seq 1 200); do docker version >/dev/null 2>&1 && break; sleep 0.1; done
docker load -i "$tmp/demo.tar" >/dev/null
grep -v '^#' "$fx/builds.txt" | while IFS='|' read -r name flags; do
    name=$(echo "$name" | xargs)
    [ -z "$name" ] && continue
    echo "== $name"
    # shellcheck disable=SC2086
    docker build --network none -t "fx/$name" $flags "$fx/$name/ctx" > "$fx/$name/docker-output.txt"
    docker image inspect "fx/$name" > "$tmp/inspect.json"
    docker save "fx/$name" -o "$tmp/img.tar"
    mkdir -p "$tmp/img" && tar -C "$tmp/img" -xf "$tmp/img.tar"
    python3 - "$tmp/inspect.json" "$tmp/img" "$fx/$name/docker.json" <<'PY'
import json, sys, os
inspect = json.load(open(sys.argv[1]))[0]
img = sys.argv[2]
manifest = json.load(open(os.path.join(img, "manifest.json")))[0]
config = json.load(open(os.path.join(img, manifest["Config"])))
out = {
    "Config": inspect["Config"],
    "Author": inspect.get("Author", ""),
    "Layers": len(inspect["RootFS"].get("Layers", [])),
    "history": [
        {k: h[k] for k in ("created_by", "empty_layer", "author") if k in h}
        for h in config.get("history", [])
    ],
}
json.dump(out, open(sys.argv[3], "w"), indent=1, sort_keys=True)
open(sys.argv[3], "a").write("\n")
PY
    rm -rf "$tmp/img" "$tmp/img.tar"
done
docker version --format '{{.Server.Version}}' > "$fx/docker-version.txt"
