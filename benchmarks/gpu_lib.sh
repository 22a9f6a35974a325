# Shared by benchmarks/gpu.sh and benchmarks/gpu_train.sh (sourced, not run). Expects $repo; setup_run sets
# the rest.
#
# setup_run SCRIPT DEFAULT_OUT LOG_NAME ARGS...: parse --dry-run (or LFSDK_GPU_DRY_RUN=1), make $OUT (default
# DEFAULT_OUT) and set dry, out, log, py and work (a temporary folder outside the repo and $OUT) and site.
setup_run() {
  local name=$1 default_out=$2 log_name=$3 arg
  shift 3
  dry=${LFSDK_GPU_DRY_RUN:-}
  for arg in "$@"; do
    case $arg in
      --dry-run) dry=1 ;;
      *) echo "$name: unknown argument $arg (only --dry-run)" >&2; exit 2 ;;
    esac
  done
  out=${OUT:-$default_out}
  mkdir -p "$out" && out=$(cd "$out" && pwd) || { echo "$name: cannot write to $out" >&2; exit 2; }
  log=$out/$log_name
  py=${PYTHON:-python3}
  work=$(mktemp -d)
  site=$work/site
}

#
# lfsdk_site DIR: a folder to put first on PYTHONPATH that imports lfsdk the way setup.py installs it —
# lfsdk from lfsdk/, lfsdk.export from export/, lfsdk.kernels from kernels/ — through links, so nothing is
# installed, built or downloaded. Run Python from outside the repo with PYTHONSAFEPATH=1: then neither the
# working directory nor a script's folder can put the repo's own lfsdk/ (which lacks export/ and kernels/)
# ahead of it.
lfsdk_site() {
  local site=$1 f
  mkdir -p "$site/lfsdk"
  for f in "$repo"/lfsdk/*; do
    [ "$(basename "$f")" = __pycache__ ] || ln -s "$f" "$site/lfsdk/$(basename "$f")"
  done
  ln -s "$repo/export" "$site/lfsdk/export"
  ln -s "$repo/kernels" "$site/lfsdk/kernels"
}

say() { echo "$*" | tee -a "$log"; }

# step NAME SECONDS COMMAND...: run under `timeout` (SECONDS × $TIMEOUT_SCALE, default 1: a dry run on a
# loaded CPU gets more), output to the log and stdout, exit status to the log and to $work/steps ("name exit
# seconds"); never stops the calling script (there is no `set -e` to stop it). With STEPS="a b" set, only
# the steps named there run (a rerun of what failed, when device time is short).
step() {
  local name=$1 secs=$(($2 * ${TIMEOUT_SCALE:-1})) t0 rc
  shift 2
  if [ -n "${STEPS:-}" ] && [[ " $STEPS " != *" $name "* ]]; then
    say "=== $name: skipped (STEPS=$STEPS)"
    return 0
  fi
  t0=$(date +%s)
  say "=== $name (timeout ${secs}s): $*"
  timeout --kill-after=10 "$secs" "$@" 2>&1 | tee -a "$log"
  rc=${PIPESTATUS[0]}
  echo "$name $rc $(($(date +%s) - t0))" >>"$work/steps"
  say "=== $name: exit $rc after $(($(date +%s) - t0)) s$([ "$rc" = 124 ] && echo ' (timed out)')"
}
