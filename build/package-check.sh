#!/usr/bin/env bash
# Packs the library and the command-line tool into a fresh local feed, then proves that both install on a clean
# folder: the tool runs --version and a tiny train; a new console project restores the library package and
# fits PaDiM (its build applies the packaged TorchSharp fix). Used by .ci/run; takes about two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
# A version of its own, so that no package cached by an earlier check can stand in for this one.
version="0.1.0-check.$(date +%Y%m%d%H%M%S)"
packages="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
trap 'rm -rf "$work" "$packages/anomalysharp/$version" "$packages/anomalysharp.cli/$version" "$packages/anomalysharp.cli.linux-x64/$version"' EXIT
feed="$work/feed"
dotnet pack src/AnomalySharp -c Release -o "$feed" -p:Version="$version" >/dev/null
dotnet pack src/AnomalySharp.Cli -c Release -o "$feed" -p:Version="$version" >/dev/null
echo "packed: $(ls "$feed" | tr '\n' ' ')"

dotnet tool install AnomalySharp.Cli --tool-path "$work/tool" --add-source "$feed" --version "$version" >/dev/null
"$work/tool/anomalysharp" --version
(cd "$work" && "$work/tool/anomalysharp" train --output "$work/run" --set data.image_size=64 --set visualization.save_images=false >/dev/null 2>&1)
test -f "$work/run/results.json" && echo "tool: tiny train wrote results.json"

mkdir -p "$work/consumer"
cat > "$work/consumer/Consumer.csproj" <<XML
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><OutputType>Exe</OutputType><TargetFramework>net10.0</TargetFramework><Nullable>enable</Nullable><ImplicitUsings>enable</ImplicitUsings></PropertyGroup>
  <ItemGroup><PackageReference Include="AnomalySharp" Version="$version" /></ItemGroup>
</Project>
XML
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
Console.WriteLine($"library package: image AUROC {results["image_auroc"]}");
CS
cat > "$work/consumer/nuget.config" <<XML
<configuration><packageSources><add key="local" value="$feed" /></packageSources></configuration>
XML
dotnet run --project "$work/consumer" -c Release -- "$work"
