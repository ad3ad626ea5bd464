//go:build !amd64 || purego

package cpu

func x86() Features { return Features{} }
