//go:build race

package websocket

func init() { raceEnabled = true }
