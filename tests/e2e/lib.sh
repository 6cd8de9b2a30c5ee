# Helpers for the e2e tests (sourced).
zt_workdir() {
  local d="${ZM_BUILD_DIR:-.}/tmp/e2e_$1"
  rm -rf "$d" && mkdir -p "$d" && echo "$d"
}
# zt_mpi NP STAGE ARGS...: zoomorph under mpirun (-np 1 runs without mpirun)
zt_mpi() {
  local np=$1; shift
  if [ "$np" = 1 ]; then "$ZM_BIN" "$@"; else mpirun --oversubscribe -np "$np" "$ZM_BIN" "$@"; fi
}
# zt_expect_rc WANT GOT LOG TEXT: the exit status and a message in the log
zt_expect_rc() {
  if [ "$2" != "$1" ]; then echo "FAIL: exit status $2, expected $1"; cat "$3"; exit 1; fi
  if ! grep -qF -- "$(echo "$4" | sed 's/\\//g')" "$3"; then
    echo "FAIL: message not found: $4"; cat "$3"; exit 1
  fi
  echo "ok: exit $1 with: $4"
}
# skip (exit 77) when ../shared/data/real is absent
zt_need_shared() {
  if [ ! -d "${ZM_SHARED_DATA:-/nonexistent}" ]; then
    echo "SKIP: ../shared/data/real is absent"; exit 77
  fi
}
