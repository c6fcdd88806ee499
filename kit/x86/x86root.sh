#!/usr/bin/env bash
# x86root.sh - the 32-bit Wine root that runs Skeleton KMD's x86 images, and the only way in.
#
#   x86root.sh ensure ROOT                      make ROOT once (debootstrap i386 + wine32); idempotent
#   x86root.sh run ROOT [--share DIR]... -- CMD  run CMD (on the host's view) with ROOT/proc, ROOT/dev
#                                               and each DIR (at its own path) mounted into ROOT
#   x86root.sh delete PATH                      delete PATH (a root, or a tree holding one), never
#                                               through a mount
#   x86root.sh mounts PATH                      list every mount at or under PATH, any process's
#
# Why a root: the host stays amd64-only (adding i386 to it fails on this mirror's stale security
# index), and a separate Debian i386 minbase with wine32 gives a 32-bit Wine 8 in about a minute.
#
# Why a private mount namespace: every mount `run` makes (and debootstrap's own /proc, /sys) lives
# in an `unshare --mount` namespace that dies with the command. The host never sees them, so no
# `rm -rf` from the host can walk through a bind-mounted /dev into the host's device nodes, and a
# crash, a SIGKILL or Ctrl-C cannot leave a mount behind. The trap still unmounts on every exit.
# `delete` nonetheless refuses a tree with any mount in it (any process's /proc/PID/mountinfo) or
# with a `run` in progress (the shared lock on ROOT.lock), and removes with --one-file-system.
set -euo pipefail

STAMP=.skeleton-x86root-ready
SUITE=bookworm
die() { echo "x86root: $*" >&2; exit 1; }

abspath() { realpath -m -- "$1"; }

# Every mount point at or under $1, as seen by any process on the machine (a mount made in another
# namespace is invisible to /proc/self/mountinfo but still shows in that process's mountinfo).
mounts_under() {
  local root; root=$(abspath "$1")
  # Field 5 is the mount point; octal escapes (\040 for space) are left as they are.
  # (A process may end between the glob and the read: cat then fails for it, which is fine.)
  { cat /proc/self/mountinfo /proc/[0-9]*/mountinfo 2>/dev/null || true; } \
    | awk -v r="$root" '$5 == r || index($5, r "/") == 1 { print $5 }' | sort -u
}

# The Debian mirror the host's apt uses (deb822 *.sources or one-line *.list), security suites aside.
host_mirror() {
  local f uri
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { if ($i !~ /security/) { print $i; exit } ; break } }' "$f")
    [ -n "$uri" ] && { echo "$uri"; return; }
  done
  die "no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/"
}

safe_delete() {
  local target; target=$(abspath "$1")
  [ -e "$target" ] || return 0
  case "$target" in /|/dev|/dev/*|/proc|/proc/*|/sys|/sys/*) die "refusing to delete $target" ;; esac
  local m; m=$(mounts_under "$target")
  [ -z "$m" ] || die "refusing to delete $target: something is mounted inside it:
$m
(unmount it first, e.g. umount -R <path>)"
  # A `run` holds ROOT.lock shared; any root inside target with a run in progress stays.
  local lock
  while IFS= read -r -d '' lock; do
    exec {fd}<"$lock"
    flock -n -x "$fd" || die "refusing to delete $target: ${lock%.lock} is in use by a running x86root.sh run"
    exec {fd}<&-
  done < <(find "$target" -maxdepth 2 -name '*.lock' -print0 2>/dev/null; [ -f "$target.lock" ] && printf '%s\0' "$target.lock")
  rm -rf --one-file-system -- "$target"
  [ ! -e "$target" ] || die "could not delete all of $target"
}

make_root() {
  local root staging mirror log
  root=$(abspath "$1"); staging="$root.staging"; log="$root.log"
  mkdir -p "$(dirname "$root")"
  exec {lockfd}>"$root.lock"
  flock -x "$lockfd"                       # concurrent callers wait for the first
  if [ -f "$root/$STAMP" ]; then echo "$root"; return 0; fi
  command -v debootstrap >/dev/null || die "debootstrap is not installed (tools/bootstrap.sh installs it)"
  [ "$(id -u)" -eq 0 ] || die "making the x86 root needs root (debootstrap, chroot)"
  mirror=$(host_mirror)
  echo "x86root: making the 32-bit Wine root $root from $mirror (about a minute; log: $log)" >&2
  safe_delete "$staging"
  [ ! -e "$root" ] || safe_delete "$root"  # a root without its stamp is a half-made one
  # Both steps in a private mount namespace: debootstrap's and apt's /proc never reach the host.
  if ! unshare --mount --propagation private -- bash -euo pipefail -c '
      staging=$1 mirror=$2 suite=$3
      debootstrap --arch=i386 --variant=minbase "$suite" "$staging" "$mirror"
      printf "deb %s %s main\ndeb %s %s-updates main\n" "$mirror" "$suite" "$mirror" "$suite" > "$staging/etc/apt/sources.list"
      mount -t proc proc "$staging/proc"
      mount --rbind /dev "$staging/dev"
      trap "umount -R \"$staging/dev\" \"$staging/proc\" 2>/dev/null || true" EXIT
      # One failing index must not stop the install; --no-remove: apt never uninstalls to fit.
      chroot "$staging" apt-get update -q || echo "x86root: apt-get update reported errors; continuing"
      DEBIAN_FRONTEND=noninteractive chroot "$staging" apt-get install -y -q --no-install-recommends --no-remove wine wine32
      chroot "$staging" apt-get clean
      chroot "$staging" test -x /usr/lib/wine/wine
    ' x86root "$staging" "$mirror" "$SUITE" >"$log" 2>&1; then
    tail -n 15 "$log" >&2
    die "could not make the 32-bit Wine root (needs root, network access to $mirror and debootstrap); full log: $log"
  fi
  echo "made by kit/x86/x86root.sh from $mirror" > "$staging/$STAMP"
  mv -T "$staging" "$root"
  echo "$root"
}

run_in() {
  local root; root=$(abspath "$1"); shift
  local shares=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --share) shares+=("$(abspath "$2")"); shift 2 ;;
      --) shift; break ;;
      *) die "run: unexpected $1 (usage: run ROOT [--share DIR]... -- CMD...)" ;;
    esac
  done
  [ $# -gt 0 ] || die "run: no command"
  [ -f "$root/$STAMP" ] || die "no x86 root at $root (x86root.sh ensure $root)"
  : >> "$root.lock"
  exec {lockfd}<"$root.lock"
  flock -s "$lockfd"                       # held while CMD runs: `delete` refuses meanwhile
  # --fork: unshare stays the parent and passes the command's exit status on. The inner shell
  # traps EXIT/INT/TERM to unmount; the namespace's end removes anything the trap could not.
  unshare --mount --propagation private --fork -- bash -euo pipefail -c '
    root=$1; shift
    shares=()
    while [ "$1" != "--" ]; do shares+=("$1"); shift; done; shift
    mounted=()
    cleanup() {
      local i
      for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -R -l "${mounted[i]}" 2>/dev/null || true; done
    }
    trap cleanup EXIT
    trap "exit 130" INT
    trap "exit 143" TERM
    mount -t proc proc "$root/proc"; mounted+=("$root/proc")
    mount --rbind /dev "$root/dev"; mounted+=("$root/dev")
    for s in "${shares[@]}"; do
      mkdir -p "$root$s"
      mount --bind "$s" "$root$s"; mounted+=("$root$s")
    done
    export KMD_WINE_ROOT="$root"
    "$@"
  ' x86root "$root" "${shares[@]}" -- "$@"
}

verb=${1:-}; shift || true
case "$verb" in
  ensure) [ $# -eq 1 ] || die "usage: ensure ROOT"; make_root "$1" ;;
  run) [ $# -ge 1 ] || die "usage: run ROOT [--share DIR]... -- CMD..."; run_in "$@" ;;
  delete) [ $# -eq 1 ] || die "usage: delete PATH"; safe_delete "$1" ;;
  mounts) [ $# -eq 1 ] || die "usage: mounts PATH"; mounts_under "$1" ;;
  *) die "usage: x86root.sh ensure|run|delete|mounts ..." ;;
esac
