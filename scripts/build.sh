#!/bin/sh
# build.sh - autogen + configure + make, idempotently.
#
# Usage: scripts/build.sh [-B BUILDDIR] [-j N | -jN] [CONFIGURE-ARG...]
#
#   BUILDDIR  default: the source tree (an in-tree build, so ./drover exists
#             at the top of the clone). Any other directory gets a separate
#             build: a VPATH build when the source tree is not configured
#             in-tree, otherwise (automake refuses VPATH next to an in-tree
#             build) a private copy of the sources in BUILDDIR/src, which
#             a later run brings up to date (files deleted from the source
#             tree are deleted from the copy too).
#   CONFIGURE-ARG  default: --enable-werror. Passed to configure as given.
#   CC, CFLAGS     taken from the environment, as configure does.
#
# Re-running does only what is needed: autogen when configure is missing,
# configure when the build is unconfigured or its arguments/CC changed, then
# make. Prints the directory the build lives in as its last line:
#   build.sh: built in DIR
set -eu

srcdir=$(cd "$(dirname "$0")/.." && pwd)
builddir=$srcdir
jobs=$(nproc 2>/dev/null || echo 2)

say() { printf 'build.sh: %s\n' "$*"; }
die() { printf 'build.sh: error: %s\n' "$*" >&2; exit 1; }

while [ $# -gt 0 ]; do
  case $1 in
    -B) [ $# -ge 2 ] || die "-B needs a directory"; builddir=$2; shift 2 ;;
    -j) [ $# -ge 2 ] || die "-j needs a number"; jobs=$2; shift 2 ;;
    -j[0-9]*) jobs=${1#-j}; shift ;;
    -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ $# -gt 0 ] || set -- --enable-werror

mkdir -p "$builddir"
builddir=$(cd "$builddir" && pwd)

# Where configure runs (objdir) and where its sources are (tree).
tree=$srcdir
objdir=$builddir
if [ "$builddir" != "$srcdir" ] && [ -f "$srcdir/config.status" ]; then
  # Mirror the sources git knows about (tracked and untracked-not-ignored),
  # so generated files of the in-tree build never leak in.
  tree=$builddir/src
  objdir=$tree
  mkdir -p "$tree"
  say "source tree is configured in-tree; building a copy in $tree"
  list=$builddir/.files
  (cd "$srcdir" && git ls-files --cached --others --exclude-standard) |
    while IFS= read -r f; do [ -e "$srcdir/$f" ] && printf '%s\n' "$f"; done \
    >"$list.new" || true
  [ -s "$list.new" ] || die "no sources listed by git in $srcdir"
  # A source deleted since the last copy goes from the copy too, or the
  # copy would go on building (or testing) what the tree no longer has.
  # Only names the last run listed as copied are removed: never a build
  # output, which no list holds.
  if [ -f "$list" ]; then
    LC_ALL=C sort -u "$list" >"$list.was"
    LC_ALL=C sort -u "$list.new" >"$list.now"
    LC_ALL=C comm -23 "$list.was" "$list.now" >"$list.gone"
    while IFS= read -r f; do
      rm -f "$tree/$f" || die "cannot remove $f (deleted from $srcdir) from $tree"
    done <"$list.gone"
    rm -f "$list.was" "$list.now" "$list.gone"
  fi
  mv "$list.new" "$list"
  # Copy by content, not by time: a file whose text differs is written
  # anew and so is newer than anything built from its old text, whatever
  # the source's mtime (a checkout, merge or copy can give changed text an
  # older time than the copy's objects). Unchanged files keep their times,
  # so a reused copy rebuilds only what changed.
  # A copy made by an older build.sh (tar, keeping the sources' times) may
  # already hold stale objects beside the right text: copy all anew once.
  fresh=$builddir/.copied-by-content
  while IFS= read -r f; do
    [ -f "$fresh" ] && cmp -s "$srcdir/$f" "$tree/$f" && continue
    case $f in */*) mkdir -p "$tree/${f%/*}" || die "cannot make $tree/${f%/*}" ;; esac
    rm -f "$tree/$f" && cp "$srcdir/$f" "$tree/$f" || die "copying $f to $tree failed"
  done <"$list"
  : >"$fresh"
fi

# --- autogen -------------------------------------------------------------------
if [ ! -x "$tree/configure" ] || [ ! -f "$tree/Makefile.in" ]; then
  say "autogen ($tree)"
  (cd "$tree" && ./autogen.sh) || die "autogen.sh failed"
fi

# --- configure -----------------------------------------------------------------
# config.status remembers its arguments and precious variables (CC, CFLAGS
# set at configure time); reconfigure only when they differ from this call.
want="$*${CC:+ CC=$CC}${CFLAGS:+ CFLAGS=$CFLAGS}"
have=$(cd "$objdir" && ./config.status --config 2>/dev/null || true)
if [ ! -f "$objdir/Makefile" ] || [ "$have" != "$want" ]; then
  say "configure $want (in $objdir)"
  (cd "$objdir" && "$tree/configure" "$@") || die "configure failed; see $objdir/config.log"
else
  say "already configured: $want"
fi

# --- make ------------------------------------------------------------------------
say "make -j$jobs (in $objdir)"
make -C "$objdir" -j"$jobs" || die "make failed in $objdir"
say "built in $objdir"
