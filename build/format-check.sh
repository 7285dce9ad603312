#!/usr/bin/env bash
# Style as a habit: the code is as `dotnet format` leaves it under .editorconfig (usings sorted and used, file-scoped
# namespaces, whitespace). Run `dotnet format AnomalySharp.slnx` to fix what this reports.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
if ! dotnet format AnomalySharp.slnx --verify-no-changes --verbosity quiet; then
  echo "error: the code is not formatted as .editorconfig asks; run: dotnet format AnomalySharp.slnx" >&2
  exit 1
fi
# No line over 140 characters and no source file over 300 lines (generated and build output folders aside).
long=$(find src tests bench samples build -name '*.cs' -not -path '*/obj/*' -not -path '*/bin/*' -print0 |
  xargs -0 python3 -c 'import sys
for f in sys.argv[1:]:
    lines = open(f, encoding="utf-8").read().split("\n")
    if len(lines) > 301: print(f"{f}: {len(lines) - 1} lines (at most 300)")
    for i, l in enumerate(lines, 1):
        if len(l) > 140: print(f"{f}:{i}: {len(l)} characters (at most 140)")')
if [ -n "$long" ]; then
  echo "$long" >&2
  echo "error: lines over 140 characters or files over 300 lines" >&2
  exit 1
fi
echo "format: clean"
