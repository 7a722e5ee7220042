package advisory_test

import (
	"context"
	"testing"

	"github.com/tidewatch/tidewatch/handler/advisory"
	"github.com/tidewatch/tidewatch/handler/internal/testenv"
)

func BenchmarkLoadDebian(b *testing.B) {
	dir := testenv.Advisories(b)
	ctx := context.Background()
	for b.Loop() {
		idx, err := advisory.Load(ctx, dir, []string{"Debian"})
		if err != nil {
			b.Fatal(err)
		}
		if idx.Records("Debian") == 0 {
			b.Fatal("no records")
		}
	}
}

// BenchmarkLoadDebianWithSeverityFolder is BenchmarkLoadDebian plus the shared GIT
// severity folder: the cost severity look-ups add to every load.
func BenchmarkLoadDebianWithSeverityFolder(b *testing.B) {
	dir := testenv.Advisories(b)
	ctx := context.Background()
	for b.Loop() {
		idx, err := advisory.Load(ctx, dir, []string{"Debian"}, advisory.WithSeverityFolder("GIT"))
		if err != nil {
			b.Fatal(err)
		}
		if idx.SeverityOf("CVE-2016-2179") == nil {
			b.Fatal("no severity for CVE-2016-2179")
		}
	}
}
