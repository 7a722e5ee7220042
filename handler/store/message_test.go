package store

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDecodeMessages(t *testing.T) {
	tests := []struct {
		name   string
		decode func([]byte) (any, error)
		text   string
		want   any
		bad    bool
	}{
		{"a list-task from DESIGN decodes", decodeAny(DecodeListTask),
			`{"v":1,"registry":"contoso.azurecr.io","repository":"team/api","runId":"r1","window":{"pushDays":90,"pullDays":30}}`,
			ListTask{V: 1, Registry: "contoso.azurecr.io", Repository: "team/api", RunID: "r1", Window: Window{PushDays: 90, PullDays: 30}}, false},
		{"a scan-task from DESIGN decodes", decodeAny(DecodeScanTask),
			`{"v":1,"registry":"r","repository":"a","digest":"sha256:0a1b","tags":["1.2"],"reason":"rescan","runId":"r1"}`,
			ScanTask{V: 1, Registry: "r", Repository: "a", Digest: "sha256:0a1b", Tags: []string{"1.2"}, Reason: ReasonRescan, RunID: "r1"}, false},
		{"a rematch-task from DESIGN decodes", decodeAny(DecodeRematchTask),
			`{"v":1,"generation":"g7","partition":"r%2Fa","continuation":"sha256:x"}`,
			RematchTask{V: 1, Generation: "g7", Partition: "r%2Fa", Continuation: "sha256:x"}, false},
		{"an unknown version is bad", decodeAny(DecodeScanTask),
			`{"v":2,"registry":"r","repository":"a","digest":"sha256:0a","reason":"push"}`, nil, true},
		{"a missing version is bad", decodeAny(DecodeListTask), `{"registry":"r","repository":"a"}`, nil, true},
		{"a scan-task without digest is bad", decodeAny(DecodeScanTask), `{"v":1,"registry":"r","repository":"a","reason":"push"}`, nil, true},
		{"a scan-task with a tag for a digest is bad", decodeAny(DecodeScanTask), `{"v":1,"registry":"r","repository":"a","digest":"latest","reason":"push"}`, nil, true},
		{"a scan-task with an unknown reason is bad", decodeAny(DecodeScanTask), `{"v":1,"registry":"r","repository":"a","digest":"sha256:0a","reason":"whim"}`, nil, true},
		{"a list-task without repository is bad", decodeAny(DecodeListTask), `{"v":1,"registry":"r"}`, nil, true},
		{"a rematch-task without partition is bad", decodeAny(DecodeRematchTask), `{"v":1,"generation":"g"}`, nil, true},
		{"text that is not JSON is bad", decodeAny(DecodeRematchTask), `eyJ2IjoxfQ==`, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.decode([]byte(tt.text))
			if tt.bad {
				if !errors.Is(err, ErrBadMessage) {
					t.Fatalf("err = %v, want ErrBadMessage", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("decoded (-want +got):\n%s", diff)
			}
		})
	}
}

func decodeAny[T any](f func([]byte) (T, error)) func([]byte) (any, error) {
	return func(b []byte) (any, error) { return f(b) }
}

func TestEncodeRejectsIncompleteTasks(t *testing.T) {
	if _, err := EncodeListTask(ListTask{Registry: "r"}); !errors.Is(err, ErrBadMessage) {
		t.Errorf("EncodeListTask without repository: %v, want ErrBadMessage", err)
	}
	b, err := EncodeRematchTask(RematchTask{V: 9, Generation: "g", Partition: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"v":1,"generation":"g","partition":"p","continuation":""}` {
		t.Errorf("encoded %s: the version must be stamped as 1", b)
	}
}
