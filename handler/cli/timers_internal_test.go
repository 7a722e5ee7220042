package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseTimers(t *testing.T) {
	tests := []struct {
		name    string
		list    string
		want    []string
		wantErr bool
	}{
		{name: "one timer is fired alone", list: "advisories", want: []string{"advisories"}},
		{name: "timers are fired in the order given", list: "sweep, advisories", want: []string{"sweep", "advisories"}},
		{name: "a queue function is not a timer", list: "advisories,scan", wantErr: true},
		{name: "an empty name is refused", list: "sweep,", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseTimers(tt.list)
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseTimers(%q) error = %v, want error %v", tt.list, err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); !tt.wantErr && diff != "" {
				t.Errorf("parseTimers(%q) (-want +got):\n%s", tt.list, diff)
			}
		})
	}
}
