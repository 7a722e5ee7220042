package cli

import (
	"runtime"
	"testing"
)

func TestUserCacheDirFollowsTheXDGRulesOfTheCommandsEnvironment(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the XDG rules are the Linux ones")
	}
	tests := []struct {
		name    string
		environ []string
		want    string
		wantErr bool
	}{
		{"XDG_CACHE_HOME wins over HOME", []string{"HOME=/home/u", "XDG_CACHE_HOME=/var/cache/u"}, "/var/cache/u", false},
		{"without XDG_CACHE_HOME it is ~/.cache", []string{"HOME=/home/u"}, "/home/u/.cache", false},
		{"an empty XDG_CACHE_HOME counts as unset", []string{"HOME=/home/u", "XDG_CACHE_HOME="}, "/home/u/.cache", false},
		{"a relative XDG_CACHE_HOME is an error", []string{"HOME=/home/u", "XDG_CACHE_HOME=cache"}, "", true},
		{"neither variable is an error", []string{"PATH=/bin"}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := userCacheDir(Env{Environ: tt.environ})
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("userCacheDir = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
