// Package admin is Sluice's operator API, served on its own listener
// (loopback by default), apart from the ingress:
//
//	GET /v1/plugins          every plugin's current version: sha256, ABI, size, imports, exports, memory, limits
//	GET /v1/plugins/{name}   one plugin
//	PUT /v1/plugins/{name}   upload a new version: validated, compiled, then swapped in atomically
//	GET /v1/stats            the log's and the ingress's counters
//	GET /metrics             Prometheus metrics (runtime/metrics), if Metrics is set
//	... dead letters: list, replay, discard (see Handler)
//
// With a Token every endpoint but GET /healthz needs "Authorization: Bearer
// <token>" (compared in constant time); without one the listener must be on
// loopback (the config refuses anything else).
//
// Messages already running finish on the version they started with. An
// uploaded version is kept in the data dir and survives a restart.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/sluicehq/sluice/queue"
	"github.com/sluicehq/sluice/runtime/errcode"
	"github.com/sluicehq/sluice/runtime/ingress"
	"github.com/sluicehq/sluice/runtime/registry"
	"github.com/sluicehq/sluice/runtime/results"
	"github.com/sluicehq/sluice/runtime/verify"
	"github.com/sluicehq/sluice/runtime/wasm"
	"github.com/sluicehq/sluice/runtime/wasm/wasmbin"
)

// Error codes of the admin API (the status of each is in runtime/errcode;
// it also answers with errcode's, verify.CodeUnauthorized, results.CodeInternal
// and, for a refused upload, the wasm package's codes).
const (
	CodePluginNotFound     = "plugin_not_found"
	CodeDeadLetterNotFound = "dead_letter_not_found"
	CodePluginPinned       = "plugin_pinned"
	CodeModuleTooLarge     = "module_too_large"
)

// Loader compiles a new version of a configured plugin with the plugin's
// configured ABI and limits. It refuses content the config pins against.
type Loader func(ctx context.Context, name string, bin []byte) (*wasm.Plugin, error)

// Server serves the admin API.
type Server struct {
	Registry  *registry.Registry
	Queue     queue.Queue
	Routes    map[string]bool // route names (dead letters are per route)
	Load      Loader
	UploadDir string // where uploaded versions are kept (UploadPath)
	MaxModule int64  // largest accepted upload
	Log       *slog.Logger
	// Token, if set, is required of every request but GET /healthz.
	Token string
	// Stats, if set, is served as JSON at GET /v1/stats.
	Stats func() any
	// Metrics, if set, serves GET /metrics.
	Metrics http.Handler
}

// UploadPath is where the uploaded version of a plugin is kept.
func UploadPath(dir, name string) string { return filepath.Join(dir, name+".wasm") }

// Handler returns the API's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/plugins", s.list)
	mux.HandleFunc("GET /v1/plugins/{name}", s.get)
	mux.HandleFunc("PUT /v1/plugins/{name}", s.put)
	mux.HandleFunc("GET /v1/routes/{route}/dead", s.deadList)
	mux.HandleFunc("POST /v1/routes/{route}/dead/replay", s.deadReplayAll)
	mux.HandleFunc("POST /v1/routes/{route}/dead/{id}/replay", s.deadReplay)
	mux.HandleFunc("DELETE /v1/routes/{route}/dead/{id}", s.deadDiscard)
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, _ *http.Request) {
		if s.Stats == nil {
			writeJSON(w, http.StatusOK, map[string]any{})
			return
		}
		writeJSON(w, http.StatusOK, s.Stats())
	})
	if s.Metrics != nil {
		mux.Handle("GET /metrics", s.Metrics)
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }) // #nosec G104 -- a client that went away cannot be told
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, errcode.NotFound, fmt.Sprintf("no admin endpoint %s %s", r.Method, r.URL.Path))
	})
	if s.Token == "" {
		return mux
	}
	want := sha256.Sum256([]byte(s.Token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			mux.ServeHTTP(w, r)
			return
		}
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		got := sha256.Sum256([]byte(strings.TrimSpace(tok)))
		if !ok || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sluice-admin"`)
			msg := "the admin API needs the operator token: Authorization: Bearer <admin_token>"
			if ok {
				msg = "the token is not the admin token"
			}
			writeError(w, verify.CodeUnauthorized, msg)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// PluginView is the JSON description of a plugin version.
type PluginView struct {
	Name     string            `json:"name"`
	Version  string            `json:"version"`
	SHA256   string            `json:"sha256"`
	ABI      string            `json:"abi"`
	Size     int               `json:"size"`
	Source   string            `json:"source"`
	LoadedAt time.Time         `json:"loaded_at"`
	InFlight int64             `json:"in_flight"` // messages running on this version now
	Imports  []string          `json:"imports"`
	Exports  []string          `json:"exports"`
	Memory   []wasmbin.Memory  `json:"memory"`
	Limits   map[string]string `json:"limits"`
}

func view(v *registry.Version) PluginView {
	p := v.Plugin
	out := PluginView{Name: p.Name, Version: p.Version, SHA256: p.SHA256, ABI: p.ABI, Size: p.Size,
		Source: v.Source, LoadedAt: v.LoadedAt, InFlight: v.Leases(), Imports: []string{}, Exports: []string{}, Memory: p.Module.Memories}
	for _, i := range p.Module.Imports {
		s := i.Kind + " " + i.Module + "." + i.Name
		if i.Type != nil {
			s += " " + i.Type.String()
		}
		out.Imports = append(out.Imports, s)
	}
	for _, e := range p.Module.Exports {
		s := e.Kind + " " + e.Name
		if e.Type != nil {
			s += " " + e.Type.String()
		}
		out.Exports = append(out.Exports, s)
	}
	l := p.Limits()
	out.Limits = map[string]string{
		"memory_pages": fmt.Sprint(l.MemoryPages), "fuel": fmt.Sprint(l.Fuel), "max_depth": fmt.Sprint(l.MaxDepth),
		"timeout": l.Timeout.String(), "max_output": fmt.Sprint(l.MaxOutput), "max_module_size": fmt.Sprint(l.MaxModuleSize),
		"max_functions": fmt.Sprint(l.MaxFunctions), "max_function_size": fmt.Sprint(l.MaxFunctionSize),
		"max_code_size": fmt.Sprint(l.MaxCodeSize), "max_declarations": fmt.Sprint(l.MaxDeclarations),
		"max_compile_work": fmt.Sprint(l.MaxCompileWork),
	}
	return out
}

func (s *Server) list(w http.ResponseWriter, _ *http.Request) {
	vs := s.Registry.List()
	out := make([]PluginView, len(vs))
	for i, v := range vs {
		out[i] = view(v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"plugins": out})
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	v := s.Registry.Get(r.PathValue("name"))
	if v == nil {
		writeError(w, CodePluginNotFound, fmt.Sprintf("no plugin named %q in the config", r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, view(v))
}

// put uploads a new version of a configured plugin.
func (s *Server) put(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if s.Registry.Get(name) == nil {
		writeError(w, CodePluginNotFound,
			fmt.Sprintf("no plugin named %q in the config (uploads replace configured plugins)", name))
		return
	}
	bin, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxModule))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, CodeModuleTooLarge,
				fmt.Sprintf("the module is over the %d-byte limit (max_module_size)", s.MaxModule))
			return
		}
		writeError(w, errcode.BadRequest, "reading the module: "+err.Error())
		return
	}
	if len(bin) == 0 {
		writeError(w, errcode.BadRequest, "empty body: PUT the .wasm file as the request body")
		return
	}
	start := time.Now()
	p, err := s.Load(r.Context(), name, bin)
	if err != nil {
		var pinned *PinnedError
		var we *wasm.Error
		switch {
		case errors.As(err, &pinned):
			writeError(w, CodePluginPinned, err.Error())
		case errors.As(err, &we):
			writeError(w, we.Code, we.Message)
		default:
			writeError(w, results.CodeInternal, err.Error())
		}
		return
	}
	if err := writeFileAtomic(UploadPath(s.UploadDir, name), bin); err != nil {
		p.Close(context.Background()) // #nosec G104 -- discarding a version that was not installed
		writeError(w, results.CodeInternal, "keeping the upload: "+err.Error())
		return
	}
	v := &registry.Version{Plugin: p, Source: registry.SourceUpload, LoadedAt: time.Now()}
	old, err := s.Registry.Swap(v)
	if err != nil {
		p.Close(context.Background()) // #nosec G104 -- discarding a version that was not installed
		writeError(w, CodePluginNotFound, err.Error())
		return
	}
	s.Log.Info("plugin version swapped", "plugin", name, "from", old.Plugin.Version, "to", p.Version,
		"took", time.Since(start).Round(time.Millisecond))
	writeJSON(w, http.StatusOK, map[string]any{"plugin": view(v), "replaced": old.Plugin.Version})
}

// PinnedError refuses an upload whose content the config pins (sha256).
type PinnedError struct{ Name, Pinned, Got string }

func (e *PinnedError) Error() string {
	return fmt.Sprintf("plugin %q is pinned to sha256 %s by the config; the upload has %s", e.Name, e.Pinned, e.Got)
}

func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close() // #nosec G104 -- the write failed; that error is returned
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close() // #nosec G104 -- the write failed; that error is returned
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v) // #nosec G104 -- the status is sent; a client that went away cannot be told
}

// writeError answers with the code's status on the admin listener
// (runtime/errcode) and the JSON error body.
func writeError(w http.ResponseWriter, code, msg string) {
	w.Header().Set("Sluice-Error-Code", code)
	writeJSON(w, errcode.AdminStatus(code), map[string]any{"error": map[string]string{"code": code, "message": strings.TrimSpace(msg)}})
}

// DeadView is one dead letter in GET /v1/routes/{route}/dead. Its
// ordering key is shown as the route's order_by made it: OrderBy is route,
// header or json (absent for a route that does not order), OrderKey the
// header's or the JSON pointer's value in the message (present for header
// and json; "" if the message lacked it).
type DeadView struct {
	CorrelationID string                `json:"correlation_id"`
	Route         string                `json:"route"`
	ReceivedAt    time.Time             `json:"received_at"`
	DiedAt        time.Time             `json:"died_at"`
	Attempts      int                   `json:"attempts"`
	Parked        bool                  `json:"parked"`
	OrderBy       string                `json:"order_by,omitempty"`
	OrderKey      *string               `json:"order_key,omitempty"`
	LastError     *results.Error        `json:"last_error,omitempty"`
	LastStatus    int                   `json:"last_destination_status,omitempty"`
	Plugins       []string              `json:"plugins,omitempty"`
	AttemptLog    []results.AttemptView `json:"attempt_log,omitempty"`
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) (string, bool) {
	name := r.PathValue("route")
	if !s.Routes[name] {
		writeError(w, errcode.RouteNotFound, fmt.Sprintf("no route named %q", name))
		return "", false
	}
	return name, true
}

// deadList pages through a route's dead letters: ?after=<cursor>&limit=<n>
// (default 100, at most 1000); "next" is the cursor of the next page.
func (s *Server) deadList(w http.ResponseWriter, r *http.Request) {
	route, ok := s.route(w, r)
	if !ok {
		return
	}
	after, limit := uint64(0), 100
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, errcode.BadRequest, "after must be the next cursor of a previous page")
			return
		}
		after = n
	}
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, errcode.BadRequest, "limit must be between 1 and 1000")
			return
		}
		limit = n
	}
	letters, next, err := s.Queue.DeadLetters(route, after, limit)
	if err != nil {
		writeError(w, results.CodeInternal, err.Error())
		return
	}
	out := make([]DeadView, 0, len(letters))
	for _, d := range letters {
		v := DeadView{CorrelationID: uuid.UUID(d.Message.ID).String(), Route: d.Message.Route, ReceivedAt: d.Message.Received,
			DiedAt: d.Record.Updated, Attempts: int(d.Record.Attempts), Parked: d.Message.Parked}
		if _, by, value := ingress.SplitOrderKey(d.Message.Key); by != "" {
			v.OrderBy = by
			if by != "route" {
				v.OrderKey = &value
			}
		}
		if o, err := results.Decode(d.Record.Payload); err == nil {
			v.LastError, v.Plugins, v.AttemptLog = o.Error, o.Plugins, results.AttemptViews(o.Attempts)
			if o.Response != nil {
				v.LastStatus = o.Response.Status
			}
		}
		out = append(out, v)
	}
	body := map[string]any{"dead": out}
	if next != 0 {
		body["next"] = strconv.FormatUint(next, 10)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) deadReplay(w http.ResponseWriter, r *http.Request) {
	s.deadOne(w, r, "replayed", s.Queue.Replay)
}

func (s *Server) deadDiscard(w http.ResponseWriter, r *http.Request) {
	s.deadOne(w, r, "discarded", s.Queue.Discard)
}

func (s *Server) deadOne(w http.ResponseWriter, r *http.Request, done string, act func(queue.ID) error) {
	if _, ok := s.route(w, r); !ok {
		return
	}
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		writeError(w, errcode.InvalidCorrelationID, fmt.Sprintf("%q is not a correlation id", r.PathValue("id")))
		return
	}
	switch err := act(queue.ID(id)); {
	case err == nil:
		writeJSON(w, http.StatusOK, map[string]string{"correlation_id": id.String(), "status": done})
	case errors.Is(err, queue.ErrNotFound), errors.Is(err, queue.ErrNotDead):
		writeError(w, CodeDeadLetterNotFound, fmt.Sprintf("%s is not a dead letter of this route", id))
	default:
		writeError(w, results.CodeInternal, err.Error())
	}
}

// deadReplayAll replays every dead letter of the route (bulk replay), in the
// order they died.
func (s *Server) deadReplayAll(w http.ResponseWriter, r *http.Request) {
	route, ok := s.route(w, r)
	if !ok {
		return
	}
	replayed := 0
	for {
		// Replayed letters leave the list: always read its first page.
		letters, _, err := s.Queue.DeadLetters(route, 0, 500)
		if err != nil {
			writeError(w, results.CodeInternal, err.Error())
			return
		}
		if len(letters) == 0 {
			break
		}
		before := replayed
		for _, d := range letters {
			err := s.Queue.Replay(d.Message.ID)
			switch {
			case err == nil:
				replayed++
			case !errors.Is(err, queue.ErrNotDead) && !errors.Is(err, queue.ErrNotFound):
				writeError(w, results.CodeInternal, fmt.Sprintf("after %d replayed: %v", replayed, err))
				return
			}
		}
		if replayed == before { // nothing on the page could be replayed (replayed or discarded meanwhile)
			break
		}
	}
	writeJSON(w, http.StatusOK, map[string]int{"replayed": replayed})
}
