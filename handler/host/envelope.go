package host

import (
	"encoding/json"
	"strconv"
	"time"
)

// Envelope is the body the Functions host POSTs for an invocation.
type Envelope struct {
	Data     map[string]json.RawMessage `json:"Data"`
	Metadata map[string]json.RawMessage `json:"Metadata"`
	// InvocationID is sent in the X-Azure-Functions-InvocationId header by Call; Call
	// generates one when it is empty.
	InvocationID string `json:"-"`
}

// Encoding selects which of the two known shapes of the envelope a builder produces.
type Encoding int

const (
	// HostEncoding is what the host code sends: every scalar goes through
	// JsonConvert.SerializeObject before the envelope is serialised, so message text
	// and string metadata are JSON-encoded twice and numbers arrive as strings.
	HostEncoding Encoding = iota
	// DocsEncoding is the simplified shape the custom-handler documentation shows:
	// message text as one JSON string, DequeueCount a number, Id a plain string.
	DocsEncoding
)

// Sys is the host's "sys" metadata object present on every invocation.
type Sys struct {
	MethodName string    // the function name
	UtcNow     time.Time // when the host started the invocation
	RandGuid   string    // a fresh random GUID
}

// NewSys returns the sys metadata for an invocation of function at now.
func NewSys(function string, now time.Time) Sys {
	return Sys{MethodName: function, UtcNow: now, RandGuid: newInvocationID()}
}

// MarshalJSON writes sys the way Newtonsoft serialises the host's SystemBindingData.
func (s Sys) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		MethodName string
		UtcNow     string
		RandGuid   string
	}{s.MethodName, dotnetDateTime(s.UtcNow), s.RandGuid})
}

// QueueTrigger is a dequeued message as the queue extension reports it.
type QueueTrigger struct {
	Text            []byte // the decoded message text (after base64 messageEncoding)
	ID              string
	PopReceipt      string
	DequeueCount    int
	InsertionTime   time.Time
	ExpirationTime  time.Time
	NextVisibleTime time.Time
}

// QueueEnvelope builds the envelope the host sends for a queueTrigger bound to binding.
// With HostEncoding the message text, Id and PopReceipt are JSON-encoded twice and
// DequeueCount is the string "1"; times are plain ISO strings in both encodings.
func QueueEnvelope(binding string, msg QueueTrigger, sys Sys, enc Encoding) Envelope {
	str := jsonString
	if enc == HostEncoding {
		str = func(s string) json.RawMessage { return jsonString(string(jsonString(s))) }
	}
	dequeueCount := json.RawMessage(strconv.Itoa(msg.DequeueCount))
	timestamp := func(t time.Time) json.RawMessage { return jsonString(dotnetDateTimeOffset(t)) }
	if enc == HostEncoding {
		dequeueCount = jsonString(strconv.Itoa(msg.DequeueCount))
		timestamp = func(t time.Time) json.RawMessage { return jsonString(dotnetRoundTrip(t)) }
	}
	return Envelope{
		Data: map[string]json.RawMessage{binding: str(string(msg.Text))},
		Metadata: map[string]json.RawMessage{
			"DequeueCount":    dequeueCount,
			"ExpirationTime":  timestamp(msg.ExpirationTime),
			"Id":              str(msg.ID),
			"InsertionTime":   timestamp(msg.InsertionTime),
			"NextVisibleTime": timestamp(msg.NextVisibleTime),
			"PopReceipt":      str(msg.PopReceipt),
			"sys":             mustMarshal(sys),
		},
	}
}

// TimerEnvelope builds the envelope the host sends for a timerTrigger bound to binding.
// The host serialises TimerInfo as a JSON object in both encodings.
func TimerEnvelope(binding string, info TimerInfo, sys Sys) Envelope {
	type wireStatus struct{ Last, Next, LastUpdated string }
	wire := struct {
		Schedule       TimerSchedule
		ScheduleStatus *wireStatus
		IsPastDue      bool
	}{Schedule: info.Schedule, IsPastDue: info.IsPastDue}
	if st := info.ScheduleStatus; st != nil {
		wire.ScheduleStatus = &wireStatus{dotnetDateTime(st.Last), dotnetDateTime(st.Next), dotnetDateTime(st.LastUpdated)}
	}
	return Envelope{
		Data:     map[string]json.RawMessage{binding: mustMarshal(wire)},
		Metadata: map[string]json.RawMessage{"sys": mustMarshal(sys)},
	}
}

// dotnetDateTime formats t as Newtonsoft writes a UTC DateTime: 100 ns precision,
// trailing zeros trimmed, "Z".
func dotnetDateTime(t time.Time) string {
	return t.UTC().Truncate(100 * time.Nanosecond).Format("2006-01-02T15:04:05.9999999Z07:00")
}

// dotnetDateTimeOffset formats t as Newtonsoft writes a DateTimeOffset: "+00:00", not "Z".
func dotnetDateTimeOffset(t time.Time) string {
	return t.UTC().Truncate(100 * time.Nanosecond).Format("2006-01-02T15:04:05.9999999-07:00")
}

// dotnetRoundTrip formats t as .NET's round-trip "o" format of a DateTimeOffset, which
// the host's DateTime/DateTimeOffset branch (wire-format.md) writes as a plain ISO string.
func dotnetRoundTrip(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.0000000-07:00")
}

// jsonString returns s as a JSON string literal.
func jsonString(s string) json.RawMessage { return mustMarshal(s) }

// mustMarshal marshals values that cannot fail to marshal (strings, plain structs).
func mustMarshal(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("host: marshalling " + err.Error())
	}
	return b
}
