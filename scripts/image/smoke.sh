#!/usr/bin/env bash
# Image smoke test (npm run image:smoke): builds the base image (build-base.sh) and the project image
# with podman, runs a relay and a worker container on the host network against the host's Postgres
# and Redis until the relay's GET /invitation answers, checks both containers' HEALTHCHECK and user,
# then stops them with SIGTERM and checks they exit 0 within their grace period.
#
# Environment: DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test), REDIS_URL (default
# redis://127.0.0.1:6379), IMAGE (default localhost/clustered-mediator:smoke), BASE_IMAGE (see
# build-base.sh), STOP_LIMIT_S (default 20). The run uses its own Postgres schema and Redis prefix
# and removes both at the end.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
. scripts/image/podman-env.sh

DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
IMAGE="${IMAGE:-localhost/clustered-mediator:smoke}"
export BASE_IMAGE="${BASE_IMAGE:-localhost/mediator-base:bookworm-node20}"
STOP_LIMIT_S="${STOP_LIMIT_S:-20}"
run_id="$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
schema="image_smoke_$run_id"
prefix="image-smoke:$run_id"
relay="smoke-relay-$run_id"
worker="smoke-worker-$run_id"

log() { printf '\n== %s\n' "$*"; }
fail() { echo "image smoke: FAILED: $*" >&2; exit 1; }
free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

cleanup() {
  set +e
  for c in "$relay" "$worker"; do pod rm -f -t 0 "$c" >/dev/null 2>&1; done
  node -e '
    const { Client } = require("pg");
    const c = new Client({ connectionString: process.argv[1] });
    c.connect().then(() => c.query(`DROP SCHEMA IF EXISTS "${process.argv[2]}" CASCADE`)).finally(() => c.end());
  ' "$DATABASE_URL" "$schema" 2>/dev/null
  node -e '
    const { Redis } = require("ioredis");
    const r = new Redis(process.argv[1]);
    (async () => { let cur = "0"; do { const [n, keys] = await r.scan(cur, "MATCH", process.argv[2] + ":*", "COUNT", 1000); cur = n; if (keys.length) await r.del(...keys) } while (cur !== "0"); r.disconnect() })();
  ' "$REDIS_URL" "$prefix" 2>/dev/null
}
trap cleanup EXIT

bash scripts/image/install-deps.sh
if [ -z "${SKIP_BASE:-}" ] || ! pod image exists "$BASE_IMAGE"; then
  log "base image"
  bash scripts/image/build-base.sh >/dev/null
fi

log "building $IMAGE FROM $BASE_IMAGE"
started=$(date +%s)
# docker format keeps the HEALTHCHECK (OCI images have none); the host's npm cache saves downloads,
# and npm in the build trusts what the host trusts (the same network path to the registry).
mkdir -p "$HOME/.npm"
ca_args=()
host_ca="${NODE_EXTRA_CA_CERTS:-/etc/ssl/certs/ca-certificates.crt}"
[ -s "$host_ca" ] && ca_args=(-v "$host_ca:/run/host-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.crt)
pod build --format docker --network host "${PODMAN_LIMITS[@]}" "${ca_args[@]}" \
  --build-arg BASE_IMAGE="$BASE_IMAGE" -v "$HOME/.npm:/root/.npm" \
  -f infra/Dockerfile -t "$IMAGE" . > "$root/.cache/image/build.log" 2>&1 \
  || { tail -n 30 "$root/.cache/image/build.log" >&2; fail "podman build (log: .cache/image/build.log)"; }
echo "built in $(( $(date +%s) - started )) s, $(pod image inspect "$IMAGE" --format '{{.Size}}' | awk '{printf "%.0f MB", $1/1e6}')"

public_port=$(free_port); internal_port=$(free_port); ops_port=$(free_port)
secret="smoke-internal-secret-$run_id"
kms_key="$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64"))')"
common=(--network host "${PODMAN_LIMITS[@]}" -e REDIS_URL="$REDIS_URL" -e REDIS_PREFIX="$prefix" -e INTERNAL_SECRET="$secret" -e LOG_LEVEL=info)

log "relay and worker containers (public :$public_port, internal :$internal_port, ops :$ops_port)"
pod run -d --name "$relay" "${common[@]}" -e RELAY_ID="$relay" -e PUBLIC_HOST=127.0.0.1 -e PUBLIC_PORT="$public_port" \
  -e INTERNAL_HOST=127.0.0.1 -e INTERNAL_PORT="$internal_port" -e INTERNAL_URL="http://127.0.0.1:$internal_port" \
  "$IMAGE" apps/relay/dist/main.js >/dev/null
pod run -d --name "$worker" "${common[@]}" -e WORKER_ID="$worker" -e DATABASE_URL="$DATABASE_URL" -e DATABASE_SCHEMA="$schema" \
  -e KMS_MASTER_KEY="$kms_key" -e PUBLIC_ENDPOINTS="http://127.0.0.1:$public_port,ws://127.0.0.1:$public_port" \
  -e OPS_HOST=127.0.0.1 -e OPS_PORT="$ops_port" "$IMAGE" >/dev/null

url=""
for _ in $(seq 1 120); do
  url="$(node -e 'fetch(process.argv[1]).then(async (r) => { if (r.ok) console.log(await r.text()) }).catch(() => {})' \
    "http://127.0.0.1:$public_port/invitation?format=url")"
  [ -n "$url" ] && break
  for c in "$relay" "$worker"; do
    [ "$(pod inspect "$c" --format '{{.State.Running}}')" = true ] || { pod logs "$c" | tail -n 20 >&2; fail "$c exited"; }
  done
  sleep 1
done
[ -n "$url" ] || { pod logs "$worker" | tail -n 20 >&2; fail "GET /invitation did not answer in 120 s"; }
echo "GET /invitation: $url"
case "$url" in "http://127.0.0.1:$public_port"*"oob="*) ;; *) fail "unexpected invitation URL";; esac

for c in "$relay" "$worker"; do
  uid="$(pod exec "$c" id -u)"
  [ "$uid" = 10001 ] || fail "$c runs as uid $uid"
  pod healthcheck run "$c" >/dev/null || fail "$c HEALTHCHECK is not healthy"
  echo "$c: uid $uid, HEALTHCHECK healthy"
done

log "SIGTERM"
for c in "$relay" "$worker"; do
  t0=$(date +%s%N)
  pod stop -t "$STOP_LIMIT_S" "$c" >/dev/null
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  code="$(pod inspect "$c" --format '{{.State.ExitCode}}')"
  pod logs "$c" 2>&1 | grep -E '"msg":"(shutting down|stopping|mediator worker stopped|relay stopped)' | tail -n 3 | cut -c1-200
  echo "$c: exit code $code after ${ms} ms"
  [ "$code" = 0 ] || fail "$c exited with $code (137 means SIGKILL after ${STOP_LIMIT_S} s: SIGTERM did not stop it)"
  [ "$ms" -lt $(( STOP_LIMIT_S * 1000 )) ] || fail "$c took ${ms} ms to stop"
done
log "image smoke passed"
