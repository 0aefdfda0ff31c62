package cloudwatch

import "github.com/deskplane/deskplane/internal/gateway"

// register declares every operation of the service, one row each: its wire
// name, handler, resolver and how it is authorized. Handlers and resolvers
// live in the files of their resources.
func (m *Module) register() {
	m.svc.Add(
		// queries.go
		gateway.Op("GetMetricStatistics", m.getMetricStatistics).RO(),
		gateway.Op("GetMetricData", m.getMetricData).RO(),
		gateway.Op("ListMetrics", m.listMetrics).RO(),
	)
}
