#!/bin/sh
# Writes truth.json, the ground truth of rootfs/, with tools other than Tidewatch:
# Ruby's own Gem::Specification.load for installed gem specifications, Python's
# json for deps.json and installed.json, Python's zlib + readelf/objcopy for the
# cargo-auditable section. Run from this directory: sh make-truth.sh > truth.json
set -eu
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ruby -rjson -e '
  out = (Dir["rootfs/**/specifications/*.gemspec"] + Dir["rootfs/**/specifications/default/*.gemspec"]).sort.map do |f|
    s = Gem::Specification.load(f) or abort("unloadable #{f}")
    {ecosystem: "RubyGems", name: s.name, version: s.version.to_s, location: f.delete_prefix("rootfs/")}
  end
  puts JSON.generate(out)' > "$tmp/gems.json"
objcopy --dump-section .dep-v0="$tmp/dep-v0" rootfs/app/rust/tidewatch-rust-fixture "$tmp/discard"
python3 - "$tmp" <<'PY'
import json, sys, zlib
tmp = sys.argv[1]
pkgs = json.load(open(f"{tmp}/gems.json"))
deps = json.load(open("rootfs/app/dotnet/Tidewatch.Fixture.deps.json"))
for key, lib in deps["libraries"].items():
    if lib["type"] == "package":  # "project" libraries are built locally
        name, version = key.split("/")
        pkgs.append({"ecosystem": "NuGet", "name": name, "version": version,
                     "location": "app/dotnet/Tidewatch.Fixture.deps.json"})
installed = json.load(open("rootfs/srv/php/vendor/composer/installed.json"))
for p in installed["packages"]:
    pkgs.append({"ecosystem": "Packagist", "name": p["name"], "version": p["version"],
                 "location": "srv/php/vendor/composer/installed.json"})
audit = json.loads(zlib.decompress(open(f"{tmp}/dep-v0", "rb").read()))
for p in audit["packages"]:
    if p.get("kind", "runtime") == "runtime":  # build dependencies are not in the binary
        pkgs.append({"ecosystem": "crates.io", "name": p["name"], "version": p["version"],
                     "location": "app/rust/tidewatch-rust-fixture"})
pkgs.sort(key=lambda p: (p["ecosystem"], p["name"], p["version"], p["location"]))
json.dump({"packages": pkgs}, sys.stdout, indent=2)
print()
PY
