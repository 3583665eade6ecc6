#!/bin/sh
# Builds the Debian package: ./deploy/debian/build.sh [VERSION]
# into dist/ (or $DIST), the binary at dist/tandem.
set -eu
cd "$(dirname "$0")/../.."
NFPM_VERSION=v2.48.0
VERSION=${1:-0.0.0~dev$(date -u +%Y%m%d%H%M%S)}
ARCH=$(go env GOARCH)
mkdir -p dist
BIN=dist/tandem
CGO_ENABLED=0 go build -buildvcs=false -trimpath -ldflags "-s -w -X main.version=$VERSION" -o "$BIN" ./cmd/tandem
export VERSION ARCH
go run github.com/goreleaser/nfpm/v2/cmd/nfpm@$NFPM_VERSION package \
	--config deploy/debian/nfpm.yaml --packager deb --target dist/
if [ -n "${DIST:-}" ]; then
	mkdir -p "$DIST"
	mv dist/tandem_"$VERSION"_"$ARCH".deb "$DIST"/
	ls "$DIST"/tandem_"$VERSION"_"$ARCH".deb
else
	ls dist/tandem_"$VERSION"_"$ARCH".deb
fi
