package wal

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// crashDirEnv names the log directory of the helper process of TestCrash.
const crashDirEnv = "VIGIL_WAL_CRASH_DIR"

// crashOptions are the options both processes of TestCrash use: small
// segments, so kills land around rolls too.
func crashOptions(dir string) Options {
	return Options{Dir: dir, SegmentSize: 32 << 10, MaxBytes: 1 << 30}
}

// TestCrashHelper is the child process of TestCrash. It continues the
// numbered records of the log in its directory and prints each number once
// Append has acknowledged it, until it is killed.
func TestCrashHelper(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("helper process for TestCrash")
	}
	l, err := Open(crashOptions(dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	recs := readAll(t, l, Pos{})
	next := uint64(len(recs))
	rng := rand.New(rand.NewPCG(next, 1))
	for {
		batch := make([][]byte, 1+rng.IntN(3))
		for i := range batch {
			batch[i] = payload(next+uint64(i), 8+rng.IntN(20000))
		}
		if _, _, err := l.Append(context.Background(), batch...); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		for range batch {
			fmt.Fprintln(os.Stdout, next)
			next++
		}
	}
}

// TestCrash kills a process that is appending with SIGKILL at a random
// moment, reopens its log and checks that every acknowledged record is
// there exactly once and in order, several times over the same log.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(os.Getpid()), 2))
	var acked int64 = -1
	for round := range 5 {
		killAfter := 20 + rng.IntN(200)
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
		cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		n := 0
		for sc.Scan() {
			v, err := strconv.ParseInt(sc.Text(), 10, 64)
			if err != nil {
				t.Fatalf("round %d: child printed %q", round, sc.Text())
			}
			if v != acked+1 {
				t.Fatalf("round %d: child acknowledged %d after %d", round, v, acked)
			}
			acked = v
			if n++; n == killAfter {
				if err := cmd.Process.Kill(); err != nil {
					t.Fatal(err)
				}
			}
		}
		err = cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != -1 {
			t.Fatalf("round %d: child ended with %v after %d records, want killed", round, err, n)
		}

		l, err := Open(crashOptions(dir))
		if err != nil {
			t.Fatalf("round %d: Open after kill: %v", round, err)
		}
		recs := readAll(t, l, Pos{})
		for i, rec := range recs {
			if got := binary.LittleEndian.Uint64(rec.Data); got != uint64(i) {
				t.Fatalf("round %d: record %d at %v holds %d", round, i, rec.Pos, got)
			}
		}
		if int64(len(recs)) <= acked {
			t.Fatalf("round %d: log holds records 0..%d, but %d was acknowledged", round, len(recs)-1, acked)
		}
		st := l.Stats()
		t.Logf("round %d: killed after %d acks; %d records (last acked %d), %d segments, %d torn bytes dropped",
			round, n, len(recs), acked, st.Segments, st.TornBytes)
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		// Records written but not acknowledged before the kill are kept;
		// the next child continues after them.
		acked = int64(len(recs)) - 1
	}
}
