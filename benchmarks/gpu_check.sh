#!/usr/bin/env bash
# The ready GPU check (at most 8 minutes on one GPU): the paper-shaped study on the device,
# then the generation and training throughput benchmarks at the paper's settings, then the
# effect of each generation lever (fp16 weight variant, channels-last, torch.compile, batch
# size). The steps' time limits add up to 8 minutes; the levers come last, and a levers step
# that runs out of time is reported, not fatal.
#
#   benchmarks/gpu_check.sh OUT [--device cuda|cpu] [--quick]
#
# OUT receives env.txt, study.log (and the study's working folder), devices.txt (the device
# each GPU rule's log names) and the benchmarks' tables. --quick is the CPU dry mode that CI
# runs: the study as a dry run (-n) and the benchmarks at toy sizes, so every command is checked
# in seconds.
set -euo pipefail

usage() { echo "usage: $0 OUT [--device cuda|cpu] [--quick]" >&2; exit 2; }
[ $# -ge 1 ] || usage
out=$1
shift
device=cuda
quick=0
while [ $# -gt 0 ]; do
  case $1 in
    --device) device=${2:?}; shift 2 ;;
    --quick) quick=1; shift ;;
    *) usage ;;
  esac
done

repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$repo"
python=${PYTHON:-python}
started=$(date +%s)
step() { echo "[gpu_check $(( $(date +%s) - started )) s] $*" | tee -a "$out/steps.txt"; }

step "environment"
{
  date -u
  git -C "$repo" rev-parse HEAD 2>/dev/null || true
  nvidia-smi 2>/dev/null || echo "nvidia-smi: not found"
  "$python" -c "import torch, diffusers; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'available', torch.cuda.is_available(), 'diffusers', diffusers.__version__)"
} > "$out/env.txt" 2>&1

step "paper-shaped study on $device"
mapfile -t configs < <("$python" tests/paper_study.py "$out/study_build")
[ "${#configs[@]}" = 3 ] || { echo "tests/paper_study.py did not build the study" >&2; exit 1; }
mkdir -p "$out/study"
dry=()
[ "$quick" = 1 ] && dry=(-n)
timeout 150 "$python" -m snakemake -s "$repo/workflow/Snakefile" --directory "$out/study" \
  --configfile "${configs[@]}" \
  --config device="$device" --cores all "${dry[@]}" > "$out/study.log" 2>&1
if [ "$quick" = 0 ]; then
  # rule (cdga.layout.log: results/logs/<rule>[/<wildcards>].log) and the device its jobs
  # computed on, counted (cdga.device logs it)
  grep -r "cdga.device: device:" "$out/study/results/logs" \
    | sed -E 's#^.*/results/logs/([^/.:]+)[/.].*cdga\.device: device: ([^ ]+).*#\1 \2#' \
    | sort | uniq -c > "$out/devices.txt"
fi

# The benchmarks pick CUDA when they see it: --device cpu hides the GPUs from them.
[ "$device" = cpu ] && export CUDA_VISIBLE_DEVICES=""

# --quick swaps in the demo LDM and the small CNN: the same scripts and code paths, seconds on a CPU.
# One round of the generation paths (--repeats 1) fits the 8 minutes; the CPU file has three.
step "generation throughput"
if [ "$quick" = 1 ]; then
  arch=demo
  gen=(--images 4 --naive-images 2 --steps 2)
  levers=(--no-compile)  # compiling even the demo UNet takes minutes on a CPU; tests cover the path
else
  arch=sd15
  gen=(--images 32 --naive-images 4)
  levers=()
fi
timeout 120 "$python" benchmarks/generation_throughput.py --arch "$arch" "${gen[@]}" --repeats 1 \
  --out "$out/generation_throughput_${arch}_$device.txt"

step "training throughput"
if [ "$quick" = 1 ]; then
  train=(--backbone small_cnn --resolution 16 --steps 2 --images-per-domain 8 --workers 1)
else
  train=(--steps 40)
fi
timeout 90 "$python" benchmarks/training_throughput.py "${train[@]}" \
  --out "$out/training_throughput_$device.txt"

step "generation levers"
timeout 120 "$python" benchmarks/generation_throughput.py --arch "$arch" "${gen[@]}" --levers "${levers[@]}" \
  --out "$out/generation_levers_${arch}_$device.txt" || step "generation levers: stopped (exit $?)"
step "done"
