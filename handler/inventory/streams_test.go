package inventory_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/tidewatch/tidewatch/handler/internal/testenv"
	"github.com/tidewatch/tidewatch/handler/inventory"
)

func TestRHELStreamsComeFromTheContentManifestsElseTheMajorsDefaults(t *testing.T) {
	const (
		manifests = "root/buildinfo/content_manifests/"
		baseOS    = "Red Hat:enterprise_linux:9::baseos"
		appStream = "Red Hat:enterprise_linux:9::appstream"
	)
	osRelease := func(version string) map[string]inventory.OSReleaseFile {
		return map[string]inventory.OSReleaseFile{"etc/os-release": {Release: release("rhel", version)}}
	}
	type want struct {
		Streams             []string
		StreamsFrom         string
		UnmappedContentSets []string
	}
	tests := []struct {
		name   string
		layers []inventory.LayerResult
		want   want
	}{
		{"no content manifest: RHEL 9's BaseOS and AppStream",
			[]inventory.LayerResult{{OSReleaseFiles: osRelease("9.4")}},
			want{[]string{appStream, baseOS}, inventory.DefaultStreams, nil}},
		{"no content manifest: RHEL 8's BaseOS and AppStream",
			[]inventory.LayerResult{{OSReleaseFiles: osRelease("8.10")}},
			want{[]string{"Red Hat:enterprise_linux:8::appstream", "Red Hat:enterprise_linux:8::baseos"}, inventory.DefaultStreams, nil}},
		{"no content manifest and a major without known streams: none",
			[]inventory.LayerResult{{OSReleaseFiles: osRelease("10.0")}},
			want{nil, inventory.DefaultStreams, nil}},
		{"the manifests of every layer are united; UBI, CRB and EUS sets map to their streams, source sets are ignored",
			[]inventory.LayerResult{
				{OSReleaseFiles: osRelease("9.2"), ContentManifests: map[string][]string{manifests + "ubi9-container-9.2-489.json": {"ubi-9-for-x86_64-baseos-rpms", "ubi-9-appstream-rpms", "ubi-9-for-x86_64-appstream-source-rpms"}}},
				{ContentManifests: map[string][]string{manifests + "app-1.json": {"codeready-builder-for-rhel-9-x86_64-rpms", "rhel-9-for-aarch64-baseos-eus-rpms__9_DOT_2"}}},
			},
			want{[]string{appStream, baseOS, "Red Hat:enterprise_linux:9::crb", "Red Hat:rhel_eus:9.2::baseos"},
				manifests + "app-1.json, " + manifests + "ubi9-container-9.2-489.json", nil}},
		{"content sets naming no known stream are listed",
			[]inventory.LayerResult{{OSReleaseFiles: osRelease("9.4"), ContentManifests: map[string][]string{manifests + "ose.json": {"rhocp-4.16-for-rhel-9-x86_64-rpms", "rhel-9-for-x86_64-baseos-rpms", "rhel-8-for-x86_64-baseos-eus-rpms__9_DOT_2"}}}},
			want{[]string{baseOS}, manifests + "ose.json", []string{"rhel-8-for-x86_64-baseos-eus-rpms__9_DOT_2", "rhocp-4.16-for-rhel-9-x86_64-rpms"}}},
		{"a manifest an upper layer deletes no longer counts",
			[]inventory.LayerResult{
				{OSReleaseFiles: osRelease("9.4"), ContentManifests: map[string][]string{manifests + "a.json": {"rhel-9-for-x86_64-baseos-rpms"}}},
				{Whiteouts: []string{manifests + "a.json"}},
			},
			want{[]string{appStream, baseOS}, inventory.DefaultStreams, nil}},
		{"an unreadable manifest replaces the lower one and is skipped",
			[]inventory.LayerResult{
				{OSReleaseFiles: osRelease("9.4"), ContentManifests: map[string][]string{manifests + "a.json": {"rhel-9-for-x86_64-baseos-rpms"}}},
				{Skipped: map[string]string{manifests + "a.json": "content manifest is not valid JSON"}},
			},
			want{[]string{appStream, baseOS}, inventory.DefaultStreams, nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := inventory.Merge(layers(tt.layers...))
			if err != nil {
				t.Fatal(err)
			}
			got := want{inv.OS.Streams, inv.OS.StreamsFrom, inv.OS.UnmappedContentSets}
			if diff := gocmp.Diff(tt.want, got); diff != "" {
				t.Errorf("streams (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSUSEProductReleaseIsHowSUSENamesTheRelease(t *testing.T) {
	tests := []struct{ id, versionID, want string }{
		{"sles", "15.5", "15 SP5"},
		{"sles", "15.7", "15 SP7"},
		{"sles", "15", "15"},
		{"sles", "12.5", "12 SP5"},
		{"sles", "16.0", "16.0"},
		{"sle-micro", "5.5", "Micro 5.5"},
		{"sl-micro", "6.0", "Micro 6.0"},
	}
	for _, tt := range tests {
		t.Run(tt.id+" "+tt.versionID+" is "+tt.want, func(t *testing.T) {
			inv, err := inventory.Merge(layers(inventory.LayerResult{
				OSReleaseFiles: map[string]inventory.OSReleaseFile{"etc/os-release": {Release: release(tt.id, tt.versionID)}}}))
			if err != nil {
				t.Fatal(err)
			}
			if inv.OS.Ecosystem != "SUSE" || inv.OS.ProductRelease != tt.want {
				t.Errorf("ecosystem %q, product release %q; want SUSE, %q", inv.OS.Ecosystem, inv.OS.ProductRelease, tt.want)
			}
		})
	}
}

func TestContentManifestsAreReadOrSkippedWithTheReason(t *testing.T) {
	const dir = "root/buildinfo/content_manifests/"
	layer := testenv.GzipLayer(t, testenv.Tar(
		testenv.File(dir+"ubi9-container-9.4-1214.json", `{"metadata": {"icm_version": 1, "image_layer_index": 0},
			"content_sets": ["rhel-9-for-x86_64-baseos-rpms", "rhel-9-for-x86_64-appstream-rpms"], "image_contents": []}`),
		testenv.File("usr/share/buildinfo/content-sets.json", `{"metadata": {"icm_version": 1}, "from_dnf_hint": true, "content_sets": ["ubi-9-appstream-rpms"]}`),
		testenv.File(dir+"no-sets.json", `{"metadata": {"icm_version": 1}, "image_contents": []}`),
		testenv.File(dir+"broken.json", `{"content_sets": ["rhel-9-for-x86_64-baseos-rpms",`),
		testenv.File(dir+"numbers.json", `{"content_sets": [9]}`),
		testenv.File(dir+"huge.json", `{"content_sets": [], "image_contents": ["`+strings.Repeat("a", 1<<20)+`"]}`),
		testenv.File(dir+"README.txt", "not a manifest"),
		testenv.File(dir+"many.json", `{"content_sets": ["`+strings.Repeat(`a", "`, 64)+`b"]}`),
		testenv.File(dir+"long.json", `{"content_sets": ["`+strings.Repeat("a", 129)+`"]}`),
	))
	r, err := inventory.AnalyzeLayer(context.Background(), layer)
	if err != nil {
		t.Fatal(err)
	}
	wantSets := map[string][]string{
		dir + "ubi9-container-9.4-1214.json":    {"rhel-9-for-x86_64-baseos-rpms", "rhel-9-for-x86_64-appstream-rpms"},
		"usr/share/buildinfo/content-sets.json": {"ubi-9-appstream-rpms"},
	}
	if diff := gocmp.Diff(wantSets, r.ContentManifests); diff != "" {
		t.Errorf("content manifests (-want +got):\n%s", diff)
	}
	reasons := map[string]string{}
	for p, reason := range r.Skipped {
		reasons[p] = reason
	}
	for p, want := range map[string]string{
		dir + "no-sets.json": "no content_sets list",
		dir + "broken.json":  "not valid JSON",
		dir + "numbers.json": "not valid JSON",
		dir + "huge.json":    "larger than the 1024 KiB cap",
		dir + "many.json":    "more than 64 content sets",
		dir + "long.json":    "longer than 128 bytes",
	} {
		if !strings.Contains(reasons[p], want) {
			t.Errorf("%s skipped with %q, want a reason saying %q", p, reasons[p], want)
		}
		delete(reasons, p)
	}
	if len(reasons) != 0 {
		t.Errorf("other files skipped: %v", reasons)
	}
}

func TestALayerOfMoreContentManifestsThanTheCapHasTheRestSkipped(t *testing.T) {
	var entries []testenv.TarEntry
	for i := range 40 {
		entries = append(entries, testenv.File(fmt.Sprintf("root/buildinfo/content_manifests/m%02d.json", i), `{"content_sets": ["rhel-9-for-x86_64-baseos-rpms"]}`))
	}
	r, err := inventory.AnalyzeLayer(context.Background(), testenv.GzipLayer(t, testenv.Tar(entries...)))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.ContentManifests) != 32 || len(r.Skipped) != 8 {
		t.Errorf("%d manifests read and %d skipped, want 32 and 8", len(r.ContentManifests), len(r.Skipped))
	}
	for p, reason := range r.Skipped {
		if !strings.Contains(reason, "more than 32 content manifests") {
			t.Errorf("%s skipped with %q", p, reason)
		}
	}
}
