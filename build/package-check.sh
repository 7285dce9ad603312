#!/usr/bin/env bash
# Packs the runtime, the service, the library and the command-line tool into a fresh local feed, then proves that
# they install on a clean folder: the tool runs --version, a tiny train and an ONNX export; a new console project
# restores the library package and fits PaDiM (its build applies the packaged TorchSharp fix); another restores only
# AnomalySharp.Runtime, scores the exported model, and has no TorchSharp in its output. Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
# A version of its own, so that no package cached by an earlier check can stand in for this one.
version="0.3.0-check.$(date +%Y%m%d%H%M%S)"
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
trap 'rm -rf "$work" "$packages"/anomalysharp*/"$version"' EXIT
feed="$work/feed"
# Only the packages get the check's version (PackageVersion, not Version): the assemblies keep the version they were
# built with, so that the libraries the tests built are packed as they are instead of being compiled again (82 -> 46 CPU
# seconds); the tool's pack compiles only its linux-x64 variant, and --no-build packs the libraries. Builds in the
# repository take build/.repository.lock (docs-check.sh too), so that the two checks can run at once. A failing step
# shows its log.
logged() { "$@" > "$work/pack.log" 2>&1 || { cat "$work/pack.log"; exit 1; }; }
(
  flock 9
  logged dotnet pack src/AnomalySharp.Cli -c Release -o "$feed" -p:PackageVersion="$version"
  for project in src/AnomalySharp.Runtime src/AnomalySharp.Serving src/AnomalySharp.Workers src/AnomalySharp; do
    logged dotnet pack "$project" -c Release --no-build -o "$feed" -p:PackageVersion="$version"
  done
) 9>build/.repository.lock
echo "packed: $(ls "$feed" | tr '\n' ' ')"

dotnet tool install AnomalySharp.Cli --tool-path "$work/tool" --add-source "$feed" --version "$version" >/dev/null
"$work/tool/anomalysharp" --version
(cd "$work" && "$work/tool/anomalysharp" train --output "$work/run" --set data.image_size=64 --set visualization.save_images=false >/dev/null 2>&1)
test -f "$work/run/results.json" && echo "tool: tiny train wrote results.json"
"$work/tool/anomalysharp" export --model-path "$work/run" --output "$work/tiny.onnx" >/dev/null
test -f "$work/tiny.onnx" && echo "tool: exported tiny.onnx"

# A new console project in $work/DIR that references PACKAGE from the local feed only.
new_project() {
  mkdir -p "$work/$1"
  cat > "$work/$1/$1.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
  <ItemGroup><PackageReference Include="$2" Version="$version" /></ItemGroup>
</Project>
XML
  cat > "$work/$1/nuget.config" <<XML
<configuration><packageSources><add key="local" value="$feed" /></packageSources></configuration>
XML
}

new_project consumer AnomalySharp
cat > "$work/consumer/Program.cs" <<'CS'
using AnomalySharp.Data;
using AnomalySharp.Engine;
using AnomalySharp.Models;
var options = new SyntheticDataset.Options(Seed: 1, ImageSize: 64, TrainCount: 8, TestGoodCount: 4, TestDefectCountPerType: 2);
var data = SyntheticDataset.Create(Path.Combine(args[0], "data"), options);
var config = ModelRegistry.Defaults("padim");
config.Set("data.image_size=64");
config.Set("visualization.save_images=false");
var results = new AnomalyEngine().Train(config, data, Path.Combine(args[0], "out"), overwrite: false);
Console.WriteLine($"library package: image AUROC {results.Evaluation.ImageAuroc}");
CS
dotnet run --project "$work/consumer" -c Release -- "$work"

# The TorchSharp-free runtime: only AnomalySharp.Runtime, an exported model, a synthetic defect image.
new_project edge AnomalySharp.Runtime
cat > "$work/edge/Program.cs" <<'CS'
using AnomalySharp.Runtime;
using var detector = new OnnxAnomalyDetector(args[0], new DetectorOptions { Sessions = 2 });
var result = detector.Predict(File.ReadAllBytes(args[1]), Path.GetFileName(args[1]), masks: true);
Console.WriteLine($"runtime package: {detector.ModelName} score {result.Score:0.000} {(result.IsAnomalous ? "anomalous" : "normal")}, mask {result.MaskPng!.Length} bytes");
CS
image=$(find "$work/data/test" -path '*good*' -prune -o -name '*.png' -print | head -n 1)
dotnet run --project "$work/edge" -c Release -- "$work/tiny.onnx" "$image"
if find "$work/edge/bin" -iname '*torch*' | grep -q .; then echo "error: TorchSharp reached the runtime-only consumer" >&2; exit 1; fi
echo "runtime package: no TorchSharp in its output ($(du -sh "$work/edge/bin" | cut -f1), natives for every OS)"
dotnet publish "$work/edge" -c Release -r linux-x64 --self-contained false -o "$work/edge-publish" >/dev/null
echo "runtime package: linux-x64 publish $(du -sh "$work/edge-publish" | cut -f1)"
