//go:build race

package utf8valid

// raceEnabled: the tests run under the race detector (see race_off_test.go).
const raceEnabled = true
