#!/bin/sh
# make deb: the Debian package of this working tree, for this machine's architecture.
#   packaging/build-deb.sh [OUT_DIR [BUILD_DIR]]    (defaults: the repository, build/deb)
# Stages a copy of the tree (tracked and new files, never ignored ones such as .venv), puts
# packaging/debian in place as debian/, and runs dpkg-buildpackage (binary only, unsigned).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
out=$(mkdir -p "${1:-$top}" && cd "${1:-$top}" && pwd)
work=${2:-$top/build/deb}

for tool in dpkg-buildpackage dh /usr/bin/python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "make deb: $tool is missing: sudo apt-get install debhelper dpkg-dev python3-venv" >&2
        exit 1
    fi
done

version=$(/usr/bin/python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "$top/pyproject.toml")
deb_version=$(dpkg-parsechangelog -l "$top/packaging/debian/changelog" -S Version)
if [ "$version" != "$deb_version" ]; then
    echo "make deb: pyproject.toml says $version, packaging/debian/changelog says $deb_version" >&2
    exit 1
fi

src="$work/legtherapy-$version"
rm -rf "$work"
mkdir -p "$src"
if git -C "$top" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$top" && git ls-files -z --cached --others --exclude-standard |
        tar --null --files-from=- --ignore-failed-read -cf -) | tar -xf - -C "$src"
else
    (cd "$top" && tar --exclude=./.venv --exclude=./.git --exclude=./build --exclude='./legtherapy_*' -cf - .) |
        tar -xf - -C "$src"
fi
rm -rf "$src/debian"
cp -r "$src/packaging/debian" "$src/debian"

(cd "$src" && dpkg-buildpackage --build=binary --no-sign)
for deb in "$work"/legtherapy_"$version"_*.deb; do
    mv "$deb" "$out/"
    echo "built $out/$(basename "$deb")"
done
