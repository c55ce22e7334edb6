#!/bin/sh
# exports.sh - drover.so exports the SPANK symbols and nothing else
# (jansson's check-exports, for a plugin living inside slurmd). Needs no
# running Slurm.
. "$(dirname "$0")/lib.sh"

so=$DROVER_SO
[ -f "$so" ] || skip "no $so (build first)"
command -v nm >/dev/null || skip "nm not installed"

got=$(nm -D --defined-only "$so" | awk '{print $3}' | sort)
want=$(printf '%s\n' plugin_name plugin_type plugin_version spank_plugin_version \
  slurm_spank_init slurm_spank_job_prolog slurm_spank_job_epilog slurm_spank_task_init | sort)
if [ "$got" != "$want" ]; then
  printf 'want:\n%s\ngot:\n%s\n' "$want" "$got"
  fail "exports differ"
fi
# No drover_*/dv_*/dvs_* symbol may leak: they would collide with a
# second plugin linking libdrover in the same slurmstepd.
if nm -D --defined-only "$so" | grep -Eq ' (drover_|dv_|dvs_|json_|curl_)'; then
  fail "internal symbols exported"
fi
# drover.so is the libc-only shim loaded by every srun/sbatch/salloc,
# prolog/epilog and slurmstepd: the engine's libraries (libcurl and its
# dependency tree, jansson, libcrypto) must stay in the engine module,
# which the shim dlopen()s only for --drover jobs.
command -v readelf >/dev/null || skip "readelf not installed"
needed=$(readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
case " $needed" in
  *" libcurl"*|*" libjansson"*|*" libcrypto"*|*" libssl"*|*" libdrover"*)
    fail "drover.so needs engine libraries: $needed" ;;
esac
engine=$(dirname "$so")/drover_spank_engine.so
[ -f "$engine" ] || fail "no $engine next to $so"
got_e=$(nm -D --defined-only "$engine" | awk '{print $3}' | sort | tr '\n' ' ')
[ "$got_e" = "dvs_engine " ] || fail "engine exports differ: $got_e"
# The engine uses libdrover.so, not a private copy of the core: a provider
# module it loads links libdrover.so too, and both must see one secret
# list and one registry. So it needs libdrover and defines no engine code.
needed_e=$(readelf -d "$engine" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
case " $needed_e" in
  *" libdrover.so"*) ;;
  *) fail "engine does not link libdrover.so: $needed_e" ;;
esac
if nm --defined-only "$engine" 2>/dev/null | grep -Eq ' [Tt] (drover_stack_open|drover_error_set|dv_provider_find|dv_stack_eval_inst)$'; then
  fail "engine holds its own copy of the libdrover core"
fi
# plugin_type must be "spank" for the Slurm loader.
strings -a "$so" | grep -qx spank || fail "plugin_type string missing"
pass "$(echo $got); NEEDED: $needed"
