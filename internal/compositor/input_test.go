package compositor

import "testing"

func TestSameSource(t *testing.T) {
	a, b := &testSource{}, &testSource{}
	for _, tt := range []struct {
		x, y Source
		want bool
	}{
		{a, a, true},
		{a, b, false},
		{uncomparable{a, nil}, uncomparable{b, nil}, true},
		{a, uncomparable{a, nil}, false},
	} {
		if got := sameSource(tt.x, tt.y); got != tt.want {
			t.Errorf("sameSource(%T, %T) = %v", tt.x, tt.y, got)
		}
	}
}
