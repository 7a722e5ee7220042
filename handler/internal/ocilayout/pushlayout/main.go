// Command pushlayout pushes a shared fixture image (an OCI-layout tarball, see
// ../shared/images) unchanged to one or more plain-HTTP registry references, for
// scripts that need real images in a local docker-registry (scripts/cost.sh):
//
//	pushlayout ARCHIVE HOST/repo:tag...
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/tidewatch/tidewatch/handler/internal/ocilayout"
)

func main() { os.Exit(run(context.Background(), os.Args[1:])) }

func run(ctx context.Context, args []string) int {
	if len(args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: pushlayout ARCHIVE HOST/repo:tag...")
		return 2
	}
	for _, ref := range args[1:] {
		r, err := name.ParseReference(ref, name.Insecure)
		if err == nil {
			err = ocilayout.Push(ctx, args[0], r)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "pushlayout: %v\n", err)
			return 1
		}
	}
	return 0
}
