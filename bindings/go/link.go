package logjar

// The static library comes from `cargo build -p logjar-c` at the workspace root
// (`go generate` runs it). Build with `-tags logjar_release` to link the release build
// instead (`cargo build -p logjar-c --release`), as the benchmarks should.

//go:generate cargo build -p logjar-c --locked

/*
#cgo CFLAGS: -I${SRCDIR}/../c/include
#cgo !logjar_release LDFLAGS: ${SRCDIR}/../../target/debug/liblogjar_c.a -lpthread -ldl -lm
#cgo logjar_release LDFLAGS: ${SRCDIR}/../../target/release/liblogjar_c.a -lpthread -ldl -lm
*/
import "C"
