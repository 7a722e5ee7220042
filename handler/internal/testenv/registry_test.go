package testenv

import "testing"

func TestStartRegistry(t *testing.T) {
	r := StartRegistry(t, WithBasicAuth("u", "p"))
	if r.Host == "" {
		t.Fatal("no host")
	}
}
