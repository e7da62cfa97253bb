// Package metrics holds Sluice's Prometheus metrics and serves them in the
// text exposition format (OpenMetrics when the scraper asks for it) at the
// admin listener's GET /metrics.
//
// It sits beside the data path: the drivers (ingress, worker) count at their
// call sites through a *Route resolved once per configured route at startup,
// so counting a message is an atomic add on a pre-resolved child, with no
// label lookup and no allocation. Gauges of state other packages own (the
// log's backlog, dead letters, free disk) are read when scraped.
//
// Label values come only from the config (route names) and the error-code
// tables (codes, outcomes): never from a request (ids, URLs, paths).
//
// A Metrics and its Routes are safe for concurrent use. Every method of a
// nil *Route does nothing, so a driver built without metrics needs no checks.
package metrics
