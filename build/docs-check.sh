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
# `anomalysharp` is a script that execs the CLI (not a shell function), so `cmd &` then `kill $!` stops the CLI itself.
mkdir -p "$work/bin"
printf '#!/usr/bin/env bash\nexec dotnet %q "$@"\n' "$cli" > "$work/bin/anomalysharp"
chmod +x "$work/bin/anomalysharp"
# Pages run one at a time by default (DOCS_CHECK_JOBS=2 runs two at once, each in its own scratch folder and on its
# own ports; on 2 cores it gained nothing: 461 s, against 446 s serial on the same day. One such CI run once died in
# training.md's resumed run while writing-a-model.md built its plugin: that build rewrote the CLI's assembly in place
# through a hard link, fixed by build/PrivateOutputs.targets). Each page's blocks run in order.
jobs_max=${DOCS_CHECK_JOBS:-1}
pages=()
for doc in README.md docs/*.md; do
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
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  # A page that builds in the repository (a plugin) holds build/.repository.lock meanwhile, as package-check.sh does.
  runner=(bash); if grep -q 'dotnet build' "$script"; then runner=(flock "$REPO/build/.repository.lock" bash); fi
  (start=$SECONDS; if cd "$work/run-$name" && "${runner[@]}" "$script" >"$work/$name.log" 2>&1; then rc=0; else rc=1; fi
   echo "$rc $((SECONDS - start))" > "$work/$name.rc") &
  pages+=("$doc:$blocks")
done
wait
for page in "${pages[@]}"; do
  doc=${page%%:*}; blocks=${page##*:}; name=$(basename "$doc" .md)
  read -r rc seconds < "$work/$name.rc"
  if [ "$rc" = 0 ]; then
    echo "docs: $doc ($blocks blocks) ok, ${seconds} s"
  else
    echo "docs: $doc failed:"; tail -20 "$work/$name.log"; exit 1
  fi
done
# Every ```csharp block compiles on its own, against the libraries' public surface only (a project outside the
# repository, which no InternalsVisibleTo names), with nullable warnings as errors.
n=0
for doc in README.md docs/*.md; do
  count=$(grep -c '^```csharp$' "$doc" || true)
  for ((k = 1; k <= count; k++)); do
    n=$((n + 1)); dir="$work/cs-$n"; mkdir -p "$dir"
    awk -v want="$k" '/^```csharp$/{i++; on=(i==want); next} /^```$/{on=0} on' "$doc" > "$dir/Program.cs"
    cat > "$dir/Snippet.csproj" <<PROJ
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
    start=$SECONDS
    if flock "$REPO/build/.repository.lock" dotnet build "$dir/Snippet.csproj" -c Release >"$work/log" 2>&1; then
      echo "docs: $doc C# block $k compiles against the public API, $((SECONDS - start)) s"
    else
      echo "docs: $doc C# block $k does not compile:"; grep -E 'error' "$work/log" | sort -u | head -20; exit 1
    fi
  done
done
