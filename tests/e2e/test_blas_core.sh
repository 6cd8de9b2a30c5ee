#!/bin/bash
# The BLAS core: zoomorph --version names the BLAS library, its core and the engine's
# kernels; where OpenBLAS fell back below the CPU (simulated with ZM_BLAS_ASSUME_CORE, as
# if the library had chosen Prescott), zoomorph re-executes with OPENBLAS_CORETYPE set
# before MPI_Init, under mpirun too, and says so in one line; a user's OPENBLAS_CORETYPE
# always wins.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
Z=$ZM_BIN
v=$("$Z" --version)
echo "$v"
echo "$v" | grep -q "^BLAS OpenBLAS .* core [A-Za-z0-9_]* (.*); engine kernels [a-z0-9]*"
level=$(echo "$v" | sed -n 's/.*CPU .*(\(.*\))$/\1/p')
case "$level" in
  AVX-512F/BW/VL) want=SkylakeX ;;
  AVX2+FMA) want=Haswell ;;
  AVX) want=Sandybridge ;;
  *) echo "SKIP: this CPU ($level) has no better core than Prescott"; exit 77 ;;
esac
# a fallback: re-executed with the CPU's core, on every rank
out=$(env -u OPENBLAS_CORETYPE ZM_BLAS_ASSUME_CORE=Prescott mpirun --oversubscribe -np 2 "$Z" --version 2>&1)
echo "$out"
echo "$out" | grep -q "core $want (set by zoomorph: OpenBLAS chose Prescott for this $level CPU)"
test "$(echo "$out" | grep -c "INFO .*BLAS core $want (set by zoomorph")" = 1
# the user's setting wins, and is only noted
out=$(OPENBLAS_CORETYPE=Prescott ZM_BLAS_ASSUME_CORE=Prescott "$Z" --version 2>&1)
echo "$out" | grep -q "core Prescott (OPENBLAS_CORETYPE=Prescott)"
echo "$out" | grep -q "OPENBLAS_CORETYPE=Prescott is below what this CPU can do ($want): kept as set"
# no fallback: nothing re-executed, nothing said
out=$(OPENBLAS_CORETYPE=$want "$Z" --version 2>&1)
echo "$out" | grep -q "core $want (OPENBLAS_CORETYPE=$want)"
! echo "$out" | grep -q "INFO\|WARN"
echo "ok: fallback re-executed with $want on 2 ranks; user setting kept"
