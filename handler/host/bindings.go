package host

// Function names: each is the folder name under functions/ and the path the host POSTs to.
const (
	FunctionSweep    = "sweep"
	FunctionListRepo = "listrepo"
	FunctionScan     = "scan"
	// FunctionAdvisories syncs the OSV export into advisory generations (timer).
	FunctionAdvisories = "advisories"
	// FunctionRematch re-matches stored inventories against the current advisories (queue).
	FunctionRematch = "rematch"
)

// Binding names used in functions/*/function.json; handlers read Invocation.Data with them.
const (
	// TimerBinding is the name of the timerTrigger binding of timer functions.
	TimerBinding = "timer"
	// QueueBinding is the name of the queueTrigger binding of queue functions.
	QueueBinding = "task"
)

// MaxDequeueCount is host.json's extensions.queues.maxDequeueCount: after this many
// failed deliveries the host moves a message to "<queue>-poison".
const MaxDequeueCount = 5

// StorageConnection is the app-setting prefix that queue triggers use as their connection.
const StorageConnection = "TIDEWATCH_STORAGE"

// Headers the host adds to every invocation request.
const (
	InvocationIDHeader = "X-Azure-Functions-InvocationId"
	HostVersionHeader  = "X-Azure-Functions-HostVersion"
)

// Registry-event functions: one folder per trigger, as a function has one trigger.
const (
	// FunctionRegistryEvents is the HTTP function receiving registry webhooks
	// (distribution notifications, Harbor), authLevel function.
	FunctionRegistryEvents = "registryevents"
	// FunctionRegistryEventsQueue consumes ACR Event Grid events from the
	// registry-events queue.
	FunctionRegistryEventsQueue = "registryeventsqueue"
)
