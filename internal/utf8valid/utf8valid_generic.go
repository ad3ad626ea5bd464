//go:build !amd64 || purego

package utf8valid

import "unicode/utf8"

// Without assembly (other architectures, or the purego build tag) the
// validator's bulk is unicode/utf8.Valid.

// useSSSE3 is false: there is no SSSE3 assembly in this build.
var useSSSE3 = false

// useAVX2 and useAVX512 are false: there is no AVX2 or AVX-512 assembly in
// this build.
var useAVX2, useAVX512 = false, false

func valid(p []byte) bool { return utf8.Valid(p) }
