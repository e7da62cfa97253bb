package metrics

import (
	"net/http"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Completion statuses (sluice_messages_completed_total's status label).
const (
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusDead      = "dead"
)

// OutcomeSucceeded is a delivery attempt the destination answered with a
// 2xx (sluice_delivery_attempts_total's outcome label); any other outcome is
// the failure's error code.
const OutcomeSucceeded = "succeeded"

// UnknownRoute labels the ingress's answers to requests for a route the
// config does not have (a configured name starts with a letter or digit, so
// it never collides).
const UnknownRoute = "_unknown"

// ListenerRoute labels the connections the ingress's listener refuses
// before a request is read (server_busy past http.max_connections,
// too_many_connections past http.max_connections_per_ip): no route is
// known yet, and no request is counted as received.
const ListenerRoute = "_listener"

// Metrics is one server's registry of metrics.
type Metrics struct {
	reg        *prometheus.Registry
	received   *prometheus.CounterVec
	rejected   *prometheus.CounterVec
	completed  *prometheus.CounterVec
	attempts   *prometheus.CounterVec
	retries    *prometheus.CounterVec
	inflight   *prometheus.GaugeVec
	ingest     *prometheus.HistogramVec
	endToEnd   *prometheus.HistogramVec
	dispatch   *prometheus.HistogramVec
	plugin     *prometheus.HistogramVec
	pluginFail *prometheus.CounterVec
	callbacks  *prometheus.CounterVec
	routes     map[string]*Route
	routeNames []string
	plugins    map[string]*Plugin
}

// Plugin is one configured plugin's pre-resolved metrics. Safe for
// concurrent use; a nil *Plugin counts nothing.
type Plugin struct {
	m        *Metrics
	name     string
	duration prometheus.Observer
}

// Plugin returns the metrics of a configured plugin, or nil for any other
// name (and on a nil Metrics).
func (m *Metrics) Plugin(name string) *Plugin {
	if m == nil {
		return nil
	}
	return m.plugins[name]
}

// Called records one call of the plugin (a transform, a validation).
func (p *Plugin) Called(d time.Duration) {
	if p != nil {
		p.duration.Observe(d.Seconds())
	}
}

// Failed counts a failed call by its error code (trap, fuel_exhausted,
// memory_limit, plugin_timeout, ...; a plugin's deliberate rejection too).
func (p *Plugin) Failed(code string) {
	if p != nil {
		p.m.pluginFail.WithLabelValues(p.name, code).Inc()
	}
}

// Route is one route's pre-resolved metrics. Safe for concurrent use; a
// nil *Route counts nothing.
type Route struct {
	m                          *Metrics
	name                       string
	received, retries          prometheus.Counter
	succeeded, failed, dead    prometheus.Counter
	attemptOK                  prometheus.Counter
	inflight                   prometheus.Gauge
	ingest, endToEnd, dispatch prometheus.Observer
}

// latencyBuckets (seconds) span a fast local ack (100µs) to a slow
// destination (a minute).
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// New registers every metric for the configured routes and plugins;
// version is the build's (sluice_build_info).
func New(version string, routes, plugins []string) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), routes: make(map[string]*Route, len(routes)+1),
		plugins: make(map[string]*Plugin, len(plugins))}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	m.received = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_messages_received_total",
		Help: "Requests to POST /in/{route}, accepted or not."}, []string{"route"})
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_messages_rejected_total",
		Help: "Ingress answers with a 4xx or 5xx status, by error code."}, []string{"route", "code"})
	m.completed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_messages_completed_total",
		Help: "Messages with a final outcome: succeeded, failed or dead (a dead letter)."}, []string{"route", "status"})
	m.attempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_delivery_attempts_total",
		Help: "Calls to the destination, by outcome: succeeded (2xx) or the failure's error code."}, []string{"route", "outcome"})
	m.retries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_retries_total",
		Help: "Failed deliveries scheduled to run again."}, []string{"route"})
	m.inflight = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_inflight_messages",
		Help: "Messages a worker is processing now."}, []string{"route"})
	m.ingest = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_ingest_duration_seconds",
		Help: "From a request's headers to its 2xx answer (the message is durable).", Buckets: latencyBuckets}, []string{"route"})
	m.endToEnd = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_end_to_end_duration_seconds",
		Help: "From a message's acceptance to its final outcome.", Buckets: latencyBuckets}, []string{"route"})
	m.dispatch = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_dispatch_duration_seconds",
		Help: "One call to the destination.", Buckets: latencyBuckets}, []string{"route"})
	m.plugin = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sluice_plugin_duration_seconds",
		Help: "One call of a plugin, failed or not.", Buckets: latencyBuckets}, []string{"plugin"})
	m.pluginFail = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_plugin_failures_total",
		Help: "Failed plugin calls by error code."}, []string{"plugin", "code"})
	m.callbacks = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sluice_callback_attempts_total",
		Help: "Callbacks sent, by outcome: succeeded (2xx) or the failure's error code."}, []string{"route", "outcome"})
	for _, c := range []prometheus.Collector{m.received, m.rejected, m.completed, m.attempts, m.retries, m.inflight,
		m.ingest, m.endToEnd, m.dispatch, m.plugin, m.pluginFail, m.callbacks} {
		f(c)
	}
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sluice_build_info",
		Help: "Always 1; the labels say which build is running."}, []string{"version", "go"})
	build.WithLabelValues(version, runtime.Version()).Set(1)
	f(build)
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// The listener's refusals have only a rejected count: no series of
	// its own until one happens.
	m.routes[ListenerRoute] = &Route{m: m, name: ListenerRoute}
	for _, name := range append([]string{UnknownRoute}, routes...) {
		m.routes[name] = m.newRoute(name)
		if name != UnknownRoute {
			m.routeNames = append(m.routeNames, name)
		}
	}
	for _, name := range plugins {
		m.plugins[name] = &Plugin{m: m, name: name, duration: m.plugin.WithLabelValues(name)}
	}
	return m
}

func (m *Metrics) newRoute(name string) *Route {
	r := &Route{m: m, name: name,
		received:  m.received.WithLabelValues(name),
		retries:   m.retries.WithLabelValues(name),
		succeeded: m.completed.WithLabelValues(name, StatusSucceeded),
		failed:    m.completed.WithLabelValues(name, StatusFailed),
		dead:      m.completed.WithLabelValues(name, StatusDead),
		attemptOK: m.attempts.WithLabelValues(name, OutcomeSucceeded),
		inflight:  m.inflight.WithLabelValues(name),
		ingest:    m.ingest.WithLabelValues(name),
		endToEnd:  m.endToEnd.WithLabelValues(name),
		dispatch:  m.dispatch.WithLabelValues(name),
	}
	return r
}

// Route returns the metrics of a configured route, or nil for any other
// name (and on a nil Metrics).
func (m *Metrics) Route(name string) *Route {
	if m == nil {
		return nil
	}
	return m.routes[name]
}

// Unknown is the metrics of requests for routes the config does not have.
func (m *Metrics) Unknown() *Route { return m.Route(UnknownRoute) }

// Listener is the metrics of connections refused before a request is read:
// call only its Rejected.
func (m *Metrics) Listener() *Route { return m.Route(ListenerRoute) }

// Handler serves the metrics (text format, or OpenMetrics when asked).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{EnableOpenMetrics: true})
}

// Registry is where the metrics are registered (tests gather from it).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Backlog reads one route's backlog: messages accepted and not completed, and their bytes.
type Backlog func(route string) (messages int, bytes int64)

// LogFiles is what the log's files hold, read when scraped.
type LogFiles struct {
	DiskFree     int64 // free space on the log's file system (last measurement)
	SegmentBytes int64 // bytes in segment files, the kept ones included
	KeptSegments int   // segment files kept only for retained results that refer to them
}

// WatchLog registers the gauges read from the log when scraped: each
// route's backlog and its dead letters, the free space of the log's file
// system and its segment files.
func (m *Metrics) WatchLog(backlog Backlog, deadLetters func(route string) int, files func() LogFiles) {
	for _, name := range m.routeNames {
		labels := prometheus.Labels{"route": name}
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_backlog_messages", ConstLabels: labels,
			Help: "Messages accepted and without a final outcome (waiting, running or waiting to retry)."},
			func() float64 { n, _ := backlog(name); return float64(n) }))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_backlog_bytes", ConstLabels: labels,
			Help: "The size of those messages."},
			func() float64 { _, b := backlog(name); return float64(b) }))
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_dead_letters", ConstLabels: labels,
			Help: "Dead letters kept for replay or discard."},
			func() float64 { return float64(deadLetters(name)) }))
	}
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_disk_free_bytes",
		Help: "Free space on the log's file system (last measurement)."},
		func() float64 { return float64(files().DiskFree) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_log_segment_bytes",
		Help: "Bytes in the log's segment files, those kept for retained results included."},
		func() float64 { return float64(files().SegmentBytes) }))
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_log_kept_segments",
		Help: "Segment files kept only for retained results that refer to the bodies in them."},
		func() float64 { return float64(files().KeptSegments) }))
}

// WatchOldest registers sluice_backlog_oldest_age_seconds, read when
// scraped: the age of each route's oldest message without a final outcome,
// from oldest (the zero time: none, age 0).
func (m *Metrics) WatchOldest(oldest func(route string) time.Time) {
	for _, name := range m.routeNames {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_backlog_oldest_age_seconds",
			ConstLabels: prometheus.Labels{"route": name},
			Help:        "Age of the route's oldest message without a final outcome (0: none)."},
			func() float64 {
				t := oldest(name)
				if t.IsZero() {
					return 0
				}
				return max(time.Since(t).Seconds(), 0)
			}))
	}
}

// WatchPlugins registers sluice_plugin_instances, read when scraped: the
// warm instances of each configured plugin, from instances.
func (m *Metrics) WatchPlugins(instances func(plugin string) int64) {
	for name := range m.plugins {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sluice_plugin_instances",
			ConstLabels: prometheus.Labels{"plugin": name},
			Help:        "Warm instances of the plugin's current version, held by workers and validators."},
			func() float64 { return float64(instances(name)) }))
	}
}

// LogCommit returns what the log's committer calls after each group
// commit: messages it made durable, its write and fsync times.
func (m *Metrics) LogCommit() func(appended int, write, sync time.Duration) {
	commit := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_log_commit_duration_seconds",
		Help: "Writing one group commit: its frame to the segment file, its outcomes to Badger.", Buckets: latencyBuckets})
	syncs := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_log_sync_duration_seconds",
		Help: "The fdatasync of one group commit's frame (durability: fsync).", Buckets: latencyBuckets})
	batch := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "sluice_log_batch_messages",
		Help: "Messages made durable by one group commit.", Buckets: prometheus.ExponentialBuckets(1, 2, 13)})
	m.reg.MustRegister(commit, syncs, batch)
	return func(appended int, write, sync time.Duration) {
		commit.Observe(write.Seconds())
		if sync > 0 {
			syncs.Observe(sync.Seconds())
		}
		if appended > 0 {
			batch.Observe(float64(appended))
		}
	}
}

// Received counts a request for the route.
func (r *Route) Received() {
	if r != nil {
		r.received.Inc()
	}
}

// Rejected counts an answer with a 4xx or 5xx status and its error code.
func (r *Route) Rejected(code string) {
	if r != nil {
		r.m.rejected.WithLabelValues(r.name, code).Inc()
	}
}

// Ingested records the time from a request to its acknowledgement.
func (r *Route) Ingested(d time.Duration) {
	if r != nil {
		r.ingest.Observe(d.Seconds())
	}
}

// Started and Finished bracket a worker's processing of one message.
func (r *Route) Started() {
	if r != nil {
		r.inflight.Inc()
	}
}

// Finished: see Started.
func (r *Route) Finished() {
	if r != nil {
		r.inflight.Dec()
	}
}

// Attempt counts one call to the destination and its duration; outcome
// is OutcomeSucceeded or the failure's error code.
func (r *Route) Attempt(outcome string, d time.Duration) {
	if r == nil {
		return
	}
	r.dispatch.Observe(d.Seconds())
	if outcome == OutcomeSucceeded {
		r.attemptOK.Inc()
		return
	}
	r.m.attempts.WithLabelValues(r.name, outcome).Inc()
}

// Callback counts one attempt to send the route's callback; outcome is
// OutcomeSucceeded or the failure's error code.
func (r *Route) Callback(outcome string) {
	if r != nil {
		r.m.callbacks.WithLabelValues(r.name, outcome).Inc()
	}
}

// Retried counts a failed delivery that runs again.
func (r *Route) Retried() {
	if r != nil {
		r.retries.Inc()
	}
}

// Completed counts a message's final outcome (StatusSucceeded, StatusFailed
// or StatusDead); age is the time since it was accepted.
func (r *Route) Completed(status string, age time.Duration) {
	if r == nil {
		return
	}
	switch status {
	case StatusSucceeded:
		r.succeeded.Inc()
	case StatusFailed:
		r.failed.Inc()
	default:
		r.dead.Inc()
	}
	r.endToEnd.Observe(age.Seconds())
}
