# Sourced by the image scripts: podman options this machine needs, chosen by what it has.
# - crun cannot run on a hybrid cgroup v1/v2 host; runc can.
# - podman's default ulimits (nofile 1048576) exceed what an unprivileged container host may grant:
#   ask for the host's own open-files limit and a modest process limit instead.
PODMAN_GLOBAL=()
if [ -d /sys/fs/cgroup/unified ] && [ "$(stat -fc %T /sys/fs/cgroup)" != cgroup2fs ] && command -v runc >/dev/null 2>&1; then
  PODMAN_GLOBAL+=(--runtime runc)
fi
PODMAN_LIMITS=(--ulimit "nofile=$(ulimit -Hn):$(ulimit -Hn)" --ulimit nproc=4096:4096)
pod() { podman "${PODMAN_GLOBAL[@]}" "$@"; }
