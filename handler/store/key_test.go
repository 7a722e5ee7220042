package store

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestEscapeKey(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"an empty key stays empty", "", ""},
		{"a plain name is unchanged", "library-debian_12.0", "library-debian_12.0"},
		{"slashes of a nested repository are encoded", "ghcr.io/a/b/c", "ghcr.io%2Fa%2Fb%2Fc"},
		{"a percent sign is encoded so decoding is unambiguous", "100%", "100%25"},
		{"hash, question mark and backslash are encoded", `a#b?c\d`, "a%23b%3Fc%5Cd"},
		{"a single quote is encoded", "o'brien", "o%27brien"},
		{"C0 controls and DEL are encoded", "a\x00b\tc\x1fd\x7f", "a%00b%09c%1Fd%7F"},
		{"C1 controls are encoded as their UTF-8 bytes", "a\u0085b\u009fc", "a%C2%85b%C2%9Fc"},
		{"other unicode is kept readable", "café/日本", "café%2F日本"},
		{"an invalid UTF-8 byte is encoded", "a\xffb", "a%FFb"},
		{"a digest keeps its colon", "sha256:abc", "sha256:abc"},
		{"tildes of finding keys are kept", "CVE-1~Debian:12~libc6", "CVE-1~Debian:12~libc6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EscapeKey(tt.in)
			if got != tt.want {
				t.Fatalf("EscapeKey(%q) = %q, want %q", tt.in, got, tt.want)
			}
			back, err := UnescapeKey(got)
			if err != nil || back != tt.in {
				t.Fatalf("UnescapeKey(%q) = %q, %v; want %q", got, back, err, tt.in)
			}
		})
	}
}

func TestUnescapeKeyRejectsMalformedEscapes(t *testing.T) {
	for _, in := range []string{"%", "a%2", "%zz", "%2g"} {
		t.Run("rejects "+in, func(t *testing.T) {
			if got, err := UnescapeKey(in); err == nil {
				t.Fatalf("UnescapeKey(%q) = %q, want an error", in, got)
			}
		})
	}
}

func FuzzEscapeKey(f *testing.F) {
	for _, seed := range []string{"", "a/b/c", "%", "%25", "#?", `\`, "'", "\x00\x7f\u0085", "日本/語", "\xff\xfe", "registry.example:5000/team/app"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		escaped := EscapeKey(s)
		if !utf8.ValidString(escaped) {
			t.Fatalf("EscapeKey(%q) = %q is not valid UTF-8", s, escaped)
		}
		for _, r := range escaped {
			if r <= 0x1f || (r >= 0x7f && r <= 0x9f) || strings.ContainsRune(`/\#?'`, r) {
				t.Fatalf("EscapeKey(%q) = %q holds forbidden %U", s, escaped, r)
			}
		}
		back, err := UnescapeKey(escaped)
		if err != nil {
			t.Fatalf("UnescapeKey(EscapeKey(%q)): %v", s, err)
		}
		if back != s {
			t.Fatalf("round trip of %q gave %q", s, back)
		}
	})
}

func TestAwkwardRepositoryNamesRoundTripThroughTheTableService(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	repos := []string{"a/b/c", "100%/x", "we#ird?/name", `back\slash`, "o'brien/ünï/日本", "tab\there"}
	for _, repo := range repos {
		t.Run(repo, func(t *testing.T) {
			want := Tag{Registry: "reg.example:5000", Repository: repo, Name: "v1#?/%", Digest: "sha256:aa", ChangedAt: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
			if err := s.PutTags(ctx, want.Registry, repo, []Tag{want}); err != nil {
				t.Fatal(err)
			}
			fs := []Finding{{VulnerabilityID: "CVE-1#?", Ecosystem: "Debian:12", Package: "p/q", Location: `usr\lib`, State: "active"}}
			if err := s.PutFindings(ctx, want.Registry, repo, "sha256:aa", fs); err != nil {
				t.Fatal(err)
			}
			if got, err := s.FindingsOf(ctx, want.Registry, repo, "sha256:aa"); err != nil || len(got) != 1 || got[0].Location != fs[0].Location {
				t.Fatalf("FindingsOf = %+v, %v; want the one finding written", got, err)
			}
			got, err := s.GetTag(ctx, want.Registry, repo, want.Name)
			if err != nil {
				t.Fatal(err)
			}
			if got.Name != want.Name || got.Repository != repo || got.Digest != want.Digest {
				t.Fatalf("got %+v, want %+v", got, want)
			}
			listed, err := s.ListTags(ctx, want.Registry, repo)
			if err != nil {
				t.Fatal(err)
			}
			if len(listed) != 1 || listed[0].Name != want.Name {
				t.Fatalf("ListTags = %+v, want just %q", listed, want.Name)
			}
		})
	}
}
