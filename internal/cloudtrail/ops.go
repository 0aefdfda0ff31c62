package cloudtrail

import "github.com/deskplane/deskplane/internal/gateway"

// register declares every operation of the service, one row each: its wire
// name, handler, resolver and how it is authorized. Handlers and resolvers
// live in the files of their resources.
func (t *Trail) register() {
	t.svc.Add(
		gateway.Op("LookupEvents", t.lookupEvents).RO(), // lookup.go
	)
}
