package regevent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Decoded is what a webhook body or queue message held: the events, each validated,
// and the events that could not be used, each with why (an invalid digest in one
// event of an envelope must not make the sender retry the whole envelope forever).
type Decoded struct {
	Events   []Event
	Rejected []error
}

func (d *Decoded) add(e Event, err error) {
	if err != nil {
		d.Rejected = append(d.Rejected, err)
		return
	}
	d.Events = append(d.Events, e)
}

// DecodeWebhook decodes an HTTP webhook body: a distribution notification envelope
// ({"events":[…]}), a Harbor webhook in the default format ({"type":"PUSH_ARTIFACT",
// "event_data":…}) or a Harbor CloudEvents one ({"specversion":"1.0",
// "type":"harbor.artifact.pushed",…}). A body that is none of them is ErrMalformed.
func DecodeWebhook(body []byte) (Decoded, error) {
	var probe struct {
		Events      json.RawMessage `json:"events"`
		Type        string          `json:"type"`
		SpecVersion string          `json:"specversion"`
		EventData   json.RawMessage `json:"event_data"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return Decoded{}, fmt.Errorf("%w: body is not a JSON object: %w", ErrMalformed, err)
	}
	switch {
	case len(probe.Events) > 0:
		return decodeDistribution(body)
	case probe.SpecVersion != "" && strings.HasPrefix(probe.Type, "harbor."):
		return decodeHarborCloudEvent(body)
	case probe.Type != "" && len(probe.EventData) > 0:
		return decodeHarbor(body)
	}
	return Decoded{}, fmt.Errorf("%w: neither a distribution envelope nor a Harbor webhook", ErrMalformed)
}

// distributionEvent is one event of a distribution notification envelope
// (notifications-v1-mediatype.md).
type distributionEvent struct {
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"`
	Action    string    `json:"action"`
	Target    struct {
		MediaType  string `json:"mediaType"`
		Digest     string `json:"digest"`
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		URL        string `json:"url"`
	} `json:"target"`
	Request struct {
		Host      string `json:"host"`
		UserAgent string `json:"useragent"`
	} `json:"request"`
}

func decodeDistribution(body []byte) (Decoded, error) {
	var env struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return Decoded{}, fmt.Errorf("%w: distribution envelope: %w", ErrMalformed, err)
	}
	if len(env.Events) == 0 {
		return Decoded{}, fmt.Errorf("%w: distribution envelope without events", ErrMalformed)
	}
	var d Decoded
	for i, raw := range env.Events {
		var de distributionEvent
		if err := json.Unmarshal(raw, &de); err != nil {
			d.add(Event{}, fmt.Errorf("%w: distribution event %d: %w", ErrMalformed, i, err))
			continue
		}
		e := Event{ID: de.ID, Action: Action(de.Action), Registry: de.Request.Host, Repository: de.Target.Repository,
			Digest: de.Target.Digest, Tag: de.Target.Tag, MediaType: de.Target.MediaType, At: de.Timestamp, Format: "distribution",
			UserAgent: de.Request.UserAgent}
		if isBlobURL(de.Target.URL) {
			// Layer pushes and pulls: not manifests, and not validated further.
			e.Ignored = "blob event"
			d.add(e, nil)
			continue
		}
		e, err := finish(e)
		if err != nil {
			err = fmt.Errorf("distribution event %s: %w", de.ID, err)
		}
		d.add(e, err)
	}
	return d, nil
}

// isBlobURL reports whether a distribution target URL names a blob (/v2/…/blobs/…).
func isBlobURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && strings.Contains(p.Path, "/blobs/")
}

// harborEventData is Harbor's event_data (default format) or data (CloudEvents).
type harborEventData struct {
	Resources []struct {
		Digest      string `json:"digest"`
		Tag         string `json:"tag"`
		ResourceURL string `json:"resource_url"`
	} `json:"resources"`
	Repository struct {
		RepoFullName string `json:"repo_full_name"`
	} `json:"repository"`
}

var harborActions = map[string]Action{
	"PUSH_ARTIFACT": ActionPush, "PULL_ARTIFACT": ActionPull, "DELETE_ARTIFACT": ActionDelete,
	"harbor.artifact.pushed": ActionPush, "harbor.artifact.pulled": ActionPull, "harbor.artifact.deleted": ActionDelete,
}

func decodeHarbor(body []byte) (Decoded, error) {
	var w struct {
		Type      string          `json:"type"`
		OccurAt   int64           `json:"occur_at"`
		EventData harborEventData `json:"event_data"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return Decoded{}, fmt.Errorf("%w: Harbor webhook: %w", ErrMalformed, err)
	}
	var at time.Time
	if w.OccurAt > 0 {
		at = time.Unix(w.OccurAt, 0).UTC()
	}
	return harborEvents("", w.Type, at, w.EventData), nil
}

func decodeHarborCloudEvent(body []byte) (Decoded, error) {
	var w struct {
		ID   string          `json:"id"`
		Type string          `json:"type"`
		Time time.Time       `json:"time"`
		Data harborEventData `json:"data"`
	}
	if err := json.Unmarshal(body, &w); err != nil {
		return Decoded{}, fmt.Errorf("%w: Harbor CloudEvent: %w", ErrMalformed, err)
	}
	return harborEvents(w.ID, w.Type, w.Time, w.Data), nil
}

func harborEvents(id, typ string, at time.Time, data harborEventData) Decoded {
	var d Decoded
	action, known := harborActions[typ]
	for i, r := range data.Resources {
		e := Event{ID: id, Action: action, Registry: harborHost(r.ResourceURL), Repository: data.Repository.RepoFullName,
			Digest: r.Digest, Tag: r.Tag, At: at, Format: "harbor"}
		if id != "" && len(data.Resources) > 1 {
			e.ID = fmt.Sprintf("%s/%d", id, i)
		}
		if !known {
			e.Ignored = fmt.Sprintf("Harbor event type %q is not tracked", typ)
			d.add(e, nil)
			continue
		}
		e, err := finish(e)
		if err != nil {
			err = fmt.Errorf("harbor %s resource %d: %w", typ, i, err)
		}
		d.add(e, err)
	}
	if len(data.Resources) == 0 {
		d.add(Event{}, fmt.Errorf("%w: Harbor %s event without resources", ErrMalformed, typ))
	}
	return d
}

// harborHost is the registry host of a resource_url ("harbor.dev/library/busybox@…").
func harborHost(resourceURL string) string {
	host, _, _ := strings.Cut(resourceURL, "/")
	return host
}

// trimJSON is b without surrounding white space.
func trimJSON(b []byte) []byte { return bytes.TrimSpace(b) }
