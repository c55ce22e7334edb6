#!/bin/sh
# validate: good templates pass without any cloud; broken ones fail with
# file:line:col. Plus usage errors and help.
STACK=lt-validate
. "$(dirname "$0")/lib.sh"
preflight

# validate must not touch the cloud: point LXD somewhere that is not there.
nolxd() { RUN_ENV=LXD_SOCKET=/nonexistent/lxd.socket; "$@"; RUN_ENV=; }

nolxd run validate "$TPL/basic.json"
expect_rc "validate of a good template (no LXD needed)" 0
check "validate says valid (not invalid), with the stack and resource count" \
  grep -Eq 'basic\.json: valid \(stack lt-basic, 4 resources\)$' "$TMP/out"
nolxd run validate -t "$TPL/basic.json" --var replicas=5 --json
check "validate --json parses and reports 6 resources" \
  jqt '.valid == true and .resources == 6' "$TMP/out"
for t in "$TOP"/templates/*.json; do
  # The node template's required params are set by drover slurm resume.
  case $(basename "$t") in
    slurm-cloud-nodes.json) nolxd run validate --var node=cloud1 --var slurmd_port=17001 "$t" ;;
    slurm-cloud-nodes-aws.json) nolxd run validate --var node=cloud1 "$t" ;;
    *) nolxd run validate "$t" ;;
  esac
  expect_rc "validate of the shipped $(basename "$t")" 0
done

nolxd run validate "$TPL/broken-syntax.json"
expect_rc "validate rejects a JSON syntax error" 1
check "the error is broken-syntax.json:5:COL: ..." \
  grep -Eq 'broken-syntax\.json:5:[0-9]+: ' "$TMP/err"
nolxd run validate "$TPL/broken-key.json"
expect_rc "validate rejects an unknown key" 1
check "the error is broken-key.json:7:7: and names the key" \
  grep -Eq 'broken-key\.json:7:7: .*propertes' "$TMP/err"
check "it suggests 'properties'" grep -q 'properties' "$TMP/err"
nolxd run validate "$TPL/broken-ref.json"
expect_rc "validate rejects a reference to an undeclared param" 1
check "the error is broken-ref.json:7:COL: and names the param" \
  grep -Eq 'broken-ref\.json:7:[0-9]+: .*nope' "$TMP/err"
nolxd run validate "$TPL/broken-key.json" --json
check "validate --json of a broken template parses with line 7" \
  jqt '.valid == false and .error.line == 7' "$TMP/out"
nolxd run validate "$TPL/no-such-file.json"
expect_rc "validate of a missing file" 1

nolxd run validate "$TPL/basic.json" --var replicas=abc
expect_rc "a non-integer --var is rejected" 1
check "the error names the param" grep -q 'replicas' "$TMP/err"
nolxd run validate "$TPL/basic.json" --var replicas=99
expect_rc "a --var above max is rejected" 1
nolxd run validate "$TPL/basic.json" --var replcas=2
expect_rc "an undeclared --var is rejected" 1
check "with a did-you-mean" grep -q 'replicas' "$TMP/err"
echo '{"replicas": 4}' >"$TMP/vars.json"
nolxd run validate "$TPL/basic.json" --var-file "$TMP/vars.json" --json
check "--var-file sets a typed param" jqt '.resources == 5' "$TMP/out"
nolxd run validate "$TPL/basic.json" --var-file "$TMP/vars.json" --var replicas=1 --json
check "--var wins over --var-file" jqt '.resources == 2' "$TMP/out"

run --no-such-option
expect_rc "an unknown option is an error" 1
run frobnicate
expect_rc "an unknown command is an error" 1
run validate
expect_rc "validate without a template is an error" 1
run help
expect_rc "help" 0
check "help lists every command" sh -c 'for c in validate plan apply destroy show output graph gc version help; do
  grep -Eq "^  $c +[a-z]" "$1" || exit 1; done' sh "$TMP/out"
check "help lists the exit codes" grep -q '^Exit codes: 0 success, 1 error' "$TMP/out"
for c in validate plan apply destroy show output graph version; do
  run "$c" --help
  expect_rc "$c --help" 0
  check "$c --help prints $c's usage" grep -q "^Usage: drover $c " "$TMP/out"
done
run apply --help
check "apply --help documents --parallelism and --auto-approve/--yes" \
  sh -c 'grep -q -- "--parallelism" "$1" && grep -q -- "--yes" "$1"' sh "$TMP/out"
run help apply
check "help apply prints apply's usage" grep -q 'Usage: drover apply' "$TMP/out"
run version
check "version prints drover and the version" grep -Eq '^drover [0-9]+\.[0-9]+' "$TMP/out"
run plan "$TPL/basic.json" --parallelism 3
expect_rc "an option of another command (plan --parallelism) is an error" 1

finish
