// Checks the log's checkpoints and proofs with golang.org/x/mod/sumdb/{note,tlog}, an independent implementation.
// Built offline against Debian's golang-golang-x-mod-dev: GOFLAGS=-mod=mod GOPROXY=off GOSUMDB=off go build.
module econtract.test/tlogcheck

go 1.19

require golang.org/x/mod v0.0.0

replace golang.org/x/mod => /usr/share/gocode/src/golang.org/x/mod
