package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tidewatch/tidewatch/handler/host"
	"github.com/tidewatch/tidewatch/handler/regevent"
	"github.com/tidewatch/tidewatch/handler/registry"
	"github.com/tidewatch/tidewatch/handler/store"
)

// Registry-event functions (see README, Registry activity).
const (
	// FuncRegistryEvents is the HTTP function for registry webhooks.
	FuncRegistryEvents = host.FunctionRegistryEvents
	// FuncRegistryEventsQueue consumes Event Grid events from the registry-events queue.
	FuncRegistryEventsQueue = host.FunctionRegistryEventsQueue
)

// tidewatchAgent starts the User-Agent of every request Tidewatch's registry
// clients make.
const tidewatchAgent = registry.UserAgentProduct + "/"

// MaxWebhookBody bounds a webhook body: a distribution envelope of a few events or a
// Harbor webhook is a few KiB. A larger body is answered 413.
const MaxWebhookBody = 1 << 20

// HTTPFunctions returns the handler's HTTP-triggered routes.
func (p *Pipeline) HTTPFunctions() map[string]host.HTTPFunc {
	return map[string]host.HTTPFunc{FuncRegistryEvents: p.RegistryEvents}
}

// webhookAnswer is the JSON body a webhook sender gets.
type webhookAnswer struct {
	Events   int      `json:"events"`
	Enqueued int      `json:"enqueued"`
	Notes    []string `json:"notes"`
	Rejected []string `json:"rejected"`
}

// RegistryEvents is the HTTP function: a distribution notification envelope or a
// Harbor webhook, authenticated by the Functions host (authLevel function). The
// registry is the query parameter `registry` when given, else the host the event
// names; it must be one of TIDEWATCH_REGISTRIES. Answers: 200 with what was done
// (invalid events in a valid envelope are listed, not retried: the sender would
// retry the whole envelope forever), 400 for a body that is no known format, 405,
// 413 over MaxWebhookBody, and 500 for a transient failure so the sender retries.
// An Event Grid subscription-validation handshake is answered with its code.
func (p *Pipeline) RegistryEvents(ctx context.Context, req *host.HTTPRequest, inv *host.Invocation, log *slog.Logger) (host.HTTPResponse, error) {
	now := p.now().UTC()
	runID := eventsRunID(now)
	refuse := func(status int, cause error) (host.HTTPResponse, error) {
		d := store.RunDelta{Failed: 1, Failure: fmt.Sprintf("%s: HTTP %d: %v", FuncRegistryEvents, status, cause)}
		err := p.finish(ctx, log, inv, runID, now, d, host.Permanent(cause))
		if !host.IsPermanent(err) {
			return host.HTTPResponse{}, err // could not record it: the sender retries
		}
		return host.HTTPResponse{StatusCode: status, Body: cause.Error()}, err
	}
	if req.Method != "" && !strings.EqualFold(req.Method, http.MethodPost) {
		return refuse(http.StatusMethodNotAllowed, fmt.Errorf("method %s: registry webhooks are POSTed", req.Method))
	}
	if len(req.Body) > MaxWebhookBody {
		return refuse(http.StatusRequestEntityTooLarge, fmt.Errorf("body of %d bytes exceeds %d", len(req.Body), MaxWebhookBody))
	}
	if code, ok := regevent.EventGridValidationCode(req.Body); ok {
		log.Info("answered Event Grid subscription validation")
		body, _ := json.Marshal(map[string]string{"validationResponse": code})
		return jsonResponse(http.StatusOK, body), p.finish(ctx, log, inv, runID, now, store.RunDelta{}, nil)
	}
	decoded, err := regevent.DecodeWebhook(req.Body)
	if err != nil {
		return refuse(http.StatusBadRequest, err)
	}
	d, answer, err := p.handleEvents(ctx, log, inv, decoded, req.Query["registry"], activitySourceWebhook, now)
	if err = p.finish(ctx, log, inv, runID, now, d, err); err != nil && !host.IsPermanent(err) {
		return host.HTTPResponse{}, err
	}
	body, _ := json.Marshal(answer)
	return jsonResponse(http.StatusOK, body), nil
}

// RegistryEventsQueue is the queue function on registry-events: one Event Grid
// event per message (EventGridSchema or CloudEvents 1.0, plain or base64 JSON). A
// message that is no such event is recorded under rejected-messages and completed.
func (p *Pipeline) RegistryEventsQueue(ctx context.Context, inv *host.Invocation, log *slog.Logger) error {
	text, err := inv.QueueMessage(host.QueueBinding)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncRegistryEventsQueue, text, err)
	}
	e, err := regevent.DecodeEventGrid(text)
	if err != nil {
		return p.rejectMessage(ctx, log, inv, FuncRegistryEventsQueue, text, err)
	}
	now := p.now().UTC()
	d, _, err := p.handleEvents(ctx, log, inv, regevent.Decoded{Events: []regevent.Event{e}}, "", activitySourceEventGrid, now)
	return p.finish(ctx, log, inv, eventsRunID(now), now, d, err)
}

// eventsRunID is the run of events handled at now: one per UTC hour, so a run's
// summary (recomputed from its invocation rows on every invocation) stays small.
func eventsRunID(now time.Time) string {
	return eventsRun + "-" + now.UTC().Format("20060102T15")
}

// handleEvents applies decoded events in order. registry, when set, is the
// registry every event is for (the webhook's query parameter). An event that fails
// transiently stops the rest and makes the invocation transient (each event is
// idempotent, so the redelivery redoes the ones before it harmlessly); a permanent
// storage failure is counted and the next event is applied.
func (p *Pipeline) handleEvents(ctx context.Context, log *slog.Logger, inv *host.Invocation, decoded regevent.Decoded,
	registry, source string, now time.Time) (store.RunDelta, webhookAnswer, error) {
	var d store.RunDelta
	answer := webhookAnswer{Events: len(decoded.Events), Notes: []string{}, Rejected: []string{}}
	var lines []string
	for _, err := range decoded.Rejected {
		d.Failed++
		answer.Rejected = append(answer.Rejected, err.Error())
		lines = append(lines, "rejected: "+err.Error())
		log.Warn("registry event rejected", "error", err)
	}
	note := func(e regevent.Event, text string) {
		answer.Notes = append(answer.Notes, e.Ref()+": "+text)
	}
	var failure error
	for i, e := range decoded.Events {
		if e.Ignored != "" {
			note(e, "ignored: "+e.Ignored)
			if e.Ignored != "blob event" {
				lines = append(lines, "ignored "+e.Ref()+": "+e.Ignored)
				log.Info("registry event ignored", "event", e.Ref(), "reason", e.Ignored)
			}
			continue
		}
		if e.Action == regevent.ActionPull && strings.HasPrefix(e.UserAgent, tidewatchAgent) {
			// Tidewatch's own scans pull what they scan: counting those would keep every
			// scanned digest in the pull window for ever.
			note(e, "ignored: Tidewatch's own pull")
			continue
		}
		target := cmpOr(registry, e.Registry)
		if _, ok := p.registries[target]; !ok {
			reason := fmt.Sprintf("registry %q is not configured in TIDEWATCH_REGISTRIES", target)
			note(e, "ignored: "+reason)
			lines = append(lines, "ignored "+e.Ref()+": "+reason)
			continue
		}
		claimant := invocationKey(inv) + fmt.Sprintf("#%d", i)
		if e.ID != "" {
			claimant = "event:" + e.ID
		}
		e.Registry = target
		out, err := p.applyEvent(ctx, log, e, target, claimant, source, now)
		if err != nil {
			if isPermanent(ctx, err) {
				d.Failed++
				lines = append(lines, "failed "+e.Ref()+": "+err.Error())
				answer.Rejected = append(answer.Rejected, e.Ref()+": "+err.Error())
				continue
			}
			failure = fmt.Errorf("applying %s event of %s: %w", e.Action, e.Ref(), err)
			d.Retried = 1
			lines = append(lines, failure.Error())
			break
		}
		d.Manifests++
		if out.Enqueued {
			d.Enqueued++
			answer.Enqueued++
		}
		if out.Note != "" {
			note(e, out.Note)
		}
	}
	d.Failure = strings.Join(lines, "\n")
	if failure == nil && d.Failed > 0 {
		log.Warn("registry events partly rejected", "rejected", d.Failed)
	}
	if failure != nil && errors.Is(failure, context.DeadlineExceeded) {
		log.Warn("registry events: budget spent", "error", failure)
	}
	return d, answer, failure
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func jsonResponse(status int, body []byte) host.HTTPResponse {
	return host.HTTPResponse{StatusCode: status, Body: string(body), Headers: map[string]string{"Content-Type": "application/json"}}
}
