#!/usr/bin/env bash
# Smoke-test a built image without a container runtime: export its filesystem, then run
# `haechi serve` from it the way an orchestrator would (read-only root, uid 10001, a writable
# data dir and /tmp only, the image's own environment and entrypoint), and drive it through
# /healthz, /readyz, the image's HEALTHCHECK command, and challenge -> solve -> siteverify.
#
#   deploy/image/smoke.sh [TAG]        (default localhost/haechi:dev; needs root, podman)
#
# Also checks the image's metadata (user, healthcheck, labels, entrypoint), that no compiler,
# Node or torch is inside, that the hot path runs compiled, and the third-party notices.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag="${1:-localhost/haechi:dev}"
work=$(mktemp -d /tmp/haechi-image-smoke.XXXXXX)
rootfs="$work/rootfs"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "image smoke: FAIL: $*" >&2; [ -f "$work/server.log" ] && tail -20 "$work/server.log" >&2; exit 1; }

inspect() { podman image inspect --format "$1" "$tag"; }
[ "$(inspect '{{.Config.User}}')" = "10001:10001" ] || fail "image user is not 10001:10001"
inspect '{{json .Config.Healthcheck}}' | grep -q healthz || fail "no HEALTHCHECK (built without --format docker?)"
[ "$(inspect '{{index .Config.Labels "org.opencontainers.image.licenses"}}')" = "Apache-2.0" ] || fail "OCI labels missing"
inspect '{{json .Config.Entrypoint}}' | grep -q dumb-init || fail "entrypoint is not the init process"
echo "image smoke: metadata ok (user 10001, HEALTHCHECK, OCI labels, dumb-init)"

mkdir -p "$rootfs"
cid=$(podman create --no-healthcheck "$tag")
podman export "$cid" | tar -x -C "$rootfs"
podman rm "$cid" >/dev/null
for forbidden in usr/bin/gcc usr/bin/cc usr/bin/node usr/bin/npm; do
  [ ! -e "$rootfs/$forbidden" ] || fail "the runtime image contains /$forbidden"
done
if compgen -G "$rootfs/opt/haechi/venv/lib/python3*/site-packages/torch" >/dev/null; then fail "torch is in the image"; fi
if compgen -G "$rootfs/opt/haechi/venv/lib/python3*/site-packages/mypy" >/dev/null; then fail "mypy is in the image"; fi
echo "image smoke: no compiler, Node, torch or mypy inside ($(du -sm "$rootfs" | cut -f1) MB unpacked)"
python3 deploy/notices.py check-image "$rootfs" || fail "third-party notices"

# The image's environment, as the runtime would set it.
mapfile -t image_env < <(inspect '{{range .Config.Env}}{{println .}}{{end}}' | sed '/^$/d')
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
origin="https://smoke.example.com"

# One private mount namespace: the root bind-mounted read-only, tmpfs for /tmp and the data dir
# (as emptyDir volumes in Kubernetes), /proc and /dev from the host.
in_image() {  # command... (run as uid 10001 inside the read-only image)
  unshare --mount --propagation private -- bash -c '
    set -e; r=$1; shift
    mount --bind "$r" "$r"; mount -o remount,bind,ro "$r"
    mount -t tmpfs -o mode=1777 tmpfs "$r/tmp"
    mount --bind "$DATA" "$r/var/lib/haechi"
    mount -t proc proc "$r/proc"; mount --rbind /dev "$r/dev"
    exec chroot --userspec=10001:10001 "$r" /usr/bin/env -i "$@"
  ' in_image "$rootfs" "${image_env[@]}" "$@"
}
export DATA="$work/data"
mkdir -p "$DATA" && chown 10001:10001 "$DATA" && chmod 0700 "$DATA"

in_image haechi migrate 2>"$work/migrate.log" || { cat "$work/migrate.log" >&2; fail "haechi migrate"; }
# The friction-free test level: a script has no pointer, and on a quiet machine a starter pool is
# ready within seconds, after which a medium site asks a telemetry-free client for a visual task.
site=$(in_image haechi sites create --name smoke --hostname smoke.example.com --security-level test \
  --json 2>>"$work/migrate.log") \
  || fail "haechi sites create"
sitekey=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["sitekey"])' "$site")
secret=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["secret"])' "$site")

# The image's entrypoint and default command, with only the port changed.
in_image dumb-init -- haechi serve --host 127.0.0.1 --port "$port" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 60); do
  curl -fs "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited"
  sleep 0.5
done
curl -fs "http://127.0.0.1:$port/healthz" | grep -q '"ok"' || fail "/healthz"
curl -fs "http://127.0.0.1:$port/readyz" | grep -q '"ok"' || fail "/readyz"
grep -q "hot path: compiled" "$work/server.log" || fail "the image does not run the compiled hot path"
echo "image smoke: /healthz and /readyz ok, hot path compiled, read-only root"

# The HEALTHCHECK's own command, run inside the image.
mapfile -t health < <(inspect '{{range .Config.Healthcheck.Test}}{{println .}}{{end}}' | sed '/^$/d')
[ "${health[0]}" = "CMD" ] || fail "HEALTHCHECK is not an exec form"
in_image HAECHI_PORT="$port" "${health[@]:1}" || fail "the HEALTHCHECK command failed"
echo "image smoke: HEALTHCHECK command passes"

haechi_client="${HAECHI_CLIENT:-.venv/bin/haechi}"
token=$("$haechi_client" solve --url "http://127.0.0.1:$port" --sitekey "$sitekey" --origin "$origin" | tail -1) \
  || fail "haechi solve"
verdict=$(curl -fs "http://127.0.0.1:$port/siteverify" -d "secret=$secret" -d "response=$token")
echo "$verdict" | grep -q '"success":true' || fail "siteverify: $verdict"
again=$(curl -fs "http://127.0.0.1:$port/siteverify" -d "secret=$secret" -d "response=$token")
echo "$again" | grep -q '"success":false' || fail "a token verified twice: $again"
echo "image smoke: challenge -> solve -> siteverify ok; the token is refused a second time"

kill -TERM "$server_pid"
for _ in $(seq 1 20); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.5; done
kill -0 "$server_pid" 2>/dev/null && fail "the server did not stop on SIGTERM within 10 s"
server_pid=""
echo "image smoke: stops on SIGTERM; all ok"
