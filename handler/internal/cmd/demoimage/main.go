// Command demoimage puts demo images into a local registry for scripts/dev.sh:
//
//	demoimage push ARCHIVE REF            push an OCI-layout tar (image or index) as REF
//	demoimage rootfs DIR REF              push a one-layer image of a root filesystem
//	demoimage patch BASE NEW DEB...       push BASE plus one layer that installs DEBs
//
// "patch" builds what `apt-get install --only-upgrade` leaves behind: the files of each
// .deb and a /var/lib/dpkg/status whose stanzas for those packages carry the new
// control fields. It uses dpkg-deb to read the packages. It is a development tool; the
// scanner never uses it.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "demoimage:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) < 3 {
		return fmt.Errorf("usage: demoimage push ARCHIVE REF | rootfs DIR REF | patch BASE NEW DEB...")
	}
	switch args[0] {
	case "push":
		return pushArchive(ctx, args[1], args[2])
	case "rootfs":
		return pushRootfs(ctx, args[1], args[2])
	case "patch":
		if len(args) < 4 {
			return fmt.Errorf("usage: demoimage patch BASE NEW DEB...")
		}
		return patch(ctx, args[1], args[2], args[3:])
	}
	return fmt.Errorf("unknown subcommand %q", args[0])
}

// parseRef parses a reference to a plain-HTTP loopback registry.
func parseRef(s string) (name.Reference, error) {
	ref, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		return nil, fmt.Errorf("parsing reference %q: %w", s, err)
	}
	return ref, nil
}

func remoteOpts(ctx context.Context) []remote.Option {
	return []remote.Option{remote.WithContext(ctx), remote.WithUserAgent("tidewatch-demoimage")}
}
