package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
)

var (
	errExited       = errors.New("server: process exited")
	errReadyTimeout = errors.New("server: not ready in time")
)

// Spec says how to start one server.
type Spec struct {
	Name    string   // label in reports and errors, e.g. "sluice-fsync"
	Path    string   // executable
	Args    []string // arguments after the executable
	Addr    string   // host:port it listens on, for the readiness check
	LogPath string   // file that receives its stdout and stderr
}

// Process is a running server started by Start.
type Process struct {
	Name    string
	Addr    string
	Pid     int
	Started time.Time // just before the exec

	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done is closed

	stopOnce sync.Once
	stopErr  error
}

// Start launches spec's process. It does not wait for readiness; call
// WaitReady. The caller must call Stop, also on error paths.
func Start(spec Spec) (*Process, error) {
	logFile, err := os.Create(spec.LogPath)
	if err != nil {
		return nil, fmt.Errorf("creating log of %s: %w", spec.Name, err)
	}
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:   true,            // own group: terminal signals go to the harness only
		Pdeathsig: syscall.SIGKILL, // die with the harness even if it cannot clean up
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", spec.Name, spec.Path, err)
	}
	p := &Process{
		Name:    spec.Name,
		Addr:    spec.Addr,
		Pid:     cmd.Process.Pid,
		Started: started,
		cmd:     cmd,
		logPath: spec.LogPath,
		logFile: logFile,
		done:    make(chan struct{}),
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Exited returns a non-nil error if the process is no longer running.
func (p *Process) Exited() error {
	select {
	case <-p.done:
		return fmt.Errorf("%w: %s (pid %d): %v", errExited, p.Name, p.Pid, p.waitErr)
	default:
		return nil
	}
}

// WaitReady polls GET http://Addr/healthz every 50 ms until it answers 200,
// the process exits, ctx ends or timeout passes.
func (p *Process) WaitReady(ctx context.Context, timeout time.Duration) error {
	_, err := p.WaitReadyEvery(ctx, timeout, 50*time.Millisecond)
	return err
}

// WaitReadyEvery is WaitReady polling every interval. It returns when the
// first 200 arrived.
func (p *Process) WaitReadyEvery(ctx context.Context, timeout, interval time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	url := "http://" + p.Addr + "/healthz"
	var last string
	for {
		if err := p.Exited(); err != nil {
			return time.Time{}, err
		}
		code, _, err := fasthttp.GetTimeout(nil, url, time.Second)
		if err == nil && code == fasthttp.StatusOK {
			return time.Now(), nil
		}
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprintf("status %d", code)
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("%w: %s at %s after %v (last: %s)", errReadyTimeout, p.Name, url, timeout, last)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-p.done:
		case <-time.After(interval):
		}
	}
}

// Stop ends the process: SIGTERM to its process group, then SIGKILL to the
// group if it has not exited after grace. It is idempotent and returns the
// first call's result: nil if the process exited cleanly or by our signal.
func (p *Process) Stop(grace time.Duration) error {
	p.stopOnce.Do(func() {
		defer p.logFile.Close()
		if p.Exited() != nil {
			// Already gone (crashed or killed): still sweep its group.
			_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
			p.stopErr = p.Exited()
			return
		}
		_ = syscall.Kill(-p.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
			<-p.done
			p.stopErr = fmt.Errorf("stopping %s: killed after %v grace", p.Name, grace)
			return
		}
		// Sweep anything the server started in its group and left behind.
		_ = syscall.Kill(-p.Pid, syscall.SIGKILL)
	})
	return p.stopErr
}

// LogTail returns up to the last n lines of the process's output.
func (p *Process) LogTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read log %s: %v)", p.logPath, err)
	}
	return TailLines(b, n)
}

// TailLines returns the last n lines of b, without a trailing newline.
func TailLines(b []byte, n int) string {
	b = bytes.TrimRight(b, "\n")
	if len(b) == 0 || n <= 0 {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// FreeAddr returns a loopback address whose port was free a moment ago.
// Another process may take it before the server binds; a server that cannot
// listen exits, and WaitReady reports that.
func FreeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
