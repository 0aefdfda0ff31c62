package sts

import "github.com/deskplane/deskplane/internal/gateway"

// register declares every operation of the service, one row each: its wire
// name, handler, resolver and how it is authorized. Handlers and resolvers
// live in the files of their resources.
func (m *Module) register() {
	m.svc.Add(
		// The trust policy and the caller's policies are evaluated together.
		gateway.WithResources(gateway.Op("AssumeRole", m.assumeRole), m.assumeRoleChecks).ResourcePolicy(),
		gateway.Op("GetCallerIdentity", m.getCallerIdentity).RO().NoAuth(),
		gateway.Op("GetSessionToken", m.getSessionToken).RO(),
	)
}
