package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// proc is a child process in its own process group, with its output in a
// log file. The test's cleanup stops it if the test did not.
type proc struct {
	name string
	log  string        // stdout and stderr
	cmd  *exec.Cmd     //
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, once done is closed
}

// startProc starts bin with args, its output in dir/name.log.
func startProc(t *testing.T, dir, name, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: filepath.Join(dir, name+".log"), done: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close() // the child has its own descriptor
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { // owned by p: ends when the process does, which stop ensures
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if err := p.stop(30 * time.Second); err != nil && !p.signalled() {
			t.Logf("%s: %v", name, err)
		}
		if t.Failed() {
			t.Logf("%s log (%s), last lines:\n%s", name, p.log, p.tail(40))
		}
	})
	return p
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group and waits for the process to
// exit, then SIGKILL if it has not within grace. It returns how the
// process ended (nil for exit status 0).
func (p *proc) stop(grace time.Duration) error {
	if !p.exited() {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
			return fmt.Errorf("%s did not stop within %s of SIGTERM: killed", p.name, grace)
		}
	}
	// Whatever the group leader left behind goes too.
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	return p.err
}

// signalled reports whether the process was ended by a signal, as the
// apiserver and etcd are by SIGTERM.
func (p *proc) signalled() bool {
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

// tail returns the last n lines of the log.
func (p *proc) tail(n int) string {
	b, _ := os.ReadFile(p.log)
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// poll calls f every 100ms until it returns nil, and fails the test with
// f's last error after timeout, or as soon as one of the watched processes
// has exited.
func poll(t *testing.T, timeout time.Duration, what string, f func() error, watch ...*proc) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		for _, p := range watch {
			if p.exited() {
				t.Fatalf("%s: %s exited (%v) while waiting; last lines of %s:\n%s", what, p.name, p.err, p.log, p.tail(30))
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %s: %v", what, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
