package store

import (
	"context"
	"encoding/base64"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
	"github.com/google/go-cmp/cmp"
)

// peekWire returns the raw wire text of every visible message of q.
func peekWire(t *testing.T, q *Queue) []string {
	t.Helper()
	n := int32(32)
	resp, err := q.client.PeekMessages(context.Background(), &azqueue.PeekMessagesOptions{NumberOfMessages: &n})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range resp.Messages {
		texts = append(texts, *m.MessageText)
	}
	return texts
}

func TestQueueWireFormatIsBase64OfTheJSON(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	text, err := EncodeScanTask(ScanTask{Registry: "r.example", Repository: "a/b", Digest: "sha256:ab12cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc", Tags: []string{"1.2"}, Reason: ReasonPush, RunID: "run-1"})
	if err != nil {
		t.Fatal(err)
	}
	wantJSON := `{"v":1,"registry":"r.example","repository":"a/b","digest":"sha256:ab12cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc","tags":["1.2"],"reason":"push","runId":"run-1"}`
	if string(text) != wantJSON {
		t.Fatalf("encoded %s, want %s", text, wantJSON)
	}
	if err := s.ScanTasks().Send(ctx, text); err != nil {
		t.Fatal(err)
	}
	wire := peekWire(t, s.ScanTasks())
	if diff := cmp.Diff([]string{base64.StdEncoding.EncodeToString([]byte(wantJSON))}, wire); diff != "" {
		t.Errorf("wire text (-want +got):\n%s", diff)
	}

	msgs, err := s.ScanTasks().Receive(ctx, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 1 {
		t.Fatalf("received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if string(m.Text) != wantJSON || m.DequeueCount != 1 || m.ID == "" || m.PopReceipt == "" || m.InsertedAt.IsZero() {
		t.Errorf("received %+v", m)
	}
	task, err := DecodeScanTask(m.Text)
	if err != nil {
		t.Fatal(err)
	}
	if task.Digest != "sha256:ab12cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc" {
		t.Errorf("decoded %+v", task)
	}
}

func TestQueueReleaseDeleteAndPoison(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	q := s.RematchTasks()
	for _, gen := range []string{"g1", "g2"} {
		text, err := EncodeRematchTask(RematchTask{Generation: gen, Partition: "p", Continuation: "r"})
		if err != nil {
			t.Fatal(err)
		}
		if err := q.Send(ctx, text); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := q.Receive(ctx, 2, time.Hour)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("received %d, %v; want 2", len(msgs), err)
	}

	t.Run("received messages are hidden", func(t *testing.T) {
		if got := peekWire(t, q); len(got) != 0 {
			t.Errorf("%d messages visible while leased", len(got))
		}
	})
	t.Run("a released message is visible again and counts its dequeue", func(t *testing.T) {
		if err := q.Release(ctx, msgs[0], 0); err != nil {
			t.Fatal(err)
		}
		again, err := q.Receive(ctx, 1, time.Hour)
		if err != nil || len(again) != 1 {
			t.Fatalf("received %d, %v; want 1", len(again), err)
		}
		if again[0].ID != msgs[0].ID || again[0].DequeueCount != 2 || string(again[0].Text) != string(msgs[0].Text) {
			t.Errorf("got %+v after release of %+v", again[0], msgs[0])
		}
		msgs[0] = again[0]
	})
	t.Run("a message moved to poison lands there unchanged and leaves the queue", func(t *testing.T) {
		wireBefore := msgs[0].wire
		if err := q.MoveToPoison(ctx, msgs[0]); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{wireBefore}, peekWire(t, q.Poison())); diff != "" {
			t.Errorf("poison queue (-want +got):\n%s", diff)
		}
		if q.Poison().Name() != q.Name()+"-poison" {
			t.Errorf("poison queue is %s for %s", q.Poison().Name(), q.Name())
		}
		if q.Poison().Poison() != nil {
			t.Error("a poison queue has its own poison queue")
		}
	})
	t.Run("a deleted message is gone", func(t *testing.T) {
		if err := q.Delete(ctx, msgs[1]); err != nil {
			t.Fatal(err)
		}
		if err := q.Release(ctx, msgs[1], 0); err == nil {
			t.Error("releasing a deleted message succeeded")
		}
	})
}

func TestReceivePassesThroughUnencodedText(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	raw := `{"v":1,"registry":"r","repository":"x","runId":"1","window":{"pushDays":90,"pullDays":30}}`
	if _, err := s.ListTasks().client.EnqueueMessage(ctx, raw, nil); err != nil {
		t.Fatal(err)
	}
	msgs, err := s.ListTasks().Receive(ctx, 1, time.Minute)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("received %d, %v", len(msgs), err)
	}
	task, err := DecodeListTask(msgs[0].Text)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ListTask{V: 1, Registry: "r", Repository: "x", RunID: "1", Window: Window{PushDays: 90, PullDays: 30}}, task); diff != "" {
		t.Error(diff)
	}
}

func TestSendAfter(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		delay time.Duration
	}{
		{"a message sent an hour ahead is queued but not visible", time.Hour},
		{"a delay beyond the service's seven days is capped, not refused", 30 * 24 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := s.ScanTasks()
			before, err := q.ApproximateCount(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := q.SendAfter(ctx, []byte(`{"v":1}`), tc.delay); err != nil {
				t.Fatalf("SendAfter(%s): %v", tc.delay, err)
			}
			if n, err := q.ApproximateCount(ctx); err != nil || n != before+1 {
				t.Errorf("queue holds %d messages (%v), want %d", n, err, before+1)
			}
			if msgs, err := q.Receive(ctx, 32, time.Minute); err != nil || len(msgs) != 0 {
				t.Errorf("received %d messages (%v) at once, want none visible", len(msgs), err)
			}
		})
	}
}
