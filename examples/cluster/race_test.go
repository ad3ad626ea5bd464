//go:build race

package main

// raceEnabled makes TestMain build the node with the race detector too, so
// the processes the tests start are checked as the tests themselves are.
const raceEnabled = true
