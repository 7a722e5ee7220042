package testenv

import "testing"

func TestDpkgVersionsOrdersAsDebianPolicy(t *testing.T) {
	d := NewDpkgVersions(t)
	tests := []struct {
		name string
		a, b string
		want int
	}{
		{name: "a tilde sorts before the release", a: "1.0~rc1", b: "1.0", want: -1},
		{name: "an epoch outranks the upstream version", a: "1:0.9", b: "2.0", want: 1},
		{name: "a security revision sorts after the plain one", a: "2.5.0-1+deb12u2", b: "2.5.0-1+deb12u5", want: -1},
		{name: "numbers compare numerically, not as text", a: "2.6.10", b: "2.6.2", want: 1},
		{name: "equal versions compare equal", a: "3.0.20-1~deb12u2", b: "3.0.20-1~deb12u2", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := d.Compare(t, tt.a, tt.b); got != tt.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
			if got := d.Less(t, tt.a, tt.b); got != (tt.want < 0) {
				t.Errorf("Less(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want < 0)
			}
		})
	}
}
