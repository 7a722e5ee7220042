package regevent

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// Event Grid event types (ContainerRegistry.json).
const (
	EventGridImagePushed  = "Microsoft.ContainerRegistry.ImagePushed"
	EventGridImageDeleted = "Microsoft.ContainerRegistry.ImageDeleted"
	EventGridChartPushed  = "Microsoft.ContainerRegistry.ChartPushed"
	EventGridChartDeleted = "Microsoft.ContainerRegistry.ChartDeleted"
	// EventGridSubscriptionValidation is the handshake Event Grid sends to webhook
	// endpoints; a storage-queue destination never receives it.
	EventGridSubscriptionValidation = "Microsoft.EventGrid.SubscriptionValidationEvent"
)

// eventGridEvent is the union of the EventGridSchema (eventType, eventTime) and
// CloudEvents 1.0 (type, time, specversion) envelopes of one ACR event.
type eventGridEvent struct {
	ID          string    `json:"id"`
	EventType   string    `json:"eventType"`
	EventTime   time.Time `json:"eventTime"`
	Type        string    `json:"type"`
	Time        time.Time `json:"time"`
	SpecVersion string    `json:"specversion"`
	Data        struct {
		ID        string    `json:"id"`
		Timestamp time.Time `json:"timestamp"`
		Action    string    `json:"action"`
		Target    struct {
			MediaType  string `json:"mediaType"`
			Digest     string `json:"digest"`
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
		} `json:"target"`
		Request struct {
			Host      string `json:"host"`
			UserAgent string `json:"useragent"`
		} `json:"request"`
	} `json:"data"`
}

// DecodeEventGrid decodes one queue message delivered by an Event Grid storage-queue
// subscription: one event as a JSON object in either schema, as plain text or base64
// of it (storage-queue-delivery.md: both have been observed). Event types other than
// ImagePushed and ImageDeleted (charts, validation events) decode as ignored events.
func DecodeEventGrid(text []byte) (Event, error) {
	body := trimJSON(text)
	if len(body) == 0 || body[0] != '{' {
		decoded, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(text)))
		if err != nil {
			return Event{}, fmt.Errorf("%w: queue message is neither a JSON object nor base64 of one", ErrMalformed)
		}
		body = trimJSON(decoded)
	}
	var w eventGridEvent
	if err := json.Unmarshal(body, &w); err != nil {
		return Event{}, fmt.Errorf("%w: Event Grid event: %w", ErrMalformed, err)
	}
	typ, at := w.EventType, w.EventTime
	if w.SpecVersion != "" || typ == "" {
		typ, at = w.Type, w.Time
	}
	if !w.Data.Timestamp.IsZero() {
		at = w.Data.Timestamp
	}
	e := Event{ID: w.ID, Registry: w.Data.Request.Host, Repository: w.Data.Target.Repository, Digest: w.Data.Target.Digest,
		Tag: w.Data.Target.Tag, MediaType: w.Data.Target.MediaType, At: at.UTC(), Format: "eventgrid",
		UserAgent: w.Data.Request.UserAgent}
	switch typ {
	case EventGridImagePushed:
		e.Action = ActionPush
	case EventGridImageDeleted:
		e.Action = ActionDelete
	case EventGridChartPushed, EventGridChartDeleted:
		e.Ignored = "Helm chart event " + typ
		return e, nil
	case EventGridSubscriptionValidation:
		e.Ignored = "subscription validation needs no answer for a storage-queue destination"
		return e, nil
	case "":
		return Event{}, fmt.Errorf("%w: Event Grid event without eventType or type", ErrMalformed)
	default:
		e.Ignored = fmt.Sprintf("event type %q is not tracked", typ)
		return e, nil
	}
	return finish(e)
}

// EventGridValidationCode recognises an Event Grid webhook subscription-validation
// request (an array whose event is Microsoft.EventGrid.SubscriptionValidationEvent)
// and returns its data.validationCode, which the endpoint echoes back as
// {"validationResponse": code}.
func EventGridValidationCode(body []byte) (string, bool) {
	var events []struct {
		EventType string `json:"eventType"`
		Data      struct {
			ValidationCode string `json:"validationCode"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &events); err != nil || len(events) != 1 {
		return "", false
	}
	e := events[0]
	return e.Data.ValidationCode, e.EventType == EventGridSubscriptionValidation && e.Data.ValidationCode != ""
}
