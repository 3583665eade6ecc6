#!/usr/bin/env bash
# Runs every test tier: ./test/all.sh [fast|all]
#   fast: go vet and the fast tier (go test ./...)
#   all (default): also bounded fuzzing and the end-to-end tier.
set -euo pipefail
cd "$(dirname "$0")/.."
tier=${1:-all}

export GOFLAGS=${GOFLAGS:--buildvcs=false}

echo "== installing test dependencies (Debian packages)"
./test/install-deps.sh

echo "== go vet"
go vet ./...
echo "== fast tier: go test ./..."
go test -count=1 ./...
[ "$tier" = fast ] && exit 0

echo "== fuzzing the decoders (bounded)"
./test/fuzz.sh "${FUZZTIME:-10s}"

echo "== SeaweedFS for the S3 tests (built once, then cached)"
go run ./test/s3test/buildweed

echo "== end-to-end tier: go test -tags e2e ./test/..."
go test -count=1 -tags e2e -timeout 60m ./test/...

# The same clients against a server on PostgreSQL and S3 (SeaweedFS), one
# package at a time: each starts its own PostgreSQL and SeaweedFS.
echo "== end-to-end tier on PostgreSQL + S3"
TANDEM_TEST_STORES=postgres+s3 go test -count=1 -p 1 -tags e2e -timeout 30m \
	-run 'TestCopyLargeFile|TestManyFiles|TestKillDuringWrites|TestSmbtorture/smb2\.(create|rw)$|TestKernelNFSPOSIX' \
	./test/libnfs/ ./test/crash/ ./test/smbtorture/ ./test/e2e/
