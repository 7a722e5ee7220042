// Package host speaks the Azure Functions custom-handler protocol: the Functions host
// POSTs an invocation envelope to http://127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT/<Function>
// and reads back {"Outputs":{},"Logs":[…],"ReturnValue":null}.
//
// The server side (NewServer, ListenAndServe) routes invocations to Funcs, decodes the
// envelope leniently (the real host JSON-encodes scalar values a second time, the
// documentation shows them encoded once) and maps a Func's result to the status code
// that makes the host do the right thing: 200 for success and for permanent failures
// the Func has recorded, 500 for transient failures the host should retry.
//
// The client side (QueueEnvelope, TimerEnvelope, Call) lets the local runner drive the
// same handler exactly as the host would.
package host
