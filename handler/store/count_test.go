package store

import (
	"context"
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/google/go-cmp/cmp"
)

func TestTransactionCounterCountsEachRequestUnderItsServiceAndResource(t *testing.T) {
	counter := NewTransactionCounter()
	s := newTestStore(t, WithTransactionCounter(counter))
	ctx := context.Background()
	before := counter.Counts()

	// One SDK call is one request: a missing entity (404 is still billed), an enqueue,
	// and the properties of a container.
	_, err := s.activity.GetEntity(ctx, "no-such-partition", "no-such-row", nil)
	var respErr *azcore.ResponseError
	if !errors.As(err, &respErr) || respErr.StatusCode != 404 {
		t.Fatalf("reading a missing entity: %v, want a 404", err)
	}
	if err := s.ListTasks().Send(ctx, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.layerBlobs.client.GetProperties(ctx, nil); err != nil {
		t.Fatal(err)
	}

	got := map[TransactionKey]int64{}
	for k, n := range counter.Counts() {
		if d := n - before[k]; d != 0 {
			got[k] = d
		}
	}
	want := map[TransactionKey]int64{
		{Service: ServiceTable, Resource: s.name(TableActivity), Method: "GET"}:   1,
		{Service: ServiceQueue, Resource: s.name(QueueListTasks), Method: "POST"}: 1,
		{Service: ServiceBlob, Resource: s.name(ContainerLayers), Method: "GET"}:  1,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("transactions counted (-want +got):\n%s", diff)
	}
	if n := counter.ByService()[ServiceTable]; n < 1 {
		t.Errorf("ByService()[table] = %d, want the table requests counted", n)
	}
}
