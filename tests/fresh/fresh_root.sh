#!/bin/bash
# fresh_root.sh: the README's two commands in a fresh Debian 12 root, as a new user runs
# them. Makes a minimal bookworm root with debootstrap (the base system and nothing else),
# copies the committed tree into it (git archive HEAD), and runs, as root inside it,
#   bash .ci/quickstart demo    then    bash .ci/quickstart test
# (or the other order with ORDER=test-first). Prints each step's time and the packages
# that quickstart installed; exits non-zero if either command fails.
#
#   sudo bash tests/fresh/fresh_root.sh [WORKDIR]      (default WORKDIR: /var/tmp/zm-fresh)
#
# Needs root, debootstrap (installed here if missing) and the Debian mirror this machine's
# apt uses (read from its sources; MIRROR=URL overrides). About 30 minutes on 2 cores,
# most of it the test suite. The shared real-data directory is not copied: the tests that
# need it skip, as on any machine without it.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-/var/tmp/zm-fresh}
order=${ORDER:-demo-first}
[ "$(id -u)" = 0 ] || { echo "fresh_root: run as root (debootstrap, chroot)" >&2; exit 2; }
mirror=${MIRROR:-$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)}
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "fresh_root: no Debian mirror in /etc/apt; set MIRROR=URL" >&2; exit 2; }
command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null; }

root="$work/root"
cleanup() {
  for m in dev/shm dev/pts dev proc sys; do mountpoint -q "$root/$m" && umount -R -l "$root/$m"; done
  return 0
}
trap cleanup EXIT
cleanup
rm -rf "$work"
mkdir -p "$work"
t0=$(date +%s)
echo "fresh_root: debootstrap bookworm from $mirror into $root"
debootstrap --variant=minbase bookworm "$root" "$mirror" > "$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log"; exit 1; }
t1=$(date +%s)
# what a booted machine has: /proc, /sys with its cgroup tree (slurmd needs it), /dev,
# a shared-memory tmpfs (MPI), name resolution and a hosts file naming this host
mount -t proc proc "$root/proc"
mount --rbind /sys "$root/sys" && mount --make-rslave "$root/sys"
mount --bind /dev "$root/dev"
mount --bind /dev/pts "$root/dev/pts"
mkdir -p "$root/dev/shm" && mount -t tmpfs -o size=4g tmpfs "$root/dev/shm"
cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
cp /etc/hosts "$root/etc/hosts"
mkdir -p "$root/home/user/zoomorph"
(cd "$src" && git archive HEAD) | tar -x -C "$root/home/user/zoomorph"
chroot "$root" dpkg-query -W -f='${Package}\n' | sort > "$work/packages-before.txt"

run_cmd() { # $1 = demo|test; output to $work/$1.log
  local s e rc
  s=$(date +%s)
  set +e
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 bash -c "cd /home/user/zoomorph && bash .ci/quickstart $1" > "$work/$1.log" 2>&1
  rc=$?
  set -e
  e=$(date +%s)
  echo "fresh_root: bash .ci/quickstart $1: exit $rc in $((e - s)) s (log $work/$1.log)"
  tail -5 "$work/$1.log" | sed 's/^/    /'
  return $rc
}
if [ "$order" = test-first ]; then steps="test demo"; else steps="demo test"; fi
status=0
for s in $steps; do
  before=$(chroot "$root" dpkg-query -W -f='${Package}\n' | sort)
  run_cmd "$s" || status=1
  after=$(chroot "$root" dpkg-query -W -f='${Package}\n' | sort)
  n=$(comm -13 <(echo "$before") <(echo "$after") | wc -l)
  echo "fresh_root: $s installed $n Debian packages"
done
chroot "$root" dpkg-query -W -f='${Package}\n' | sort > "$work/packages-after.txt"
t2=$(date +%s)
echo "fresh_root: debootstrap $((t1 - t0)) s; quickstart steps $((t2 - t1)) s;" \
  "$(comm -13 "$work/packages-before.txt" "$work/packages-after.txt" | wc -l) packages added to the base system's $(wc -l < "$work/packages-before.txt")"
[ $status = 0 ] && echo "fresh_root: both README commands passed in a fresh Debian 12 root" ||
  echo "fresh_root: FAILED (logs in $work)"
exit $status
