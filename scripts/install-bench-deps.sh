#!/usr/bin/env bash
# What `npm run bench:cluster` needs beyond npm packages, from Debian: haproxy (the load balancer in
# front of the relays), redis-server (the run's own Redis) and postgresql with postgresql-common
# (pg_createcluster: the run's own Postgres cluster). Not part of the tests. Idempotent: installs
# only what is missing, and refreshes the package lists at most once.
set -euo pipefail

missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v pg_createcluster >/dev/null 2>&1 || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-bench-deps: missing ${missing[*]}; install them with your package manager (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-bench-deps: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts a packaged haproxy as a service; the benchmark runs its own processes instead.
if command -v systemctl >/dev/null 2>&1; then systemctl disable --now haproxy >/dev/null 2>&1 || true; fi
