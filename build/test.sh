#!/usr/bin/env bash
# The test command of README.md: installs what the tests need on a fresh Debian machine (headless Chromium and its
# driver for the browser test of `serve`, nats-server for the scale-out workers' tests, curl for the deployment docs,
# Node.js and npm for the exports' test in onnxruntime-node), then builds and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v dotnet >/dev/null 2>&1; then
  echo "error: the .NET 10 SDK (dotnet) is required" >&2
  exit 2
fi
need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
[ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v curl >/dev/null 2>&1 || need+=(curl)
# Node and npm run another ONNX Runtime (onnxruntime-node, installed by the test into ~/.cache) on our exports.
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing ${need[*]}"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
set +e
if [[ " $* " == *" --filter"* ]]; then
  # A filter of the caller's own: one test process, the isolated collection after the parallel tests.
  dotnet test AnomalySharp.slnx -c Release --logger "console;verbosity=normal" "$@" 2>&1 | tee "$log"
  status=${PIPESTATUS[0]}
else
  # Two test processes at once: the parallel tests in one, the isolated collection (tests that must not share a process
  # with TorchSharp tests, one at a time; tests/AnomalySharp.Tests/IsolatedCollection.cs) in the other. Much of the
  # isolated tests' time is spent waiting on child processes, servers and browsers, which the parallel tests now fill.
  # Each writes a TRX file to TestResults/ (parallel.trx, alone.trx); the second process's log follows the first's.
  args=()
  for arg in "$@"; do [ "$arg" = --no-build ] || args+=("$arg"); done
  if [ ${#args[@]} -eq $# ]; then
    dotnet build AnomalySharp.slnx -c Release 2>&1 | tee "$log"
    [ "${PIPESTATUS[0]}" -eq 0 ] || { rm -f "$log"; exit 1; }
  fi
  alone=$(mktemp)
  results="$(pwd)/TestResults"
  dotnet test AnomalySharp.slnx -c Release --no-build --filter "Process=alone" --results-directory "$results" \
    --logger "console;verbosity=normal" --logger "trx;LogFileName=alone.trx" "${args[@]}" > "$alone" 2>&1 &
  alone_pid=$!
  dotnet test AnomalySharp.slnx -c Release --no-build --filter "Process!=alone" --results-directory "$results" \
    --logger "console;verbosity=normal" --logger "trx;LogFileName=parallel.trx" "${args[@]}" 2>&1 | tee -a "$log"
  status=${PIPESTATUS[0]}
  wait "$alone_pid"
  alone_status=$?
  echo "---- the isolated collection, run in a test process of its own ----"
  tee -a "$log" < "$alone"
  rm -f "$alone"
  [ "$status" -ne 0 ] || status=$alone_status
fi
set -e
# A long run's failures scroll far up: repeat each failed test with its message and first stack lines at the end.
if grep -qE '^ +Failed [A-Za-z]' "$log"; then
  echo "---- failed tests ----"
  awk '/^ +Failed [A-Za-z]/ {n = 25} n > 0 {print; n--}' "$log"
fi
rm -f "$log"
exit "$status"
