package fakeacr_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/tidewatch/tidewatch/handler/internal/fakeacr"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

// fsSlack is how far a file's mtime may trail time.Now: Linux stamps files with a
// coarse clock, up to a tick behind.
const fsSlack = 20 * time.Millisecond

// pushRandom pushes a new random linux/arch image to ref and returns its digest and
// the wall-clock interval the push took.
func pushRandom(t *testing.T, ref, arch string) (string, time.Time, time.Time) {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg.OS, cfg.Architecture = "linux", arch
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := remote.Write(r, img, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
	return digest.String(), before, time.Now()
}

// tag pushes the image at digest under another tag of repo.
func tag(t *testing.T, reg, repo, digest, to string) {
	t.Helper()
	src, err := name.NewDigest(reg+"/"+repo+"@"+digest, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(src, remote.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(src.Context().Tag(to), desc, remote.WithContext(t.Context())); err != nil {
		t.Fatal(err)
	}
}

func within(t *testing.T, what string, got, from, to time.Time) {
	t.Helper()
	if got.Before(from.Add(-fsSlack)) || got.After(to) {
		t.Errorf("%s = %s, want within the push, %s .. %s", what, got.Format(time.RFC3339Nano), from.Format(time.RFC3339Nano), to.Format(time.RFC3339Nano))
	}
}

func TestStorageListsWhatRealPushesLeftWithTheirTimes(t *testing.T) {
	reg := testenv.StartRegistry(t)
	api, apiFrom, apiTo := pushRandom(t, reg.Host+"/team/api:1", "amd64")
	retagFrom := time.Now()
	tag(t, reg.Host, "team/api", api, "2")
	retagTo := time.Now()
	_, _, _ = pushRandom(t, reg.Host+"/team/web/edge:1", "arm64")
	s, err := fakeacr.NewStorage(filepath.Join(reg.Dir, "data"))
	if err != nil {
		t.Fatal(err)
	}

	repos, err := s.Repositories()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"team/api", "team/web/edge"}, repos); diff != "" {
		t.Errorf("repositories (-want +got):\n%s", diff)
	}
	if _, ok, err := s.Attributes("team/none"); ok || err != nil {
		t.Errorf("Attributes of a repository never pushed: %v, %v; want false, nil", ok, err)
	}

	t.Run("a manifest has its digest, tags, platform and push time", func(t *testing.T) {
		ms, ok, err := s.Manifests("team/api")
		if err != nil || !ok || len(ms) != 1 {
			t.Fatalf("Manifests = %v, %v, %v; want the one pushed", ms, ok, err)
		}
		m := ms[0]
		got := struct {
			Digest, Arch, OS string
			Tags             []string
		}{m.Digest, deref(m.Architecture), deref(m.OS), m.Tags}
		want := struct {
			Digest, Arch, OS string
			Tags             []string
		}{api, "amd64", "linux", []string{"1", "2"}}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("manifest (-want +got):\n%s", diff)
		}
		within(t, "createdTime (the first push)", m.CreatedTime, apiFrom, apiTo)
		within(t, "lastUpdateTime (the retag)", m.LastUpdateTime, retagFrom, retagTo)
	})

	first, _, err := s.Attributes("team/api")
	if err != nil {
		t.Fatal(err)
	}
	webBefore, _, err := s.Attributes("team/web/edge")
	if err != nil {
		t.Fatal(err)
	}
	if first.TagCount != 2 || first.ManifestCount != 1 {
		t.Errorf("team/api counts: %d tags, %d manifests; want 2, 1", first.TagCount, first.ManifestCount)
	}

	t.Run("a re-push of a tag moves the repository's lastUpdateTime and only its", func(t *testing.T) {
		moved, from, to := pushRandom(t, reg.Host+"/team/api:2", "amd64")
		got, _, err := s.Attributes("team/api")
		if err != nil {
			t.Fatal(err)
		}
		within(t, "lastUpdateTime after the re-push", got.Updated, from, to)
		if !got.Updated.After(first.Updated) {
			t.Errorf("lastUpdateTime %s did not move past %s", got.Updated, first.Updated)
		}
		web, _, err := s.Attributes("team/web/edge")
		if err != nil {
			t.Fatal(err)
		}
		if !web.Updated.Equal(webBefore.Updated) {
			t.Errorf("team/web/edge lastUpdateTime moved from %s to %s without a push", webBefore.Updated, web.Updated)
		}
		ms, _, err := s.Manifests("team/api")
		if err != nil {
			t.Fatal(err)
		}
		tags := map[string][]string{}
		for _, m := range ms {
			tags[m.Digest] = m.Tags
		}
		if diff := cmp.Diff(map[string][]string{api: {"1"}, moved: {"2"}}, tags); diff != "" {
			t.Errorf("tags per digest after the re-push (-want +got):\n%s", diff)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
