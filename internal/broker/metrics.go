package broker

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the broker's Prometheus metrics, in a registry of their own
// (several brokers may share a process in tests). Pool figures are read
// from the store when scraped, so they are never stale; counters and
// histograms are updated where the events happen.
type Metrics struct {
	reg *prometheus.Registry
	// calls counts WorkSpaces/EC2/DS calls by service, operation and
	// outcome ("ok" or the error code), once per call whatever its retries.
	calls *prometheus.CounterVec
	// attempts counts every HTTP attempt, retries included.
	attempts *prometheus.CounterVec
	// retries counts attempts after the first.
	retries *prometheus.CounterVec
	// throttles counts attempts the service answered with a throttling error.
	throttles *prometheus.CounterVec
	// grant is the time from a session's request to its desktop being
	// ready (the broker's clock).
	grant prometheus.Histogram
	// requests times POST /v1/sessions by outcome.
	requests *prometheus.HistogramVec
	// pass times reconcile passes by outcome.
	pass *prometheus.HistogramVec
	// gatewayConns counts gateway tickets redeemed and connections made
	// and closed; gatewayBytes the bytes proxied (in: user to desktop).
	gatewayConns *prometheus.CounterVec
	gatewayBytes *prometheus.CounterVec
	// pools reads the pools' figures from the store when scraped.
	pools poolCollector
}

// newMetrics builds the registry; pools reads the live pool figures.
func newMetrics(b *Broker) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), pools: poolCollector{b}}
	m.calls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "deskplane_broker", Name: "aws_calls_total",
		Help: "Calls to the WorkSpaces endpoint's services, by service, operation and outcome (ok or the error code).",
	}, []string{"service", "operation", "outcome"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "deskplane_broker", Name: "aws_attempts_total",
		Help: "HTTP attempts of those calls, retries included.",
	}, []string{"service", "operation"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "deskplane_broker", Name: "aws_retries_total",
		Help: "Attempts after a call's first (the SDK's retries).",
	}, []string{"service", "operation"})
	m.throttles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "deskplane_broker", Name: "aws_throttles_total",
		Help: "Attempts the service answered with a throttling error.",
	}, []string{"service", "operation"})
	m.grant = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "deskplane_broker", Name: "session_grant_seconds",
		Help:    "Time from a session's request to its desktop being ready, on the broker's clock.",
		Buckets: []float64{0.1, 1, 5, 15, 30, 60, 120, 300, 600, 1200, 3600},
	})
	m.requests = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "deskplane_broker", Name: "session_request_seconds",
		Help:    "Time the broker took to answer a session request, by the state it answered (active, starting, waiting) or error.",
		Buckets: prometheus.DefBuckets,
	}, []string{"outcome"})
	m.pass = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "deskplane_broker", Name: "reconcile_pass_seconds",
		Help:    "Duration of reconcile passes, by outcome (ok or error).",
		Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30},
	}, []string{"outcome"})
	m.gatewayConns = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "deskplane_broker", Name: "gateway_connections_total",
		Help: "Gateway events: tickets redeemed, connections opened (connect) and closed (disconnect), connections refused by IP access control (refused).",
	}, []string{"event"})
	m.gatewayBytes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "deskplane_broker", Name: "gateway_bytes_total",
		Help: "Bytes proxied by the gateways, by direction (in: user to desktop; out: desktop to user), counted at disconnect.",
	}, []string{"direction"})
	m.reg.MustRegister(m.collectors()...)
	return m
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.calls, m.attempts, m.retries, m.throttles, m.grant, m.requests, m.pass, m.pools, m.gatewayConns, m.gatewayBytes}
}

// registerWith registers the broker's metrics in another registry too (a
// fleet's, with a tenant label).
func (m *Metrics) registerWith(r prometheus.Registerer) error {
	for _, c := range m.collectors() {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry is the broker's registry (for tests and embedding).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

var (
	poolDesktopsDesc = prometheus.NewDesc("deskplane_broker_pool_desktops",
		"Desktops of a pool by their last observed WorkSpaces state.", []string{"pool", "state"}, nil)
	poolWarmDesc = prometheus.NewDesc("deskplane_broker_pool_warm_buffer",
		"The pool's configured warm buffer (running, unassigned desktops it keeps).", []string{"pool"}, nil)
	poolFreeRunningDesc = prometheus.NewDesc("deskplane_broker_pool_free_running",
		"Running desktops of the pool that no user holds (the warm buffer as it is).", []string{"pool"}, nil)
	poolPendingDesc = prometheus.NewDesc("deskplane_broker_pool_pending_creates",
		"Desktops the broker has asked for and not yet seen.", []string{"pool"}, nil)
	sessionsDesc = prometheus.NewDesc("deskplane_broker_sessions",
		"Open sessions by pool and state (waiting, starting, active, disconnected).", []string{"pool", "state"}, nil)
	failingDesc = prometheus.NewDesc("deskplane_broker_primary_region_failing",
		"1 while the tenant's primary region is failing and sessions come from its standby region.", []string{"primary", "standby"}, nil)
	failoversDesc = prometheus.NewDesc("deskplane_broker_region_failovers_total",
		"Failovers from the primary region to the standby since the broker started.", []string{"primary", "standby"}, nil)
)

// poolCollector reads the pools from the store at scrape time.
type poolCollector struct{ b *Broker }

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- poolDesktopsDesc
	ch <- poolWarmDesc
	ch <- poolFreeRunningDesc
	ch <- poolPendingDesc
	ch <- sessionsDesc
	ch <- failingDesc
	ch <- failoversDesc
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b := c.b
	for _, p := range b.cfg.Pools {
		ch <- prometheus.MustNewConstMetric(poolWarmDesc, prometheus.GaugeValue, float64(p.Warm), p.Name)
		ds, err := b.st.PoolDesktops(ctx, p.Name)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(poolDesktopsDesc, err)
			continue
		}
		states, free := map[string]int{}, 0
		for _, d := range ds {
			states[d.State]++
			if d.User == "" && isRunning(d.State) {
				free++
			}
		}
		for st, n := range states {
			ch <- prometheus.MustNewConstMetric(poolDesktopsDesc, prometheus.GaugeValue, float64(n), p.Name, st)
		}
		ch <- prometheus.MustNewConstMetric(poolFreeRunningDesc, prometheus.GaugeValue, float64(free), p.Name)
		in, err := b.st.Intents(ctx, p.Name)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(poolPendingDesc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(poolPendingDesc, prometheus.GaugeValue, float64(len(in)), p.Name)
	}
	if b.region != nil {
		st := b.Failover()
		failing := 0.0
		if st.Failing {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(failingDesc, prometheus.GaugeValue, failing, st.Primary, st.Standby)
		ch <- prometheus.MustNewConstMetric(failoversDesc, prometheus.CounterValue, float64(st.Failovers), st.Primary, st.Standby)
	}
	live, err := b.st.LiveSessions(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(sessionsDesc, err)
		return
	}
	type key struct{ pool, state string }
	counts := map[key]int{}
	for _, s := range live {
		counts[key{s.Pool, s.State}]++
	}
	for k, n := range counts {
		ch <- prometheus.MustNewConstMetric(sessionsDesc, prometheus.GaugeValue, float64(n), k.pool, k.state)
	}
}

// outcome is "ok" or the error's AWS error code ("error" when it has none).
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() != "" {
		return ae.ErrorCode()
	}
	return "error"
}

// isThrottle reports whether err is a throttling answer.
func isThrottle(err error) bool {
	switch outcome(err) {
	case "ThrottlingException", "Throttling", "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottled", "SlowDown":
		return true
	}
	return false
}

// callObserver is the SDK middleware's link to the broker's metrics; the
// clients are built before the broker, so the metrics are attached later.
type callObserver struct{ p atomic.Pointer[Metrics] }

type attemptCountKey struct{}

// install adds the observing middleware to an SDK stack: one around the
// whole call (the end of Initialize, where the service and operation names
// are known) and one around each attempt (after Retry).
func (o *callObserver) install(stack *middleware.Stack) error {
	if err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("deskplaneBrokerCallMetrics",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			n := new(int)
			ctx = context.WithValue(ctx, attemptCountKey{}, n)
			out, md, err := next.HandleInitialize(ctx, in)
			if m := o.p.Load(); m != nil {
				svc, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				m.calls.WithLabelValues(svc, op, outcome(err)).Inc()
				if *n > 1 {
					m.retries.WithLabelValues(svc, op).Add(float64(*n - 1))
				}
			}
			return out, md, err
		}), middleware.After); err != nil {
		return err
	}
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("deskplaneBrokerAttemptMetrics",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleFinalize(ctx, in)
			if n, ok := ctx.Value(attemptCountKey{}).(*int); ok {
				*n++
			}
			if m := o.p.Load(); m != nil {
				svc, op := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
				m.attempts.WithLabelValues(svc, op).Inc()
				if isThrottle(err) {
					m.throttles.WithLabelValues(svc, op).Inc()
				}
			}
			return out, md, err
		}), "Retry", middleware.After)
}
