package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
			`{"v":1,"registry":"r","repository":"a","digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","tags":["1.2"],"reason":"rescan","runId":"r1"}`,
			ScanTask{V: 1, Registry: "r", Repository: "a", Digest: "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", Tags: []string{"1.2"}, Reason: ReasonRescan, RunID: "r1"}, false},
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
		{"a scan-task of several digests decodes", decodeAny(DecodeScanTask),
			`{"v":1,"registry":"r","repository":"a","runId":"r1","digests":[{"digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","tags":["1"],"reason":"push"},{"digest":"sha256:1a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","tags":[],"reason":"rescan"}]}`,
			ScanTask{V: 1, Registry: "r", Repository: "a", RunID: "r1", Digests: []ScanDigest{{Digest: "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", Tags: []string{"1"}, Reason: ReasonPush}, {Digest: "sha256:1a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", Tags: []string{}, Reason: ReasonRescan}}}, false},
		{"a scan-task with both digest and digests is bad", decodeAny(DecodeScanTask),
			`{"v":1,"registry":"r","repository":"a","runId":"r1","digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","digests":[{"digest":"sha256:1a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","reason":"push"}]}`, nil, true},
		{"a scan-task of several digests with a task-level reason is bad", decodeAny(DecodeScanTask),
			`{"v":1,"registry":"r","repository":"a","runId":"r1","reason":"push","digests":[{"digest":"sha256:1a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","reason":"push"}]}`, nil, true},
		{"a scan-task naming a digest twice is bad", decodeAny(DecodeScanTask),
			`{"v":1,"registry":"r","repository":"a","runId":"r1","digests":[{"digest":"sha256:1a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","reason":"push"},{"digest":"sha256:1a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","reason":"pull"}]}`, nil, true},
		{"a scan-task with a digest of several without reason is bad", decodeAny(DecodeScanTask),
			`{"v":1,"registry":"r","repository":"a","runId":"r1","digests":[{"digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","reason":"push"},{"digest":"sha256:1a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"}]}`, nil, true},
		{"a scan-task with a tag for a digest among several is bad", decodeAny(DecodeScanTask),
			`{"v":1,"registry":"r","repository":"a","runId":"r1","digests":[{"digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","reason":"push"},{"digest":"latest","reason":"push"}]}`, nil, true},
		{"a scan-task with an invalid tag among several is bad", decodeAny(DecodeScanTask),
			`{"v":1,"registry":"r","repository":"a","runId":"r1","digests":[{"digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","tags":["no good"],"reason":"push"}]}`, nil, true},
		{"a scan-task of digests of several repositories decodes", decodeAny(DecodeScanTask),
			`{"v":1,"registry":"r","repository":"a","runId":"r1","digests":[{"digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","tags":["1"],"reason":"push"},{"digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","tags":["1"],"reason":"push","repository":"b/c"}]}`,
			ScanTask{V: 1, Registry: "r", Repository: "a", RunID: "r1", Digests: []ScanDigest{{Digest: "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", Tags: []string{"1"}, Reason: ReasonPush}, {Digest: "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9", Tags: []string{"1"}, Reason: ReasonPush, Repository: "b/c"}}}, false},
		{"a scan-task naming a digest twice in one of its repositories is bad", decodeAny(DecodeScanTask),
			`{"v":1,"registry":"r","repository":"a","runId":"r1","digests":[{"digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","reason":"push","repository":"b"},{"digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","reason":"pull","repository":"b"}]}`, nil, true},
		{"a scan-task with an invalid repository for one of its digests is bad", decodeAny(DecodeScanTask),
			`{"v":1,"registry":"r","repository":"a","runId":"r1","digests":[{"digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","reason":"push","repository":"../x"},{"digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9","reason":"pull"}]}`, nil, true},
		{"a list-task of several repositories decodes", decodeAny(DecodeListTask),
			`{"v":1,"registry":"r.example","runId":"r1","window":{"pushDays":7,"pullDays":30},"repositories":[{"name":"a"},{"name":"b/c","updatedAt":"2026-03-10T06:00:00Z"}]}`,
			ListTask{V: 1, Registry: "r.example", RunID: "r1", Window: Window{PushDays: 7, PullDays: 30},
				Repositories: []ListRepository{{Name: "a"}, {Name: "b/c", UpdatedAt: time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)}}}, false},
		{"a list-task with both repository and repositories is bad", decodeAny(DecodeListTask),
			`{"v":1,"registry":"r.example","repository":"a","runId":"r1","repositories":[{"name":"b"}]}`, nil, true},
		{"a list-task of several repositories with a single repository's update time is bad", decodeAny(DecodeListTask),
			`{"v":1,"registry":"r.example","runId":"r1","repositoryUpdatedAt":"2026-03-10T06:00:00Z","repositories":[{"name":"b"}]}`, nil, true},
		{"a list-task naming a repository twice is bad", decodeAny(DecodeListTask),
			`{"v":1,"registry":"r.example","runId":"r1","repositories":[{"name":"b"},{"name":"b"}]}`, nil, true},
		{"a list-task with an invalid repository among several is bad", decodeAny(DecodeListTask),
			`{"v":1,"registry":"r.example","runId":"r1","repositories":[{"name":"b"},{"name":"Team/API"}]}`, nil, true},
		{"a list-task with an empty repository among several is bad", decodeAny(DecodeListTask),
			`{"v":1,"registry":"r.example","runId":"r1","repositories":[{"name":"b"},{"name":""}]}`, nil, true},
		{"a rematch-task's first page has no cursor", decodeAny(DecodeRematchTask), `{"v":1,"generation":"g","runId":"r1"}`,
			RematchTask{V: 1, Generation: "g", RunID: "r1"}, false},
		{"a rematch-task scoped to one digest decodes", decodeAny(DecodeRematchTask),
			`{"v":1,"generation":"g","scope":{"registry":"r","repository":"a","digest":"sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"}}`,
			RematchTask{V: 1, Generation: "g", Scope: &RematchScope{Registry: "r", Repository: "a", Digest: "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"}}, false},
		{"a rematch-task without generation is bad", decodeAny(DecodeRematchTask), `{"v":1}`, nil, true},
		{"a rematch-task with a partition but no continuation is bad", decodeAny(DecodeRematchTask), `{"v":1,"generation":"g","partition":"p"}`, nil, true},
		{"a rematch-task scoped to a tag is bad", decodeAny(DecodeRematchTask), `{"v":1,"generation":"g","scope":{"registry":"r","repository":"a","digest":"latest"}}`, nil, true},
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

func TestDecodeRejectsInvalidReferences(t *testing.T) {
	const digest = "sha256:0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
	scan := func(registry, repository, digest string, tags ...string) []byte {
		b, err := json.Marshal(ScanTask{V: 1, Registry: registry, Repository: repository, Digest: digest, Tags: tags, Reason: ReasonPush, RunID: "r1"})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	list := func(registry, repository, runID string) []byte {
		b, err := json.Marshal(ListTask{V: 1, Registry: registry, Repository: repository, RunID: runID})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name   string
		decode func([]byte) (any, error)
		text   []byte
		bad    bool
	}{
		{"a scan-task of a plain registry, repository and digest is good", decodeAny(DecodeScanTask), scan("127.0.0.1:5000", "demo/app", digest, "1", "latest"), false},
		{"a scan-task with an md5 digest is bad", decodeAny(DecodeScanTask), scan("r.example", "a", "md5:d41d8cd98f00b204e9800998ecf8427e"), true},
		{"a scan-task with a short sha256 digest is bad", decodeAny(DecodeScanTask), scan("r.example", "a", "sha256:abc"), true},
		{"a scan-task with an uppercase digest is bad", decodeAny(DecodeScanTask), scan("r.example", "a", strings.ToUpper(digest)), true},
		{"a scan-task with a control character in the repository is bad", decodeAny(DecodeScanTask), scan("r.example", "a\x01b", digest), true},
		{"a scan-task with an uppercase repository is bad", decodeAny(DecodeScanTask), scan("r.example", "Team/API", digest), true},
		{"a scan-task whose repository's first component has a dot is good: it is a path of its registry", decodeAny(DecodeScanTask), scan("r.example", "data.eng/auth-service_16", digest, "1"), false},
		{"a list-task whose repository's first component has a dot is good", decodeAny(DecodeListTask), list("127.0.0.1:5000", "core.services/api", "r1"), false},
		{"a scan-task whose repository holds a port is bad", decodeAny(DecodeScanTask), scan("r.example", "evil.example:443/a", digest), true},
		{"a scan-task with a control character in the registry is bad", decodeAny(DecodeScanTask), scan("r.exa\nmple", "a", digest), true},
		{"a scan-task with a registry holding a path is bad", decodeAny(DecodeScanTask), scan("r.example/x", "a", digest), true},
		{"a scan-task with an invalid tag is bad", decodeAny(DecodeScanTask), scan("r.example", "a", digest, "-bad tag"), true},
		{"a scan-task with an empty tag is bad", decodeAny(DecodeScanTask), scan("r.example", "a", digest, ""), true},
		{"a scan-task with a tag holding a digest is bad", decodeAny(DecodeScanTask), scan("r.example", "a", digest, "1@"+digest), true},
		{"a list-task of a plain registry and repository is good", decodeAny(DecodeListTask), list("contoso.azurecr.io", "team/api", "r1"), false},
		{"a list-task with an uppercase repository is bad", decodeAny(DecodeListTask), list("r.example", "Team/api", "r1"), true},
		{"a list-task with a control character in the repository is bad", decodeAny(DecodeListTask), list("r.example", "team\x7f/api", "r1"), true},
		{"a list-task whose run id holds the runs separator is bad", decodeAny(DecodeListTask), list("r.example", "team/api", "r~1"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.decode(tt.text)
			if tt.bad != errors.Is(err, ErrBadMessage) {
				t.Errorf("decoding %s: err = %v, want bad message %v", tt.text, err, tt.bad)
			}
			if !tt.bad && err != nil {
				t.Errorf("decoding %s: %v", tt.text, err)
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
	b, err := EncodeRematchTask(RematchTask{V: 9, Generation: "g", Partition: "p", Continuation: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"v":1,"generation":"g","partition":"p","continuation":"c"}` {
		t.Errorf("encoded %s: the version must be stamped as 1", b)
	}
}

func TestAListTaskOfTooManyRepositoriesIsBad(t *testing.T) {
	task := ListTask{Registry: "r.example", RunID: "r1"}
	for i := range MaxListRepositories + 1 {
		task.Repositories = append(task.Repositories, ListRepository{Name: fmt.Sprintf("repo-%d", i)})
	}
	if _, err := EncodeListTask(task); !errors.Is(err, ErrBadMessage) {
		t.Errorf("%d repositories: %v, want ErrBadMessage", len(task.Repositories), err)
	}
	task.Repositories = task.Repositories[:MaxListRepositories]
	if _, err := EncodeListTask(task); err != nil {
		t.Errorf("%d repositories: %v, want it encoded", len(task.Repositories), err)
	}
}

func TestAScanTaskOfTooManyDigestsIsBad(t *testing.T) {
	task := ScanTask{Registry: "r.example", Repository: "a", RunID: "r1"}
	for i := range MaxScanDigests + 1 {
		task.Digests = append(task.Digests, ScanDigest{Digest: fmt.Sprintf("sha256:%064x", i), Reason: ReasonPush})
	}
	if _, err := EncodeScanTask(task); !errors.Is(err, ErrBadMessage) {
		t.Errorf("%d digests: %v, want ErrBadMessage", len(task.Digests), err)
	}
	task.Digests = task.Digests[:MaxScanDigests]
	if _, err := EncodeScanTask(task); err != nil {
		t.Errorf("%d digests: %v, want it encoded", len(task.Digests), err)
	}
}

func TestEachSplitsAScanTaskIntoSingleDigestTasks(t *testing.T) {
	d1, d2 := "sha256:"+strings.Repeat("1", 64), "sha256:"+strings.Repeat("2", 64)
	tests := []struct {
		name string
		task ScanTask
		want []ScanTask
	}{
		{name: "a single-digest task is itself",
			task: ScanTask{V: 1, Registry: "r", Repository: "a", Digest: d1, Tags: []string{"1"}, Reason: ReasonEvent, RunID: "r1"},
			want: []ScanTask{{V: 1, Registry: "r", Repository: "a", Digest: d1, Tags: []string{"1"}, Reason: ReasonEvent, RunID: "r1"}}},
		{name: "a task of several is one per digest, in order, each with its tags and reason",
			task: ScanTask{V: 1, Registry: "r", Repository: "a", RunID: "r1", Digests: []ScanDigest{{Digest: d2, Tags: []string{"2", "latest"}, Reason: ReasonPull}, {Digest: d1, Reason: ReasonRescan}}},
			want: []ScanTask{{V: 1, Registry: "r", Repository: "a", Digest: d2, Tags: []string{"2", "latest"}, Reason: ReasonPull, RunID: "r1"},
				{V: 1, Registry: "r", Repository: "a", Digest: d1, Reason: ReasonRescan, RunID: "r1"}}},
		{name: "a digest naming its repository is a task of that repository",
			task: ScanTask{V: 1, Registry: "r", Repository: "a", RunID: "r1", Digests: []ScanDigest{{Digest: d1, Reason: ReasonPush}, {Digest: d1, Reason: ReasonPush, Repository: "b/c"}}},
			want: []ScanTask{{V: 1, Registry: "r", Repository: "a", Digest: d1, Reason: ReasonPush, RunID: "r1"},
				{V: 1, Registry: "r", Repository: "b/c", Digest: d1, Reason: ReasonPush, RunID: "r1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.task.Each()); diff != "" {
				t.Errorf("Each (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEachSplitsAListTaskIntoSingleRepositoryTasks(t *testing.T) {
	at := time.Date(2026, 3, 10, 6, 0, 0, 0, time.UTC)
	w := Window{PushDays: 7, PullDays: 30}
	tests := []struct {
		name string
		task ListTask
		want []ListTask
	}{
		{name: "a single-repository task is itself",
			task: ListTask{V: 1, Registry: "r", Repository: "a", RunID: "r1", Window: w, RepositoryUpdatedAt: at},
			want: []ListTask{{V: 1, Registry: "r", Repository: "a", RunID: "r1", Window: w, RepositoryUpdatedAt: at}}},
		{name: "a task of several is one per repository, in order, each with its update time",
			task: ListTask{V: 1, Registry: "r", RunID: "r1", Window: w, Repositories: []ListRepository{{Name: "b"}, {Name: "a", UpdatedAt: at}}},
			want: []ListTask{{V: 1, Registry: "r", Repository: "b", RunID: "r1", Window: w},
				{V: 1, Registry: "r", Repository: "a", RunID: "r1", Window: w, RepositoryUpdatedAt: at}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.task.Each()); diff != "" {
				t.Errorf("Each (-want +got):\n%s", diff)
			}
		})
	}
}
