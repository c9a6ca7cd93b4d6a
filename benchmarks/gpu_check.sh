#!/usr/bin/env bash
# The ready GPU check (at most 8 minutes on one GPU). Its steps, each with its own time limit
# (they add up to 480 s), sized from the H200 timings of 2026-12-04
# (benchmarks/results/2026-12-04-h200: sd15 at 4.3 images/s eager, 6.1 compiled, first
# compile 42 s; the study 84 s; the old 40-step x 512-image training step did not fit in 80 s):
#   1. generation throughput at the paper's settings with the chosen combination (the config's
#      defaults: UNet compiled on CUDA, padded last batch, uint8 decoding on the device, the
#      sync-free scheduler step, writer pool from the node's cores): pipeline only, end to end
#      (overlapped, serial), naive, the UNet's TFLOP/s share; its compile fills the persistent
#      cache OUT/compile_cache;
#   2. the eager levers, each alone: fp16 weights, channels-last, SDPA backends, float output
#      copied against uint8 decoding on the device, host syncs per call (one-image calls, with
#      diffusers' scheduler step and the sync-free one) and the sync-free step's rate (its
#      limit stays 80 s; the added timed batch and warm-up take about 8 s at 4.3 images/s);
#   3. training throughput: end to end and loader only, JPEGs decoded by the workers and on the
#      device (training.decode, --decode both), and compute only (config loader settings);
#   4. the compile levers, each alone: UNet (from the warm cache), UNet channels-last, UNet +
#      VAE, mode reduce-overhead (CUDA graphs), each with its first call and grey-level distance;
#   5. the paper-shaped study on the device (the device each GPU rule's log names).
# Steps 2-5 write what they measured before a time limit stops them; a stopped step is
# reported in steps.txt, not fatal.
#
#   benchmarks/gpu_check.sh OUT [--device cuda|cpu] [--quick]
#
# OUT receives env.txt, steps.txt, the benchmarks' tables, study.log (and the study's working
# folder) and devices.txt. --quick is the CPU mode that CI runs: the study as a dry run (-n),
# the demo LDM and the small CNN at toy sizes, and torch.compile through Dynamo's trace with
# the 'eager' backend (Inductor's code generation takes minutes on a CPU), so every lever's
# code path runs in a few minutes.
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
  nproc
  "$python" -c "import torch, diffusers; print('torch', torch.__version__, 'cuda', torch.version.cuda,
'available', torch.cuda.is_available(), 'diffusers', diffusers.__version__)"
} > "$out/env.txt" 2>&1

# The study builds its configs before the benchmarks hide the GPUs.
mapfile -t configs < <("$python" tests/paper_study.py "$out/study_build")
[ "${#configs[@]}" = 3 ] || { echo "tests/paper_study.py did not build the study" >&2; exit 1; }

# --quick swaps in the demo LDM and the small CNN: the same scripts and code paths, seconds on a CPU.
cache=(--compile-cache "$out/compile_cache")  # shared by the steps: step 4's UNet compile loads it
if [ "$quick" = 1 ]; then
  arch=demo
  gen=(--images 3 --batch-size 2 --steps 2 --compile-backend eager)  # 2 + 1 padded: one shape
  throughput=(--naive-images 1 --compile on --sync-free-steps on)  # the CUDA combination
  eager=(--attention math,flash,cudnn)
  compiled=(--levers compile_vae)  # UNet + VAE: the compile path; modes only matter to Inductor
  train=(--backbone small_cnn --resolution 16 --steps 2 --images-per-domain 8 --workers 1 --decode both)
else
  arch=sd15
  gen=(--images 16)
  throughput=(--images 32 --naive-images 2)
  eager=(--attention flash,cudnn)
  compiled=(--levers compile,compile_vae,compile_mode --compile-modes reduce-overhead)
  train=(--steps 20 --images-per-domain 64 --decode both)  # the second decode: 22 more steps, ~2 s at 2,000 images/s
fi
# The limits are the GPU run's budget; --quick checks code paths on a shared CPU, not timings.
slack=1
[ "$quick" = 1 ] && slack=4
bench() { # name, limit in seconds on the GPU, command...
  local name=$1 limit=$(( $2 * slack ))
  shift 2
  step "$name"
  timeout "$limit" "$@" || step "$name: stopped (exit $?)"
}
(
  # The benchmarks pick CUDA when they see it: --device cpu hides the GPUs from them.
  [ "$device" = cpu ] && export CUDA_VISIBLE_DEVICES=""
  bench "generation throughput" 110 "$python" benchmarks/generation_throughput.py --arch "$arch" "${gen[@]}" \
    "${throughput[@]}" "${cache[@]}" --repeats 1 --out "$out/generation_throughput_${arch}_$device.txt"
  bench "generation levers (eager)" 80 "$python" benchmarks/generation_throughput.py --arch "$arch" "${gen[@]}" \
    --levers weights,memory_format,attention,decode,syncs "${eager[@]}" --out "$out/generation_levers_${arch}_$device.txt"
  bench "training throughput" 50 "$python" benchmarks/training_throughput.py "${train[@]}" \
    --out "$out/training_throughput_$device.txt"
  bench "generation levers (compile)" 150 "$python" benchmarks/generation_throughput.py --arch "$arch" "${gen[@]}" \
    "${compiled[@]}" "${cache[@]}" --out "$out/generation_compile_${arch}_$device.txt"
)

step "paper-shaped study on $device"
mkdir -p "$out/study"
dry=()
[ "$quick" = 1 ] && dry=(-n)
timeout $(( 80 * slack )) "$python" -m snakemake -s "$repo/workflow/Snakefile" --directory "$out/study" \
  --configfile "${configs[@]}" \
  --config device="$device" --cores all "${dry[@]}" > "$out/study.log" 2>&1 || step "study: stopped (exit $?)"
if [ "$quick" = 0 ]; then
  benchmarks/devices.sh "$out/study/results/logs" > "$out/devices.txt" || true
fi
step "done"
