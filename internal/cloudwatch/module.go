// Package cloudwatch is deskplane's Amazon CloudWatch, as far as WorkSpaces
// monitoring needs it: the AWS/WorkSpaces metrics of every desktop and
// directory (Available, Unhealthy, ConnectionAttempt, ConnectionSuccess,
// ConnectionFailure, SessionLaunchTime, UserConnected, Stopped,
// Maintenance), read through GetMetricData, GetMetricStatistics and
// ListMetrics. It speaks both protocols botocore's model names and clients
// use: Smithy RPC v2 CBOR (aws-sdk-go-v2) and awsJson1.0 (botocore and the
// aws CLI), with the model's query-compatible error codes.
//
// Metrics are not stored samples but derived when asked: the state metrics
// from each desktop's state transitions (the lifecycle's history, with the
// injected clock's times), one sample per minute of the desktop's life; the
// connection metrics from the session events a guest runtime reports
// (RecordSession).
package cloudwatch

import (
	"context"
	"time"

	"github.com/deskplane/deskplane/internal/clock"
	"github.com/deskplane/deskplane/internal/config"
	"github.com/deskplane/deskplane/internal/gateway"
	"github.com/deskplane/deskplane/internal/store"
	"github.com/deskplane/deskplane/internal/workspaces"
)

// Desktops is what monitoring reads of WorkSpaces: each desktop's state
// over time. The workspaces module implements it.
type Desktops interface {
	Timelines(ctx context.Context, account, region string) ([]workspaces.Timeline, error)
}

// Namespace is the namespace of the WorkSpaces metrics.
const Namespace = "AWS/WorkSpaces"

// Module is the CloudWatch module.
type Module struct {
	store    store.Store
	clock    clock.Clock
	desktops Desktops
	svc      *gateway.Service
}

// New returns the module.
func New(st store.Store, clk clock.Clock, desktops Desktops) *Module {
	m := &Module{store: st, clock: clk, desktops: desktops}
	m.svc = &gateway.Service{Name: "monitoring", ActionPrefix: "cloudwatch", EventSource: "monitoring.amazonaws.com",
		Protocol: gateway.JSON, JSONVersion: "1.0", CBOR: true, TargetPrefix: "GraniteServiceVersion20100801",
		ValidationCode: "InvalidParameterValueException", QueryErrors: queryErrors}
	m.register()
	return m
}

// queryErrors are the model's query-compatible codes of CloudWatch's errors.
var queryErrors = map[string]string{
	"InvalidParameterValueException":       "InvalidParameterValue",
	"InvalidParameterCombinationException": "InvalidParameterCombination",
	"MissingRequiredParameterException":    "MissingParameter",
	"InvalidNextToken":                     "InvalidNextToken",
	"InternalServiceFault":                 "InternalServiceError",
	"ResourceNotFound":                     "ResourceNotFound",
	"LimitExceededFault":                   "LimitExceeded",
}

// Services returns CloudWatch's operation table.
func (m *Module) Services() []*gateway.Service { return []*gateway.Service{m.svc} }

// Seed writes nothing: metrics derive from the other services' state.
func (m *Module) Seed(ctx context.Context, tx store.Tx, cfg *config.Config, now time.Time) error {
	return nil
}
