package testtime

import "testing"

func TestScaleFrom(t *testing.T) {
	for _, tt := range []struct {
		env  string
		want float64
	}{
		{"1", 1},
		{"4", 4},
		{"0.5", 0.5},
	} {
		if got := scaleFrom(tt.env); got != tt.want {
			t.Errorf("scaleFrom(%q) = %v, want %v", tt.env, got, tt.want)
		}
	}
	want := 2.0
	if raceEnabled {
		want = 5
	}
	if got := scaleFrom(""); got != want {
		t.Errorf("scaleFrom(\"\") = %v, want %v", got, want)
	}
}

func TestScaleFromRefusesNonsense(t *testing.T) {
	for _, env := range []string{"x", "0", "-1", "NaN", "1e9"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("scaleFrom(%q) did not panic", env)
				}
			}()
			scaleFrom(env)
		}()
	}
}
