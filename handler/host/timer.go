package host

import (
	"encoding/json"
	"fmt"
	"time"
)

// TimerInfo is the value of a timerTrigger binding (the host's TimerInfo object).
type TimerInfo struct {
	Schedule TimerSchedule `json:"Schedule"`
	// ScheduleStatus is nil on a first run or when the trigger has useMonitor false.
	ScheduleStatus *ScheduleStatus `json:"ScheduleStatus"`
	// IsPastDue is true when the invocation is later than its scheduled time.
	IsPastDue bool `json:"IsPastDue"`
}

// TimerSchedule describes the trigger's schedule as far as the host reveals it.
type TimerSchedule struct {
	AdjustForDST bool `json:"AdjustForDST"`
}

// ScheduleStatus is the host's record of the last and next occurrences.
type ScheduleStatus struct {
	Last        time.Time `json:"Last"`
	Next        time.Time `json:"Next"`
	LastUpdated time.Time `json:"LastUpdated"`
}

// UnmarshalJSON accepts .NET DateTime text with or without a zone; zone-less times
// (DateTimeKind.Unspecified) are taken as UTC.
func (s *ScheduleStatus) UnmarshalJSON(b []byte) error {
	var wire struct{ Last, Next, LastUpdated string }
	if err := json.Unmarshal(b, &wire); err != nil {
		return err
	}
	var err error
	for _, field := range []struct {
		name string
		text string
		dst  *time.Time
	}{
		{"Last", wire.Last, &s.Last},
		{"Next", wire.Next, &s.Next},
		{"LastUpdated", wire.LastUpdated, &s.LastUpdated},
	} {
		if *field.dst, err = parseHostTime(field.text); err != nil {
			return fmt.Errorf("parsing ScheduleStatus.%s: %w", field.name, err)
		}
	}
	return nil
}

// hostTimeLayouts are the shapes Newtonsoft.Json writes DateTime and DateTimeOffset in.
var hostTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"}

// parseHostTime parses a time the host wrote; "" is the zero time.
func parseHostTime(text string) (time.Time, error) {
	if text == "" {
		return time.Time{}, nil
	}
	var err error
	for _, layout := range hostTimeLayouts {
		var t time.Time
		if t, err = time.Parse(layout, text); err == nil {
			return t, nil
		}
	}
	return time.Time{}, err
}

// Timer returns the TimerInfo bound to binding. The value is normally a JSON object;
// a JSON string holding that object (however often encoded) is accepted too.
func (inv *Invocation) Timer(binding string) (TimerInfo, error) {
	raw, ok := inv.Data[binding]
	if !ok {
		return TimerInfo{}, fmt.Errorf("reading timer %q: %w", binding, ErrNoBinding)
	}
	if isNull(raw) {
		return TimerInfo{}, fmt.Errorf("reading timer %q: %w", binding, ErrNullBinding)
	}
	text, isString, err := unquote(raw)
	if err != nil {
		return TimerInfo{}, fmt.Errorf("reading timer %q: %w", binding, err)
	}
	if isString {
		raw = json.RawMessage(text)
	}
	var info TimerInfo
	if err := json.Unmarshal(raw, &info); err != nil {
		return TimerInfo{}, fmt.Errorf("reading timer %q: %w", binding, err)
	}
	return info, nil
}
