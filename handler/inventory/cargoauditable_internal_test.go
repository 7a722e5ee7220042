package inventory

import (
	"bytes"
	"compress/zlib"
	"strings"
	"testing"
)

func zlibOf(t *testing.T, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := zlib.NewWriterLevel(&b, zlib.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestAuditSectionsAreInflatedWithinTheCap(t *testing.T) {
	bomb := zlibOf(t, bytes.Repeat([]byte(" "), maxAuditJSONBytes+1))
	tests := []struct {
		name    string
		section []byte
		want    []auditedCrate
		wantErr string
	}{
		{name: "a section inflating to one byte over 8 MiB is refused, however small it is",
			section: bomb, wantErr: "inflates to more than 8 MiB"},
		{name: "a section of cargo-auditable JSON lists its crates, kind defaulting to runtime",
			section: zlibOf(t, []byte(`{"packages":[{"name":"a","version":"1.0.0"},{"name":"b","version":"0.1.0","kind":"build"}]}`)),
			want:    []auditedCrate{{Name: "a", Version: "1.0.0"}, {Name: "b", Version: "0.1.0", Kind: "build"}}},
		{name: "a section of zlib that is not JSON is an error", section: zlibOf(t, []byte("garbage")), wantErr: "decoding the .dep-v0 JSON"},
		{name: "a truncated zlib stream is an error", section: zlibOf(t, []byte(`{"packages":[]}`))[:6], wantErr: "inflating the .dep-v0 section"},
	}
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d bytes compressed; it should be small", len(bomb))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeAuditSection(tt.section)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("crate %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
