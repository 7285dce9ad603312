#!/usr/bin/env bash
# Runs every ```sh block of README.md and docs/*.md, in order, in a scratch folder per page, with `anomalysharp` =
# the built CLI, DATA = ../shared/data and REPO = this repository. A failing command fails the check: the docs
# cannot rot. README's quick start reads `good/` (mvtec_bottle's good training images) and `new-parts/` (its test
# images of one defect type), which the check links into README's scratch folder.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
DATA=${ANOMALYSHARP_DATA:-$(cd .. && pwd)/shared/data}
cli="$REPO/src/AnomalySharp.Cli/bin/Release/net10.0/AnomalySharp.Cli.dll"
test -f "$cli" || flock build/.repository.lock dotnet build src/AnomalySharp.Cli -c Release >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Every ```csharp block compiles on its own, against the libraries' public surface only (a project outside the
# repository, which no InternalsVisibleTo names), with nullable warnings as errors. All blocks build in one `dotnet build`
# of a solution of their projects; the libraries are built already (the CLI needs them), so only the blocks compile.
# Writes $work/csharp.log and $work/csharp.rc ("rc seconds").
csharp_blocks() {
  local n=0 doc count k dir start rc
  echo '<Solution>' > "$work/snippets.slnx"
  : > "$work/csharp.blocks"
  for doc in README.md docs/*.md; do
    count=$(grep -c '^```csharp$' "$doc" || true)
    for ((k = 1; k <= count; k++)); do
      n=$((n + 1)); dir="$work/cs-$n"; mkdir -p "$dir"
      awk -v want="$k" '/^```csharp$/{i++; on=(i==want); next} /^```$/{on=0} on' "$doc" > "$dir/Program.cs"
      cat > "$dir/Snippet$n.csproj" <<PROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable>
    <ImplicitUsings>enable</ImplicitUsings><TreatWarningsAsErrors>true</TreatWarningsAsErrors>
  </PropertyGroup>
  <ItemGroup>
    <ProjectReference Include="$REPO/src/AnomalySharp/AnomalySharp.csproj" />
    <ProjectReference Include="$REPO/src/AnomalySharp.Runtime/AnomalySharp.Runtime.csproj" />
  </ItemGroup>
</Project>
PROJ
      echo "  <Project Path=\"cs-$n/Snippet$n.csproj\" />" >> "$work/snippets.slnx"
      echo "$doc C# block $k" >> "$work/csharp.blocks"
    done
  done
  echo '</Solution>' >> "$work/snippets.slnx"
  start=$SECONDS; rc=0
  if [ "$n" -gt 0 ]; then
    # (A solution build evaluates references outside it in their default configuration unless told otherwise.)
    flock "$REPO/build/.repository.lock" dotnet build "$work/snippets.slnx" -c Release -p:BuildProjectReferences=false \
      -p:ShouldUnsetParentConfigurationAndPlatform=false >"$work/csharp.log" 2>&1 || rc=1
  fi
  echo "$rc $((SECONDS - start))" > "$work/csharp.rc"
}

# `anomalysharp` is a script that execs the CLI (not a shell function), so `cmd &` then `kill $!` stops the CLI itself.
mkdir -p "$work/bin"
printf '#!/usr/bin/env bash\nexec dotnet %q "$@"\n' "$cli" > "$work/bin/anomalysharp"
chmod +x "$work/bin/anomalysharp"
# Pages run two at a time by default (DOCS_CHECK_JOBS=1 runs them one by one), each in its own scratch folder and on its
# own ports, the longest first so that the last one does not run alone: a page's commands leave a core idle a third of
# the time (process starts, single-threaded stages), which the other page fills. On 2 cores: 236 s against 297 s one at a
# time on the same day. (Two at once once gained nothing, 461 s against 446 s, when a page's plugin build could rewrite
# the CLI's assembly in place; build/PrivateOutputs.targets fixed that.) Each page's blocks run in order.
jobs_max=${DOCS_CHECK_JOBS:-2}
# The C# blocks build in the background meanwhile (see csharp_blocks below).
csharp_blocks &
csharp_pid=$!
# Longest first (the pages that took 30 s or more alone, longest first), then the rest in name order.
# A page that builds in the repository (writing-a-model.md: a plugin) goes last: in CI the package check holds the
# repository's build lock for its first minute or two, and a page waiting for it would hold one of the two places idle.
long="docs/training.md docs/high-resolution.md docs/benchmarking.md docs/getting-started.md README.md"
last="docs/writing-a-model.md"
ordered="$long $(for doc in README.md docs/*.md; do [[ " $long $last " == *" $doc "* ]] || echo "$doc"; done) $last"
for doc in $ordered; do
  blocks=$(grep -c '^```sh$' "$doc" || true)
  [ "$blocks" -gt 0 ] || continue
  name=$(basename "$doc" .md)
  script="$work/$name.sh"
  {
    echo 'set -euo pipefail'
    echo "export PATH='$work/bin':\"\$PATH\""
    echo "export DATA='$DATA' REPO='$REPO'"
    if [ "$doc" = README.md ]; then
      echo 'ln -s "$DATA/mvtec_bottle/train/good" good; ln -s "$DATA/mvtec_bottle/test/broken_large" new-parts'
    fi
    awk '/^```sh$/{on=1; next} /^```$/{on=0} on' "$doc"
  } > "$script"
  mkdir -p "$work/run-$name"
  # (The C# blocks' build does not take a place: it mostly waits for the build lock, then compiles for a few seconds.)
  while [ "$(jobs -rp | grep -cvx "$csharp_pid")" -ge "$jobs_max" ]; do wait -n || true; done
  # A page that builds in the repository (a plugin) holds build/.repository.lock meanwhile, as package-check.sh does.
  runner=(bash); if grep -q 'dotnet build' "$script"; then runner=(flock "$REPO/build/.repository.lock" bash); fi
  (start=$SECONDS; if cd "$work/run-$name" && "${runner[@]}" "$script" >"$work/$name.log" 2>&1; then rc=0; else rc=1; fi
   echo "$rc $((SECONDS - start))" > "$work/$name.rc") &
done
wait
for doc in README.md docs/*.md; do
  [ -f "$work/$(basename "$doc" .md).rc" ] || continue
  name=$(basename "$doc" .md); blocks=$(grep -c '^```sh$' "$doc")
  read -r rc seconds < "$work/$name.rc"
  if [ "$rc" = 0 ]; then
    echo "docs: $doc ($blocks blocks) ok, ${seconds} s"
  else
    echo "docs: $doc failed:"; tail -20 "$work/$name.log"; exit 1
  fi
done
wait "$csharp_pid" 2>/dev/null || true # (reaped already by the wait above, as a rule)
read -r rc seconds < "$work/csharp.rc"
n=$(wc -l < "$work/csharp.blocks")
if [ "$rc" = 0 ]; then
  while read -r block; do echo "docs: $block compiles against the public API"; done < "$work/csharp.blocks"
  echo "docs: $n C# blocks built in $seconds s"
else
  i=0
  while read -r block; do
    i=$((i + 1))
    if grep -qE "cs-$i/.*error|error.*cs-$i/" "$work/csharp.log"; then
      echo "docs: $block does not compile:"; grep -E "cs-$i/.*error|error.*cs-$i/" "$work/csharp.log" | sort -u | head -20
    fi
  done < "$work/csharp.blocks"
  grep -qE 'cs-[0-9]+/.*error|error.*cs-[0-9]+/' "$work/csharp.log" || { echo "docs: the C# blocks' build failed:"; tail -20 "$work/csharp.log"; }
  exit 1
fi
