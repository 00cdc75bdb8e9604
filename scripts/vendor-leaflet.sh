#!/usr/bin/env bash
# Fetches Leaflet (the station map's library) from the npm registry at a pinned version,
# checks the tarball against the registry's published integrity hash (pinned here too), and
# copies its built files into controller/static/leaflet/, which the controller compiles in
# and serves at /ui/static/leaflet/ (no CDN at run time). Run it to update Leaflet: change
# VERSION and INTEGRITY together, then commit the files it writes.
#
#   scripts/vendor-leaflet.sh
set -euo pipefail

VERSION=1.9.4
# `npm view leaflet@1.9.4 dist.integrity`
INTEGRITY="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="

root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/controller/static/leaflet"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

command -v npm >/dev/null || { echo "npm is needed (apt-get install npm)" >&2; exit 1; }
(cd "$work" && npm pack --silent "leaflet@$VERSION" >/dev/null)
tarball="$work/leaflet-$VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got" != "$INTEGRITY" ]; then
    echo "leaflet-$VERSION.tgz does not match its pinned integrity hash:" >&2
    echo "  expected $INTEGRITY" >&2
    echo "  got      $got" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"
mkdir -p "$dest/images"
cp "$work/package/dist/leaflet.js" "$work/package/dist/leaflet.css" "$dest/"
cp "$work/package/dist/images/"*.png "$dest/images/"
cp "$work/package/LICENSE" "$dest/LICENSE"
echo "Leaflet $VERSION ($INTEGRITY) copied to $dest"
