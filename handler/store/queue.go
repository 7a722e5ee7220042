package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

// maxReceive is the Queue service's limit on messages per Get Messages call.
const maxReceive = 32

// Queue is one storage queue. Message text is base64-encoded on the wire because
// host.json sets messageEncoding "base64": the Functions host decodes what we send.
type Queue struct {
	name   string
	client *azqueue.QueueClient
	poison *Queue
}

// Message is a received queue message.
type Message struct {
	ID           string
	PopReceipt   string
	DequeueCount int64
	InsertedAt   time.Time
	// Text is the decoded message text. A message whose wire text is not base64 (sent
	// by a producer that did not encode) is passed through as is.
	Text []byte

	wire string
}

func (s *Store) newQueue(canonical string) *Queue {
	name := s.queueName(canonical)
	poisonName := s.queueName(canonical + PoisonSuffix)
	return &Queue{
		name:   name,
		client: s.queues.NewQueueClient(name),
		poison: &Queue{name: poisonName, client: s.queues.NewQueueClient(poisonName)},
	}
}

// Name returns the queue's actual name.
func (q *Queue) Name() string { return q.name }

// Poison returns the "<name>-poison" queue, or nil for a poison queue.
func (q *Queue) Poison() *Queue { return q.poison }

// MaxSendDelay is the longest visibility delay the Queue service accepts (7 days).
const MaxSendDelay = 7 * 24 * time.Hour

// Send enqueues text, base64-encoded.
func (q *Queue) Send(ctx context.Context, text []byte) error {
	return q.sendWire(ctx, base64.StdEncoding.EncodeToString(text), nil)
}

// SendAfter enqueues text, base64-encoded, invisible until delay (at most
// MaxSendDelay, whole seconds) has passed. The message does not expire: a delay up to
// the cap must stay within its time to live, which by default is also 7 days.
func (q *Queue) SendAfter(ctx context.Context, text []byte, delay time.Duration) error {
	vis := int32(min(max(delay, 0), MaxSendDelay) / time.Second)
	forever := int32(-1)
	return q.sendWire(ctx, base64.StdEncoding.EncodeToString(text),
		&azqueue.EnqueueMessageOptions{VisibilityTimeout: &vis, TimeToLive: &forever})
}

func (q *Queue) sendWire(ctx context.Context, wire string, opts *azqueue.EnqueueMessageOptions) error {
	if _, err := q.client.EnqueueMessage(ctx, wire, opts); err != nil {
		return fmt.Errorf("sending to queue %s: %w", q.name, err)
	}
	return nil
}

// Receive dequeues up to limit (at most 32) visible messages and hides them for
// visibility (at least one second).
func (q *Queue) Receive(ctx context.Context, limit int, visibility time.Duration) ([]Message, error) {
	n := int32(min(max(limit, 1), maxReceive))
	vis := int32(max(visibility/time.Second, 1))
	resp, err := q.client.DequeueMessages(ctx, &azqueue.DequeueMessagesOptions{NumberOfMessages: &n, VisibilityTimeout: &vis})
	if err != nil {
		return nil, fmt.Errorf("receiving from queue %s: %w", q.name, err)
	}
	msgs := make([]Message, 0, len(resp.Messages))
	for _, m := range resp.Messages {
		msg := Message{wire: deref(m.MessageText)}
		msg.ID, msg.PopReceipt = deref(m.MessageID), deref(m.PopReceipt)
		if m.DequeueCount != nil {
			msg.DequeueCount = *m.DequeueCount
		}
		if m.InsertionTime != nil {
			msg.InsertedAt = m.InsertionTime.UTC()
		}
		msg.Text = decodeWire(msg.wire)
		msgs = append(msgs, msg)
	}
	return msgs, nil
}

// decodeWire undoes the base64 wire encoding, passing through text that is not base64.
func decodeWire(wire string) []byte {
	if text, err := base64.StdEncoding.DecodeString(wire); err == nil {
		return text
	}
	return []byte(wire)
}

// Delete removes a received message.
func (q *Queue) Delete(ctx context.Context, m Message) error {
	if _, err := q.client.DeleteMessage(ctx, m.ID, m.PopReceipt, nil); err != nil {
		return fmt.Errorf("deleting message %s from queue %s: %w", m.ID, q.name, err)
	}
	return nil
}

// Release makes a received message visible again after delay, unchanged.
func (q *Queue) Release(ctx context.Context, m Message, delay time.Duration) error {
	vis := int32(max(delay/time.Second, 0))
	_, err := q.client.UpdateMessage(ctx, m.ID, m.PopReceipt, m.wire, &azqueue.UpdateMessageOptions{VisibilityTimeout: &vis})
	if err != nil {
		return fmt.Errorf("releasing message %s on queue %s: %w", m.ID, q.name, err)
	}
	return nil
}

// MoveToPoison copies a received message, byte for byte, to the poison queue (as the
// Functions host would) and deletes it here.
func (q *Queue) MoveToPoison(ctx context.Context, m Message) error {
	if q.poison == nil {
		return fmt.Errorf("moving message %s: queue %s has no poison queue", m.ID, q.name)
	}
	if err := q.poison.sendWire(ctx, m.wire, nil); err != nil {
		return fmt.Errorf("moving message %s to poison: %w", m.ID, err)
	}
	return q.Delete(ctx, m)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// ApproximateCount is the service's approximate number of messages in the queue,
// invisible (in-flight or delayed) ones included.
func (q *Queue) ApproximateCount(ctx context.Context) (int, error) {
	resp, err := q.client.GetProperties(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("reading properties of queue %s: %w", q.name, err)
	}
	if resp.ApproximateMessagesCount == nil {
		return 0, fmt.Errorf("queue %s: no approximate message count in response", q.name)
	}
	return int(*resp.ApproximateMessagesCount), nil
}
