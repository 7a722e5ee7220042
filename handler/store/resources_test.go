package store

import (
	"context"
	"sort"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/aztables"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/google/go-cmp/cmp"
)

type fakeCredential struct{}

func (fakeCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: "unused"}, nil
}

func TestEnsureResources(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()

	t.Run("a second call succeeds because existing resources are fine", func(t *testing.T) {
		if err := s.EnsureResources(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("every table exists under its suffixed name", func(t *testing.T) {
		var want, got []string
		for _, name := range Tables() {
			want = append(want, name+s.suffix)
		}
		filter := "TableName ge 'a'"
		pager := s.tables.NewListTablesPager(&aztables.ListTablesOptions{Filter: &filter})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, tbl := range page.Tables {
				if n := *tbl.Name; strings.HasSuffix(n, s.suffix) {
					got = append(got, n)
				}
			}
		}
		sort.Strings(want)
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("tables (-want +got):\n%s", diff)
		}
	})

	t.Run("every queue and poison queue exists", func(t *testing.T) {
		want := []string{
			"list-tasks" + s.suffix, "list-tasks" + s.suffix + "-poison",
			"registry-events" + s.suffix, "registry-events" + s.suffix + "-poison",
			"rematch-tasks" + s.suffix, "rematch-tasks" + s.suffix + "-poison",
			"scan-tasks" + s.suffix, "scan-tasks" + s.suffix + "-poison",
		}
		var got []string
		pager := s.queues.NewListQueuesPager(&azqueue.ListQueuesOptions{})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range page.Queues {
				if n := *q.Name; strings.Contains(n, s.suffix) {
					got = append(got, n)
				}
			}
		}
		sort.Strings(got)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("queues (-want +got):\n%s", diff)
		}
	})

	t.Run("every container exists", func(t *testing.T) {
		for _, c := range []*Container{s.advisories, s.inventories, s.layerBlobs} {
			if _, err := c.client.GetProperties(ctx, nil); err != nil {
				t.Errorf("container %s: %v", c.Name(), err)
			}
		}
	})
}
