package host

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// ErrNoBinding is returned when the invocation carries no value for a binding name.
var ErrNoBinding = errors.New("binding not present in invocation data")

// ErrNullBinding is returned when a binding is present but its value is null.
var ErrNullBinding = errors.New("binding value is null")

// Invocation is one request from the Functions host: the function it is for, the
// invocation id, and the binding data and trigger metadata as the host sent them.
// Use the accessors rather than decoding Data and Metadata by hand: they accept every
// encoding the host is known to produce.
type Invocation struct {
	Function     string
	InvocationID string
	Data         map[string]json.RawMessage
	Metadata     map[string]json.RawMessage
}

// QueueMessage returns the text of the queue message bound to binding. The value may be
// a JSON string holding the text (documented form), a JSON string holding the text
// JSON-encoded once more (what the host code sends), or a raw JSON object or array
// (returned as is). A message text that is itself a JSON string literal is therefore
// ambiguous and is unquoted; Tidewatch messages are JSON objects.
func (inv *Invocation) QueueMessage(binding string) ([]byte, error) {
	raw, ok := inv.Data[binding]
	if !ok {
		return nil, fmt.Errorf("reading queue message %q: %w", binding, ErrNoBinding)
	}
	if isNull(raw) {
		return nil, fmt.Errorf("reading queue message %q: %w", binding, ErrNullBinding)
	}
	text, isString, err := unquote(raw)
	if err != nil {
		return nil, fmt.Errorf("reading queue message %q: %w", binding, err)
	}
	if !isString {
		return bytes.Clone(bytes.TrimSpace(raw)), nil
	}
	return []byte(text), nil
}

// DequeueCount returns how many times the queue message has been dequeued, accepting
// the number 1 as well as the strings "1" and "\"1\"". It returns 0 when the metadata
// has no usable DequeueCount (for example for a timer trigger).
func (inv *Invocation) DequeueCount() int {
	n, err := strconv.Atoi(inv.MetadataString("DequeueCount"))
	if err != nil {
		return 0
	}
	return n
}

// MessageID returns the queue message's id (trigger metadata "Id"), the same on every
// delivery of one message, or "" for a trigger without one.
func (inv *Invocation) MessageID() string { return inv.MetadataString("Id") }

// MetadataString returns the trigger metadata value for key as plain text: JSON strings
// are unquoted however often the host quoted them, other JSON values (numbers, objects)
// are returned as their JSON text. A missing or null value yields "".
func (inv *Invocation) MetadataString(key string) string {
	raw, ok := inv.Metadata[key]
	if !ok || isNull(raw) {
		return ""
	}
	text, isString, err := unquote(raw)
	if err != nil || !isString {
		return string(bytes.TrimSpace(raw))
	}
	return text
}
