package baseline

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

var (
	errAllocFailed   = errors.New("baseline: sluice_alloc returned 0")
	errTransformCode = errors.New("baseline: sluice_transform returned non-zero")
	errBadOutput     = errors.New("baseline: set_output outside memory")
)

// maxBody bounds what one request may send, like Sluice's default.
const maxBody = 16 << 20

// Server transforms and stores every POSTed message before answering 202.
type Server struct {
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	db       *badger.DB
	seq      atomic.Uint64
}

// Open compiles the module at wasmPath and opens (or creates) the Badger
// database in dataDir. The caller must Close the Server.
func Open(ctx context.Context, dataDir, wasmPath string) (*Server, error) {
	src, err := os.ReadFile(wasmPath)
	if err != nil {
		return nil, fmt.Errorf("reading transform: %w", err)
	}
	rt := wazero.NewRuntime(ctx)
	_, err = rt.NewHostModuleBuilder("sluice").
		NewFunctionBuilder().WithFunc(setOutput).Export("set_output").
		Instantiate(ctx)
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("instantiating host module: %w", err)
	}
	compiled, err := rt.CompileModule(ctx, src)
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("compiling transform: %w", err)
	}
	db, err := badger.Open(badger.DefaultOptions(dataDir).WithSyncWrites(true).WithLogger(nil))
	if err != nil {
		rt.Close(ctx)
		return nil, fmt.Errorf("opening badger: %w", err)
	}
	return &Server{rt: rt, compiled: compiled, db: db}, nil
}

// Close closes the database and the runtime.
func (s *Server) Close(ctx context.Context) error {
	err := s.db.Close()
	if rerr := s.rt.Close(ctx); err == nil {
		err = rerr
	}
	return err
}

// outputKey carries a *[]byte through the context of one transform call to
// setOutput.
type outputKey struct{}

// setOutput is the host function sluice.set_output(ptr, len): it copies the
// guest's output into the slice the caller put in ctx.
func setOutput(ctx context.Context, m api.Module, ptr, n uint32) {
	out, _ := ctx.Value(outputKey{}).(*[]byte)
	b, ok := m.Memory().Read(ptr, n)
	if !ok || out == nil {
		panic(errBadOutput) // traps the guest; Call returns the error
	}
	*out = append((*out)[:0], b...)
}

// Transform runs in on a fresh instance and returns its output.
func (s *Server) Transform(ctx context.Context, in []byte) ([]byte, error) {
	mod, err := s.rt.InstantiateModule(ctx, s.compiled, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		return nil, fmt.Errorf("instantiating transform: %w", err)
	}
	defer mod.Close(ctx)
	res, err := mod.ExportedFunction("sluice_alloc").Call(ctx, uint64(len(in)))
	if err != nil {
		return nil, fmt.Errorf("calling sluice_alloc: %w", err)
	}
	ptr := uint32(res[0])
	if ptr == 0 {
		return nil, errAllocFailed
	}
	if !mod.Memory().Write(ptr, in) {
		return nil, errAllocFailed
	}
	var out []byte
	res, err = mod.ExportedFunction("sluice_transform").Call(context.WithValue(ctx, outputKey{}, &out), uint64(ptr), uint64(len(in)))
	if err != nil {
		return nil, fmt.Errorf("calling sluice_transform: %w", err)
	}
	if res[0] != 0 {
		return nil, fmt.Errorf("%w: %d", errTransformCode, res[0])
	}
	return out, nil
}

// Store writes msg under the next sequence number in its own transaction;
// with SyncWrites the commit returns after the fsync.
func (s *Server) Store(msg []byte) (uint64, error) {
	id := s.seq.Add(1)
	var key [8]byte
	binary.BigEndian.PutUint64(key[:], id)
	err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(key[:], msg) })
	if err != nil {
		return 0, fmt.Errorf("storing message: %w", err)
	}
	return id, nil
}

// ServeHTTP answers POST with 202 once the transformed message is stored,
// GET /healthz with 200.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.Method == http.MethodPost:
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		out, err := s.Transform(r.Context(), body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		id, err := s.Store(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		b := make([]byte, 0, 64)
		b = append(b, `{"id":`...)
		b = strconv.AppendUint(b, id, 10)
		b = append(b, "}\n"...)
		w.Write(b)
	case r.Method == http.MethodGet && r.URL.Path == "/healthz":
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// Serve opens a Server and serves it on addr until ctx is done.
func Serve(ctx context.Context, addr, dataDir, wasmPath string) error {
	s, err := Open(ctx, dataDir, wasmPath)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		s.Close(ctx)
		return fmt.Errorf("listening on %s: %w", addr, err)
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err = <-done:
		err = fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = srv.Shutdown(shut)
		cancel()
	}
	if cerr := s.Close(context.Background()); err == nil {
		err = cerr
	}
	return err
}
