package cli

import (
	"testing"

	"github.com/tidewatch/tidewatch/handler/store"
)

func TestFindingsStateColumn(t *testing.T) {
	tests := []struct {
		name string
		f    store.Finding
		want string
	}{
		{"an active finding says active", store.Finding{State: "active"}, "active"},
		{"a fixed finding names the reason and the digest that fixed it",
			store.Finding{State: "resolved", ResolvedReason: "fixed", ResolvedByDigest: "sha256:0123456789abcdef"},
			"resolved: fixed by sha256:0123456789ab"},
		{"a deleted finding names the reason alone", store.Finding{State: "resolved", ResolvedReason: "deleted"}, "resolved: deleted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describeState(tt.f); got != tt.want {
				t.Errorf("state column %q, want %q", got, tt.want)
			}
		})
	}
}
