package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// server is a PostgreSQL server the tests started for themselves.
type server struct {
	dir string    // data directory and socket directory
	cmd *exec.Cmd // the postmaster
	url string    // the "test" database
}

// startServer starts a throwaway PostgreSQL server from the Debian
// packages' binaries, on a free port of 127.0.0.1, with trust auth. As
// root, it runs them as the postgres user, since postgres refuses root.
func startServer() (*server, error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return nil, errors.New("no /usr/lib/postgresql/*/bin/initdb")
	}
	slices.Sort(bins) // the newest version last, if their numbers have the same width
	bin := filepath.Dir(bins[len(bins)-1])
	var runAs []string
	dir, err := os.MkdirTemp("", "vigil-pg-")
	if err != nil {
		return nil, err
	}
	srv := &server{dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, and no postgres user to run the server as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		runAs = []string{"runuser", "-u", "postgres", "--"}
	}
	command := func(name string, args ...string) *exec.Cmd {
		argv := append(append(slices.Clone(runAs), filepath.Join(bin, name)), args...)
		return exec.Command(argv[0], argv[1:]...)
	}
	data := filepath.Join(dir, "data")
	if out, err := command("initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	srv.cmd = command("postgres", "-D", data, "-p", strconv.Itoa(port), "-k", dir,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200")
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	defer logFile.Close() // the child keeps its own descriptor
	srv.cmd.Stdout, srv.cmd.Stderr = logFile, logFile
	// Its own process group, so that stop reaches postgres under runuser.
	srv.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := srv.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	base := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = ping(ctx, base+"postgres?sslmode=disable")
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			srv.stop()
			return nil, fmt.Errorf("postgres did not start: %w; its log:\n%s", err, log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if out, err := command("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "postgres", "test").CombinedOutput(); err != nil {
		srv.stop()
		return nil, fmt.Errorf("createdb: %w: %s", err, out)
	}
	srv.url = base + "test?sslmode=disable"
	return srv, nil
}

// stop shuts the server down (fast shutdown) and removes its files.
func (s *server) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGINT)
		done := make(chan struct{})
		go func() { s.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	os.RemoveAll(s.dir)
}
