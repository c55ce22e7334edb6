# jq.sh - jqt, the one JSON check the shell tests use (sourced by
# tests/live/lib.sh, tests/live/templates.sh, tests/slurm/lib.sh,
# tests/slurm-cloud/lib.sh and tests/aws/run.sh).
#
# jqt [JQ-OPTIONS] FILTER [FILE...]: true when jq parses the input and the
# filter's last value is neither false nor null. jq -e alone exits 0 on
# empty input, so a check of output that was never written would pass:
# jqt also requires that the filter printed something.
jqt() {
  _jqt_out=$(jq -e "$@" 2>/dev/null) || return 1
  [ -n "$_jqt_out" ]
}
