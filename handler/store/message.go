package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
)

// MessageVersion is the version every message carries as "v".
const MessageVersion = 1

// Scan reasons of a [ScanTask].
const (
	ReasonPush   = "push"
	ReasonPull   = "pull"
	ReasonRescan = "rescan"
	ReasonEvent  = "event"
)

// Window is the activity window of a list task, in days.
type Window struct {
	PushDays int `json:"pushDays"`
	PullDays int `json:"pullDays"`
}

// ListTask asks "listrepo" to list repositories of one registry and enqueue due
// scans: one (Repository, with RepositoryUpdatedAt) or, since the sweep batches them,
// up to [MaxListRepositories] (Repositories), never both. [ListTask.Each] is the
// task as one single-repository task per repository.
type ListTask struct {
	V          int    `json:"v"`
	Registry   string `json:"registry"`
	Repository string `json:"repository,omitempty"`
	RunID      string `json:"runId"`
	Window     Window `json:"window"`
	// RepositoryUpdatedAt is the registry's last-update time of the repository the
	// sweep saw (ACR), which listrepo records once the listing is complete; zero for
	// registries that do not report one.
	RepositoryUpdatedAt time.Time `json:"repositoryUpdatedAt,omitzero"`
	// RepositoryNew says the sweep found no activity rows of the repository (see
	// [Store.RepositoriesWithActivity]): listrepo then writes its first rows without
	// reading the partition, each insert failing should a row exist after all (a
	// racing event), and lists it again as a known repository if one does. False:
	// unknown, the partition is read.
	RepositoryNew bool `json:"repositoryNew,omitempty"`
	// Repositories, when set, are the repositories the task lists, each with its
	// last-update time and newness as RepositoryUpdatedAt and RepositoryNew are;
	// Repository is then empty.
	Repositories []ListRepository `json:"repositories,omitempty"`
}

// ListRepository is one repository of a [ListTask] that lists several.
type ListRepository struct {
	Name      string    `json:"name"`
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	New       bool      `json:"new,omitempty"`
}

// MaxListRepositories is the most repositories one list task may carry.
const MaxListRepositories = 50

// Each returns t as single-repository tasks, one per repository it lists, in order.
func (t ListTask) Each() []ListTask {
	if len(t.Repositories) == 0 {
		return []ListTask{t}
	}
	out := make([]ListTask, 0, len(t.Repositories))
	for _, r := range t.Repositories {
		one := t
		one.Repositories = nil
		one.Repository, one.RepositoryUpdatedAt, one.RepositoryNew = r.Name, r.UpdatedAt, r.New
		out = append(out, one)
	}
	return out
}

// ScanTask asks "scan" to scan one image digest (an index means every platform):
// one (Digest, with Tags and Reason) or, since listrepo batches a list task's due
// digests, up to [MaxScanDigests] (Digests, each of Repository or of the repository
// it names), never both. [ScanTask.Each] is the task
// as one single-digest task per digest. Registry events and the digests a batch
// splits off are single-digest tasks.
type ScanTask struct {
	V          int      `json:"v"`
	Registry   string   `json:"registry"`
	Repository string   `json:"repository"`
	Digest     string   `json:"digest,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	RunID      string   `json:"runId"`
	// Digests, when set, are the digests the task scans, one after another; Digest,
	// Tags and Reason are then empty.
	Digests []ScanDigest `json:"digests,omitempty"`
}

// ScanDigest is one digest of a [ScanTask] that scans several.
type ScanDigest struct {
	Digest string   `json:"digest"`
	Tags   []string `json:"tags"`
	Reason string   `json:"reason"`
	// Repository, when set, is the digest's repository, of the task's registry: a
	// list task of several repositories sends their due digests together. Empty: the
	// task's Repository.
	Repository string `json:"repository,omitempty"`
}

// MaxScanDigests is the most digests one scan task may carry.
const MaxScanDigests = 50

// MaxMessageBytes is the most bytes of message text a batch task is packed to: the
// Queue service takes 64 KiB of (base64, so 4/3 larger) wire text; the rest is
// margin. A single-digest task is not checked (a digest with more tags than fit is
// refused by the queue, as before batches).
const MaxMessageBytes = 46 * 1024

// Each returns t as single-digest tasks, one per digest it scans, in order.
func (t ScanTask) Each() []ScanTask {
	if len(t.Digests) == 0 {
		return []ScanTask{t}
	}
	out := make([]ScanTask, 0, len(t.Digests))
	for _, d := range t.Digests {
		one := t
		one.Digests = nil
		one.Digest, one.Tags, one.Reason = d.Digest, d.Tags, d.Reason
		if d.Repository != "" {
			one.Repository = d.Repository
		}
		out = append(out, one)
	}
	return out
}

// RematchTask asks "rematch" to re-match one page of stored inventories against the
// current advisory index, without registry traffic. A page is the images rows after
// the cursor (Partition, Continuation) in key order, across partitions; an empty
// cursor starts at the first row. Scope, when set, narrows the task to one digest's
// rows instead (listrepo's per-digest rematch): such a task has no next page.
type RematchTask struct {
	V int `json:"v"`
	// Generation is the advisory generation that asked for the rematch (the synced
	// pointer's, or the loaded index's for listrepo); rows are matched against the
	// index loaded when the page runs.
	Generation string `json:"generation"`
	// Partition and Continuation are the images PartitionKey and RowKey of the last
	// row of the previous page (both empty for the first page).
	Partition    string        `json:"partition,omitempty"`
	Continuation string        `json:"continuation,omitempty"`
	RunID        string        `json:"runId,omitempty"`
	Scope        *RematchScope `json:"scope,omitempty"`
}

// RematchScope is one digest of one repository: its own row and its platforms'.
type RematchScope struct {
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Digest     string `json:"digest"`
}

// Validate reports what makes t unprocessable, wrapping ErrBadMessage. Registry and
// each repository must parse as a registry host and a repository path on it
// (go-containerregistry's name package); a task names one repository or 1 to
// MaxListRepositories distinct ones.
func (t ListTask) Validate() error {
	many := len(t.Repositories) > 0
	if err := check("list-task", t.V,
		field{"registry", t.Registry != ""},
		field{"repository", (t.Repository != "") != many},
		field{"repositories", len(t.Repositories) <= MaxListRepositories && (!many || (t.RepositoryUpdatedAt.IsZero() && !t.RepositoryNew))},
		field{"runId", validRunID(t.RunID)},
		field{"window", t.Window.PushDays >= 0 && t.Window.PullDays >= 0}); err != nil {
		return err
	}
	seen := make(map[string]bool, len(t.Repositories))
	for _, one := range t.Each() {
		if seen[one.Repository] {
			return fmt.Errorf("%w: list-task lists repository %q twice", ErrBadMessage, one.Repository)
		}
		seen[one.Repository] = true
		if err := checkReference("list-task", one.Registry, one.Repository, "", nil); err != nil {
			return err
		}
	}
	return nil
}

// Validate reports what makes t unprocessable, wrapping ErrBadMessage. Registry,
// repository, each digest (sha256, 64 hex digits) and its tags must parse as an image
// reference (go-containerregistry's name package); a task names one digest or 1 to
// MaxScanDigests distinct ones (of its repository, or each of the repository it
// names), each with a reason.
func (t ScanTask) Validate() error {
	many := len(t.Digests) > 0
	if err := check("scan-task", t.V,
		field{"registry", t.Registry != ""},
		field{"repository", t.Repository != ""},
		field{"digest", (t.Digest != "") != many},
		field{"digests", len(t.Digests) <= MaxScanDigests && (!many || (len(t.Tags) == 0 && t.Reason == ""))},
		field{"runId", validRunID(t.RunID)}); err != nil {
		return err
	}
	seen := make(map[string]bool, len(t.Digests))
	for _, one := range t.Each() {
		if seen[one.Repository+"@"+one.Digest] {
			return fmt.Errorf("%w: scan-task scans digest %q of %q twice", ErrBadMessage, one.Digest, one.Repository)
		}
		seen[one.Repository+"@"+one.Digest] = true
		if err := check("scan-task", t.V,
			field{"digest", one.Digest != ""},
			field{"reason", validReason(one.Reason)}); err != nil {
			return err
		}
		if err := checkReference("scan-task", one.Registry, one.Repository, one.Digest, one.Tags); err != nil {
			return err
		}
	}
	return nil
}

func validReason(r string) bool {
	return r == ReasonPush || r == ReasonPull || r == ReasonRescan || r == ReasonEvent
}

// qualifier is what goes in front of repository so that it parses as a repository of
// reg: nothing when it does so alone, else "reg/" — a first component with a dot
// ("data.eng/api") would parse as a host, but it is a path of reg, as every registry
// request qualifies it with reg's host.
func qualifier(reg name.Registry, repository string) string {
	if repo, err := name.NewRepository(repository, name.WithDefaultRegistry(reg.RegistryStr())); err == nil && repo.RegistryStr() == reg.RegistryStr() {
		return ""
	}
	return reg.RegistryStr() + "/"
}

// validRunID reports whether id can key a run (see [Store.RecordInvocation]).
func validRunID(id string) bool { return !strings.Contains(id, invocationSeparator) }

// checkReference validates registry/repository[@digest] and each tag on it, and
// insists that each parses back, under the message's registry, to exactly what the
// message says.
func checkReference(kind, registry, repository, digest string, tags []string) error {
	bad := func(what, value string, err error) error {
		return fmt.Errorf("%w: %s has an invalid %s %q: %w", ErrBadMessage, kind, what, value, err)
	}
	reg, err := name.NewRegistry(registry, name.StrictValidation)
	if err != nil {
		return bad("registry", registry, err)
	}
	inRegistry := name.WithDefaultRegistry(reg.RegistryStr())
	qualified := qualifier(reg, repository)
	repo, err := name.NewRepository(qualified+repository, inRegistry)
	if err == nil && (repo.RegistryStr() != reg.RegistryStr() || repo.RepositoryStr() != repository) {
		err = fmt.Errorf("parses as %s", repo.Name())
	}
	if err != nil {
		return bad("repository", repository, err)
	}
	if digest != "" {
		d, err := name.NewDigest(qualified+repository+"@"+digest, inRegistry)
		if err == nil && d.DigestStr() != digest {
			err = errors.New("does not parse back unchanged")
		}
		if err != nil {
			return bad("digest", digest, err)
		}
	}
	for _, tag := range tags {
		parsed, err := name.NewTag(qualified+repository+":"+tag, inRegistry)
		if err == nil && parsed.TagStr() != tag {
			err = errors.New("does not parse back unchanged")
		}
		if err != nil {
			return bad("tag", tag, err)
		}
	}
	return nil
}

// Validate reports what makes t unprocessable, wrapping ErrBadMessage. A cursor has
// both keys or neither; a scope must parse as a digest reference.
func (t RematchTask) Validate() error {
	if err := check("rematch-task", t.V,
		field{"generation", t.Generation != ""},
		field{"runId", validRunID(t.RunID)},
		field{"continuation", (t.Partition == "") == (t.Continuation == "")}); err != nil {
		return err
	}
	if t.Scope == nil {
		return nil
	}
	if err := check("rematch-task", t.V,
		field{"scope.registry", t.Scope.Registry != ""},
		field{"scope.repository", t.Scope.Repository != ""},
		field{"scope.digest", t.Scope.Digest != ""}); err != nil {
		return err
	}
	return checkReference("rematch-task", t.Scope.Registry, t.Scope.Repository, t.Scope.Digest, nil)
}

type field struct {
	name string
	ok   bool
}

func check(kind string, version int, fields ...field) error {
	if version != MessageVersion {
		return fmt.Errorf("%w: %s has version %d, want %d", ErrBadMessage, kind, version, MessageVersion)
	}
	for _, f := range fields {
		if !f.ok {
			return fmt.Errorf("%w: %s has a missing or invalid %q", ErrBadMessage, kind, f.name)
		}
	}
	return nil
}

// EncodeListTask stamps the version, validates and marshals t.
func EncodeListTask(t ListTask) ([]byte, error) {
	t.V = MessageVersion
	return encode(t, t.Validate())
}

// EncodeScanTask stamps the version, validates and marshals t.
func EncodeScanTask(t ScanTask) ([]byte, error) {
	t.V = MessageVersion
	return encode(t, t.Validate())
}

// EncodeRematchTask stamps the version, validates and marshals t.
func EncodeRematchTask(t RematchTask) ([]byte, error) {
	t.V = MessageVersion
	return encode(t, t.Validate())
}

func encode(v any, invalid error) ([]byte, error) {
	if invalid != nil {
		return nil, invalid
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encoding message: %w", err)
	}
	return b, nil
}

// DecodeListTask parses and validates a list-task; errors wrap ErrBadMessage.
func DecodeListTask(text []byte) (ListTask, error) {
	var t ListTask
	if err := decode("list-task", text, &t); err != nil {
		return ListTask{}, err
	}
	if err := t.Validate(); err != nil {
		return ListTask{}, err
	}
	return t, nil
}

// DecodeScanTask parses and validates a scan-task; errors wrap ErrBadMessage.
func DecodeScanTask(text []byte) (ScanTask, error) {
	var t ScanTask
	if err := decode("scan-task", text, &t); err != nil {
		return ScanTask{}, err
	}
	if err := t.Validate(); err != nil {
		return ScanTask{}, err
	}
	return t, nil
}

// DecodeRematchTask parses and validates a rematch-task; errors wrap ErrBadMessage.
func DecodeRematchTask(text []byte) (RematchTask, error) {
	var t RematchTask
	if err := decode("rematch-task", text, &t); err != nil {
		return RematchTask{}, err
	}
	if err := t.Validate(); err != nil {
		return RematchTask{}, err
	}
	return t, nil
}

func decode(kind string, text []byte, v any) error {
	if err := json.Unmarshal(text, v); err != nil {
		return fmt.Errorf("%w: %s is not valid JSON: %v", ErrBadMessage, kind, err)
	}
	return nil
}
