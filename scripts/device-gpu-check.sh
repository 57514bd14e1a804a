#!/usr/bin/env bash
# Issue 17's GPU check, run on the device machine from the repository root in one `run` call:
#   command: scripts/device-gpu-check.sh     carry: [".device-gpu"]     timeout_s: 480
# after scripts/device-gpu-pack.sh has prepared .device-gpu here. On the device it
#   1. unpacks Node.js 20, the built app and ONNX Runtime's Linux x64 binaries (none are installed there),
#   2. installs the Vulkan loader from the carried .debs (the device README's recipe),
#   3. checks that WebGPU finds the GPU, on the scaled-down bundle (seconds; stops here if not),
#   4. builds the fp16 SD 1.5-shaped bundle from its seed (weights do not travel),
#   5. runs bench:gpu on webgpu for K = 3, 1, 5 at 512² (K = 3 first: the issue's figure, should time run out),
#      and again with UNet runs of at most 4 images for the K that failed (a provider's buffer limit, say).
# Everything printed is also in $OUT/check.log; bench results are in $OUT/bench-<provider>*.json.
# Options: --k LIST --size PX --warmup N --iterations N --budget SECONDS (no new stage after it);
# --provider cpu rehearses the whole script without a GPU (skips the Vulkan loader; use a small --size).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

K=3,1,5
SIZE=512
WARMUP=3
ITERATIONS=10
BUDGET=450
PROVIDER=webgpu
while [ $# -gt 0 ]; do
  case "$1" in
    --k) K=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --iterations) ITERATIONS=$2; shift 2 ;;
    --budget) BUDGET=$2; shift 2 ;;
    --provider) PROVIDER=$2; shift 2 ;;
    *) echo "device-gpu-check: unknown option $1" >&2; exit 2 ;;
  esac
done

CARRY=.device-gpu
BUNDLE=models/build/sd15-shape-fp16
SEED=1
if [ -z "${OUT:-}" ]; then OUT=/tmp/device-gpu-check; echo "OUT is not set: writing results to $OUT"; fi
mkdir -p "$OUT"

stage() { echo; echo "== $* (${SECONDS} s)"; }
fail() { echo "device-gpu-check: FAILED: $*"; exit 1; }
left() { echo $((BUDGET - SECONDS)); }

main() {
stage "what was carried"
[ "$(uname -m)" = x86_64 ] || fail "this is $(uname -m); the carried Node.js and ONNX Runtime are x86-64"
node_xz=$(ls "$CARRY"/node-*.xz 2>/dev/null | head -1)
ort_xz=$(ls "$CARRY"/onnxruntime-node-*-linux-x64.tar.xz 2>/dev/null | head -1)
[ -n "$node_xz" ] && [ -n "$ort_xz" ] && [ -f "$CARRY/app.tar.xz" ] && ls "$CARRY"/gl/libvulkan1_*.deb >/dev/null 2>&1 ||
  fail "$CARRY is missing or incomplete: run scripts/device-gpu-pack.sh on the workstation, and name $CARRY in the run's carry list"
if ! sha256sum --quiet -c "$CARRY/source.sha256" >/dev/null 2>&1; then
  sha256sum --quiet -c "$CARRY/source.sha256" 2>&1 | head -5
  fail "the code changed after $CARRY was packed (dist/ would not match it): run scripts/device-gpu-pack.sh again"
fi
ls -l "$CARRY" "$CARRY/gl" | sed 's/^/  /'

stage "the GPU"
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,clocks.sm,clocks.max.sm,power.limit --format=csv | tee "$OUT/gpu.txt"
else
  echo "no nvidia-smi on this machine"
fi

stage "unpacking Node.js, the app and ONNX Runtime"
NODE=/tmp/gas-gpu/node
mkdir -p /tmp/gas-gpu
xz -dc "$node_xz" >"$NODE" && chmod +x "$NODE" || fail "could not unpack $node_xz"
# dist/ and node_modules/ are ignored paths: they stay on the machine between calls while it is warm.
tar -xJf "$CARRY/app.tar.xz" && tar -xJf "$ort_xz" || fail "could not unpack the app"
echo "node $("$NODE" --version); ONNX Runtime $("$NODE" -p "require('./node_modules/onnxruntime-node/package.json').version")"

if [ "$PROVIDER" != cpu ]; then
stage "the Vulkan loader"
for deb in "$CARRY"/gl/*.deb; do dpkg -x "$deb" / || fail "dpkg -x $deb"; done
ldconfig
ldconfig -p | grep -q 'libvulkan.so.1 ' || fail "libvulkan.so.1 is not on the loader path after unpacking the .debs"
ldconfig -p | grep 'libvulkan.so.1 ' | sed 's/^/  /'
nvidia_icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
standard_icds=$(ls /usr/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/*.json 2>/dev/null | xargs -r grep -l -i nvidia 2>/dev/null)
if [ -z "$standard_icds" ] && [ -f "$nvidia_icd" ]; then
  # The driver is mounted read-only under /usr/local/nvidia, where the loader does not look (device README).
  export VK_DRIVER_FILES=$nvidia_icd
  export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  echo "  VK_DRIVER_FILES=$VK_DRIVER_FILES"
else
  echo "  NVIDIA Vulkan driver manifests: ${standard_icds:-none found}"
fi
fi

stage "$PROVIDER on the scaled-down bundle"
smoke=(dist/bench/gpu.js --provider "$PROVIDER" --shape sd15-shape-tiny --dtype fp16 --size 256 --k 1 --warmup 1 --iterations 2 --schedules aggregated --json "$OUT/smoke.json")
if ! timeout 180 "$NODE" "${smoke[@]}"; then
  [ "$PROVIDER" = webgpu ] || fail "the $PROVIDER provider did not run (messages above)"
  echo "WebGPU failed; once more with the Vulkan loader's driver messages:"
  VK_LOADER_DEBUG=error,warn,driver VK_DRIVER_FILES=${VK_DRIVER_FILES:-$nvidia_icd} timeout 120 "$NODE" "${smoke[@]}" 2>&1 | tail -40
  fail "WebGPU did not run on this machine (messages above); nothing more to measure"
fi

stage "building the fp16 SD 1.5-shaped bundle from seed $SEED"
spec="{ shape: 'sd15-shape', dtype: 'fp16', seed: $SEED }"
if "$NODE" --input-type=module -e "const m = await import('./dist/models/sd15-shape/build.js'); process.exit(m.isCurrentRandomBundle('$BUNDLE', $spec) ? 0 : 1)"; then
  echo "already built on this machine: $BUNDLE"
else
  "$NODE" dist/src/cli.js models build-random sd15-shape --dtype fp16 --seed "$SEED" --dir "$BUNDLE" || fail "building the bundle failed"
fi
du -sh "$BUNDLE"/*/ | sed 's/^/  /'

stage "ONNX's checker on the four graphs"
if python3 -c 'import onnx' 2>/dev/null; then
  timeout 120 python3 - "$BUNDLE" <<'PY' || echo "  (the checker failed or ran out of time: see above; the bench runs anyway)"
import sys, onnx
for part in ("text_encoder", "unet", "vae_encoder", "vae_decoder"):
    path = f"{sys.argv[1]}/{part}/model.onnx"
    onnx.checker.check_model(path)
    print(f"  {part}: passes onnx {onnx.__version__}'s checker")
PY
else
  echo "  no python3 with onnx here: skipped"
fi

stage "bench:gpu on $PROVIDER: K = $K, ${SIZE}², fp16"
bench=(dist/bench/gpu.js --provider "$PROVIDER" --shape sd15-shape --dtype fp16 --seed "$SEED" --bundle "$BUNDLE" --size "$SIZE" --warmup "$WARMUP" --iterations "$ITERATIONS")
[ "$(left)" -gt 60 ] || fail "no time left for the bench"
timeout "$(left)" "$NODE" "${bench[@]}" --k "$K" --json "$OUT/bench-$PROVIDER.json"
status=$?
if [ $status -eq 124 ]; then echo "the bench ran out of its ${BUDGET} s budget; the rows above were measured"; fi
if [ $status -eq 1 ] && [ -f "$OUT/bench-$PROVIDER.json" ]; then
  failed=$("$NODE" -p "JSON.parse(require('fs').readFileSync('$OUT/bench-$PROVIDER.json', 'utf8')).rows.filter((r) => r.error).map((r) => r.k).filter((k, i, all) => all.indexOf(k) === i).join(',')")
  if [ -n "$failed" ] && [ "$(left)" -gt 90 ]; then
    stage "again for K = $failed with UNet runs of at most 4 images"
    timeout "$(left)" "$NODE" "${bench[@]}" --k "$failed" --max-batch 4 --json "$OUT/bench-$PROVIDER-batch4.json"
  fi
fi

stage "done"
echo "results: $OUT (check.log, gpu.txt, smoke.json, bench-$PROVIDER*.json)"
return $status
}

# A pipe rather than exec > >(tee): the log is complete when the script returns.
main 2>&1 | tee "$OUT/check.log"
exit "${PIPESTATUS[0]}"
