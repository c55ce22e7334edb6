#!/bin/sh
# tests/mutants.sh - does the suite catch broken code? Applies small
# mutations (one sed expression on one file) to a copy of the tree, one
# at a time, rebuilds, runs the suites named for that mutation, and
# reports which mutations the suites caught. Not run in CI (it rebuilds
# once per mutation); the last result is in the README's test section.
#
# usage: tests/mutants.sh [--list] [--keep] [NAME...]   (default: all)
#
# A mutation is caught when one of its suites fails. A mutation whose sed
# expression no longer changes its file (the code moved on) or whose
# mutant does not build is reported as INVALID: fix the list. Suites:
#   unit[:prog,prog]  make check (or only tests/check_<prog>)
#   lxd               make live-lxd (the provider on the real LXD)
#   live:t_a,t_b      tests/live/run.sh t_a t_b on the real LXD
# Live suites run under flock /tmp/drover-live.lock, like every test that
# talks to the shared LXD. Exit status: 0 when every mutation is caught.
set -u

SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/drover-mutants.XXXXXX")
T=$WORK/src
LOG=$WORK/log
JOBS=${JOBS:-2}
keep=0 list=0
sel=""
for a in "$@"; do
  case $a in
    --list) list=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) sel="$sel $a" ;;
  esac
done

caught=0 missed=0 invalid=0
missed_names="" invalid_names=""

# mut NAME FILE SED-EXPRESSION SUITE...
# Every mutation of the list, in the order given.
mutations() {
  # ---- the issue's cases -------------------------------------------------
  mut plan-missing-prop plugin/lib/plan.c \
    's/      differs = !prop_equal(p, want, have);/      differs = have \&\& !prop_equal(p, want, have);/' \
    unit:check_plan,check_faults
  mut http-refused-not-retried plugin/lib/http.c \
    '/^  case CURLE_COULDNT_CONNECT:$/d' unit:check_http
  mut http-timeout-not-retried plugin/lib/http.c \
    '/^  case CURLE_OPERATION_TIMEDOUT:$/d' unit:check_http
  mut http-reset-not-retried plugin/lib/http.c \
    '/^  case CURLE_RECV_ERROR:$/d' unit:check_http
  mut http-empty-reply-not-retried plugin/lib/http.c \
    '/^  case CURLE_GOT_NOTHING:$/d' unit:check_http
  mut apply-no-build-order plugin/lib/apply.c \
    's/      if(bb\[x\] != NONE \&\& add_edge(r, bb\[x\], i))/      if(0)/' unit:check_apply,check_faults
  mut apply-no-transient-retry plugin/lib/apply.c \
    's/if((rc != DROVER_E_TRANSIENT && rc != DROVER_E_TIMEOUT) ||/if(1 ||/' unit:check_apply,check_faults
  mut apply-no-delete-type-order plugin/lib/apply.c \
    's/    if(lo > 0 \&\& add_edge(r, lv\[lo - 1\], n))/    if(0)/' unit:check_apply,check_faults
  # ---- plan ----------------------------------------------------------------
  mut plan-ignore-changes-ignored plugin/lib/plan.c \
    's/if(ignored(b, p->name))/if(0)/' unit:check_plan,check_faults live:t_lifecycle
  mut plan-force-new-as-update plugin/lib/plan.c \
    's/^      \*force = 1;/      *force = 0;/' unit:check_plan,check_apply
  mut plan-no-prevent-destroy plugin/lib/plan.c \
    's/if(b && (b->lifecycle & DV_LC_PREVENT_DESTROY))/if(0)/' unit:check_plan live:t_lifecycle
  # ---- apply ---------------------------------------------------------------
  mut apply-one-retry-too-many plugin/lib/apply.c \
    's/attempt >= r->max_retries/attempt > r->max_retries/' unit:check_apply,check_faults
  mut apply-cancel-ignored plugin/lib/apply.c \
    's/return r->opts->cancel && /return 0 \&\& r->opts->cancel \&\& /' unit:check_apply
  mut apply-cbd-ignored plugin/lib/apply.c \
    's/cbd = nd->block && (nd->block->lifecycle & DV_LC_CREATE_BEFORE_DESTROY);/cbd = 0;/' \
    unit:check_apply live:t_lifecycle
  mut apply-no-orphan-name-edge plugin/lib/apply.c \
    's/      if(add_edge(r, i, builds\[j\]\.node))/      if(0)/' unit:check_apply
  # ---- refresh -------------------------------------------------------------
  mut refresh-orphans-dropped plugin/lib/refresh.c \
    '/^  if(!hit)$/{n;s/return add_orphan(stack, live, type, err);/{ drover_live_free(live); return DROVER_OK; }/;}' \
    unit:check_plan,check_apply
  mut refresh-type-mismatch-adopted plugin/lib/refresh.c \
    's/if(inst_block(stack, inst)->rtype != type)/if(0)/' unit:check_plan,check_apply,check_faults
  # ---- http ----------------------------------------------------------------
  mut http-5xx-not-retried plugin/lib/http.c \
    's/oc = (a.status == 429 || (a.status >= 500 \&\& a.status != 501 \&\& a.status != 505))/oc = (a.status == 429)/' \
    unit:check_http
  mut http-retry-after-ignored plugin/lib/backoff.c \
    's/  if(retry_after >= 0)$/  if(0)/' unit:check_http,check_backoff
  mut http-budget-unlimited plugin/lib/backoff.c \
    's/  while(n < budget) {/  while(1) {/' unit:check_http,check_backoff
  # ---- template ------------------------------------------------------------
  mut template-duplicate-keys plugin/lib/template.c \
    's/json_loadb(tpl->text, len, JSON_REJECT_DUPLICATES, &je)/json_loadb(tpl->text, len, 0, \&je)/' \
    unit:check_template
  mut template-number-max-unchecked plugin/lib/template.c \
    's/if(p->has_max && d > p->max) {/if(0) {/' unit:check_template
  # ---- the LXD provider --------------------------------------------------------
  mut lxd-delete-without-stop providers/lxd/lxd_instance.c \
    's/if(status && strcmp(status, "Stopped")) {/if(0) {/' lxd live:t_apply
  mut lxd-adopt-foreign providers/lxd/lxd_instance.c \
    's/if(!lxd_owned_at(obj, req->stack, req->address)) {/if(0) {/' lxd
  mut lxd-no-stack-label providers/lxd/lxd_object.c \
    's/if((req->stack && lxd_set(cfg, LXD_LABEL(DROVER_LABEL_STACK)/if((0 \&\& lxd_set(cfg, LXD_LABEL(DROVER_LABEL_STACK)/' \
    live:t_apply
  mut lxd-exists-not-recognised providers/lxd/lxd_api.c \
    's/if((allow & LXD_ALLOW_EXISTS) && resp.status >= 400 && says_exists(resp.status, msg)) {/if(0) {/' \
    lxd
}

wanted() {
  [ -z "$sel" ] && return 0
  case " $sel " in *" $1 "*) return 0 ;; esac
  return 1
}

# run_suite SUITE: 0 when the suite passes on the current build.
run_suite() {
  case $1 in
    unit) make -C "$T" -j"$JOBS" check >>"$LOG" 2>&1 ;;
    unit:*)
      progs=""
      for p in $(echo "${1#unit:}" | tr ',' ' '); do progs="$progs tests/$p"; done
      make -C "$T" -j"$JOBS" check TESTS="$progs" >>"$LOG" 2>&1 ;;
    lxd) flock /tmp/drover-live.lock make -C "$T" live-lxd >>"$LOG" 2>&1 ;;
    live:*)
      flock /tmp/drover-live.lock env DROVER="$T/drover" \
        sh "$T/tests/live/run.sh" $(echo "${1#live:}" | tr ',' ' ') >>"$LOG" 2>&1 ;;
    *) echo "mutants: unknown suite $1" >&2; return 2 ;;
  esac
}

collect=0 needed=""
mut() {
  name=$1 file=$2 expr=$3; shift 3
  if [ $list = 1 ]; then echo "$name  $file  ($*)"; return; fi
  wanted "$name" || return 0
  if [ $collect = 1 ]; then
    for s in "$@"; do case " $needed " in *" $s "*) ;; *) needed="$needed $s" ;; esac; done
    return
  fi
  cp "$T/$file" "$WORK/orig"
  sed -i -e "$expr" "$T/$file"
  if cmp -s "$T/$file" "$WORK/orig"; then
    echo "INVALID $name: the expression no longer changes $file"
    invalid=$((invalid + 1)); invalid_names="$invalid_names $name"
    return
  fi
  echo "==== $name" >>"$LOG"
  if ! make -C "$T" -j"$JOBS" >>"$LOG" 2>&1; then
    echo "INVALID $name: the mutant does not build (see $LOG)"
    invalid=$((invalid + 1)); invalid_names="$invalid_names $name"
  else
    by=""
    for s in "$@"; do
      if ! run_suite "$s"; then by=$s; break; fi
    done
    if [ -n "$by" ]; then
      echo "CAUGHT  $name (by $by)"; caught=$((caught + 1))
    else
      echo "MISSED  $name (suites: $*)"; missed=$((missed + 1)); missed_names="$missed_names $name"
    fi
  fi
  cp "$WORK/orig" "$T/$file"
}

if [ $list = 1 ]; then mutations; rm -rf "$WORK"; exit 0; fi

# The copy: what git knows of the working tree (tracked, and untracked
# files that are not ignored), built without -Werror so that a mutant
# fails only on what it breaks.
mkdir -p "$T"
(cd "$SRC" && git ls-files --cached --others --exclude-standard | while IFS= read -r f; do
   [ -e "$f" ] && printf '%s\n' "$f"; done) >"$WORK/files"
(cd "$SRC" && tar -cf - -T "$WORK/files") | (cd "$T" && tar -xpf -) || { echo "mutants: copy failed"; exit 2; }
echo "mutants: building a copy in $T (log: $LOG)"
if ! (cd "$T" && ./autogen.sh && ./configure && make -j"$JOBS") >"$LOG" 2>&1; then
  echo "mutants: the unmutated copy does not build; see $LOG"; exit 2
fi
# The unmutated tree must pass every suite the selected mutations use, or
# a "caught" would mean nothing.
collect=1; mutations; collect=0
for s in $needed; do
  if ! run_suite "$s"; then echo "mutants: suite $s fails without any mutation; see $LOG"; exit 2; fi
done

mutations

echo "mutants: $caught caught, $missed missed, $invalid invalid"
[ -n "$missed_names" ] && echo "missed:$missed_names"
[ -n "$invalid_names" ] && echo "invalid:$invalid_names"
if [ $keep = 1 ]; then echo "mutants: kept $WORK"; else rm -rf "$WORK"; fi
[ $missed -eq 0 ] && [ $invalid -eq 0 ]
