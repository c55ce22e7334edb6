#!/bin/sh
# build_copy.sh - scripts/build.sh's copy build (-B DIR next to an in-tree
# build) keeps a reused copy in step with the source tree: a file deleted
# from the source is deleted from the copy, while the build's outputs and
# other files the script never copied stay. A fake project stands in for
# drover (its configure writes a one-rule Makefile), so nothing real is
# built. The control: the first run's copy holds the file and builds from
# it, so its absence after the second run is the deletion's doing.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
fail() { echo "build_copy: FAIL: $*"; exit 1; }
src=$tmp/src
copy=$tmp/b/src

mkdir -p "$src/scripts" "$src/lib"
cp "$here/../scripts/build.sh" "$src/scripts/build.sh"
# configure: a config.status that answers --config with the arguments,
# and a Makefile whose rule builds an output from every lib/*.c.
cat >"$src/configure" <<'EOS'
#!/bin/sh
printf '#!/bin/sh\necho "%s"\n' "$*" >config.status
chmod +x config.status
printf 'all:\n\tcat lib/*.c >built.out\n' >Makefile
EOS
chmod +x "$src/configure"
: >"$src/Makefile.in"
echo a >"$src/lib/a.c"
echo b >"$src/lib/b.c"
printf 'config.status\nMakefile\nbuilt.out\n' >"$src/.gitignore"
(cd "$src" && git init -q && git add . &&
  git -c user.name=t -c user.email=t@example.invalid commit -qm init) ||
  fail "cannot make the fake project's git repository"
# Configured in-tree, so that -B makes a copy.
(cd "$src" && ./configure)

run() {
  sh "$src/scripts/build.sh" -B "$tmp/b" -j1 >"$tmp/log" 2>&1 ||
    { sed 's/^/  /' "$tmp/log"; fail "build.sh failed ($1)"; }
}

run first
[ -f "$copy/configure" ] || fail "no copy made in $copy"
[ -f "$copy/lib/b.c" ] || fail "control: lib/b.c is not in the copy"
[ "$(cat "$copy/built.out")" = "$(printf 'a\nb')" ] ||
  fail "control: the first build did not use lib/b.c"
echo x >"$copy/lib/extra.o"  # an output the build made among the sources

(cd "$src" && git rm -q lib/b.c)
run again
[ ! -e "$copy/lib/b.c" ] || fail "lib/b.c, deleted from the source, is still in the copy"
[ "$(cat "$copy/built.out")" = a ] || fail "the second build still used lib/b.c"
[ -f "$copy/lib/a.c" ] || fail "lib/a.c went from the copy"
for f in lib/extra.o built.out Makefile config.status; do
  [ -f "$copy/$f" ] || fail "$f, which build.sh did not copy, was deleted"
done
echo "build_copy: ok: a reused copy drops a file deleted from the source and keeps build outputs"
