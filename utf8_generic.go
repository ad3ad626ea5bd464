//go:build !amd64 || purego

package websocket

import "unicode/utf8"

// Without assembly (other architectures, or the purego build tag) the
// validator's bulk is unicode/utf8.Valid.

// useSSSE3 is false: there is no SSSE3 assembly in this build.
var useSSSE3 = false

// useAVX512 is false: there is no AVX-512 assembly in this build.
var useAVX512 = false

func utf8Valid(p []byte) bool { return utf8.Valid(p) }

func cpuHasSSSE3() bool { return false }

func cpuHasAVX512() bool { return false }
