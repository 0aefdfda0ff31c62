package server

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's own Prometheus metrics (GET /metrics with the
// admin token): requests by service, operation and outcome with their
// latency, the lifecycle scheduler's claims and runs, and the store's
// commit latency.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	claimed  prometheus.Histogram
	lastDue  prometheus.Gauge
	runs     *prometheus.CounterVec
	runTime  *prometheus.HistogramVec
	commits  prometheus.Histogram

	// byRequest holds the request counter and latency histogram of each
	// outcome seen (up to maxRequestKeys of them): a request finds both
	// in one lookup, instead of two label lookups in the vectors.
	mu        sync.RWMutex
	byRequest map[requestKey]*requestMetrics
	// lastRequest is the outcome a request last found in byRequest: a
	// run of requests of one outcome finds its metrics by a compare of
	// the labels, without the map's hash of them and the lock.
	lastRequest atomic.Pointer[requestMetrics]
}

// requestKey is a request's labels.
type requestKey struct {
	service, operation string
	status             int
	code               string
}

// requestMetrics are the request metrics of one requestKey.
type requestMetrics struct {
	key     requestKey
	count   prometheus.Counter
	latency prometheus.Observer
}

// maxRequestKeys bounds Metrics.byRequest; requests of outcomes past it
// are counted through the vectors' label lookups.
const maxRequestKeys = 4096

// NewMetrics builds the registry, with the Go runtime and process
// collectors beside the server's own.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), byRequest: map[requestKey]*requestMetrics{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "deskplane", Name: "requests_total",
		Help: "API requests answered, by service, operation, HTTP status and error code (empty on success).",
	}, []string{"service", "operation", "status", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "deskplane", Name: "request_seconds",
		Help:    "Time to answer an API request, by service and operation.",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5},
	}, []string{"service", "operation"})
	m.claimed = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "deskplane", Name: "jobs_claimed",
		Help:    "Due lifecycle jobs each scheduler pass claimed (up to its batch of 256): the backlog it found.",
		Buckets: []float64{0, 1, 4, 16, 64, 128, 256},
	})
	m.lastDue = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "deskplane", Name: "jobs_due",
		Help: "Due lifecycle jobs the scheduler's latest pass claimed (256 means at least that many were waiting).",
	})
	m.runs = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "deskplane", Name: "jobs_run_total",
		Help: "Lifecycle job runs by kind and outcome (ok, retry, parked).",
	}, []string{"kind", "outcome"})
	m.runTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "deskplane", Name: "job_run_seconds",
		Help:    "Duration of a lifecycle job's run, its transaction's durable commit included, by kind (on the embedded store a pass's jobs share commits, and each is given the pass's duration).",
		Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1},
	}, []string{"kind"})
	m.commits = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "deskplane", Name: "store_commit_seconds",
		Help:    "Time from an update of the store until its commit is durable: the wait for the writer, the transaction, the commit and its sync (the embedded store syncs a group of commits at once).",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1},
	})
	m.reg.MustRegister(m.requests, m.latency, m.claimed, m.lastDue, m.runs, m.runTime, m.commits,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// ObserveRequest implements gateway.Observer.
func (m *Metrics) ObserveRequest(service, operation string, status int, code string, latency time.Duration) {
	k := requestKey{service, operation, status, code}
	rm := m.lastRequest.Load()
	if rm == nil || rm.key != k {
		m.mu.RLock()
		rm = m.byRequest[k]
		m.mu.RUnlock()
		if rm != nil {
			m.lastRequest.Store(rm)
		} else {
			rm = &requestMetrics{k, m.requests.WithLabelValues(service, operation, strconv.Itoa(status), code),
				m.latency.WithLabelValues(service, operation)}
			m.mu.Lock()
			if len(m.byRequest) < maxRequestKeys {
				m.byRequest[k] = rm
			}
			m.mu.Unlock()
		}
	}
	rm.count.Inc()
	rm.latency.Observe(latency.Seconds())
}

// ObserveClaim implements lifecycle.Observer.
func (m *Metrics) ObserveClaim(n int) {
	m.claimed.Observe(float64(n))
	m.lastDue.Set(float64(n))
}

// ObserveRun implements lifecycle.Observer.
func (m *Metrics) ObserveRun(kind, outcome string, d time.Duration) {
	m.runs.WithLabelValues(kind, outcome).Inc()
	m.runTime.WithLabelValues(kind).Observe(d.Seconds())
}

// ObserveCommit records one durable commit of the store
// (store.CommitObserver).
func (m *Metrics) ObserveCommit(d time.Duration) { m.commits.Observe(d.Seconds()) }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// Registry is the server's registry.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }
