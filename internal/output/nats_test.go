package output

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigilsec/vigil/internal/alert"
	"github.com/vigilsec/vigil/internal/config"
	"github.com/vigilsec/vigil/internal/journal"
)

// The NATS tests run against a real nats-server with JetStream: the one on
// 127.0.0.1:4222 (the Debian package's, as CI starts it) or the one
// VIGIL_TEST_NATS_URL names. The auth tests start their own nats-server
// processes from the same binary. VIGIL_SKIP_NATS=1 skips them all.

const (
	natsTestToken     = "nats-tok-Zq8-do-not-leak"
	natsTestPassword  = "nats-pw-Kx3-do-not-leak"
	natsTestEventData = "c2VjcmV0LWV2ZW50LWRhdGE=" // base64 of a Secret's data in the event
)

// natsSecrets are the strings that must never appear in what is sent,
// logged or returned.
var natsSecrets = []string{natsTestToken, natsTestPassword, natsTestEventData, "secret-event-data"}

func natsTestURL(t *testing.T) string {
	t.Helper()
	if os.Getenv("VIGIL_SKIP_NATS") == "1" {
		t.Skip("VIGIL_SKIP_NATS=1")
	}
	url := os.Getenv("VIGIL_TEST_NATS_URL")
	if url == "" {
		url = "nats://127.0.0.1:4222"
	}
	return url
}

// natsTestConn connects the test's own client, failing clearly without a
// server with JetStream.
func natsTestConn(t *testing.T) (string, *nats.Conn, jetstream.JetStream) {
	t.Helper()
	url := natsTestURL(t)
	nc, err := nats.Connect(url, nats.Timeout(2*time.Second))
	if err != nil {
		t.Fatalf("needs nats-server with JetStream on 127.0.0.1:4222, or set VIGIL_TEST_NATS_URL (VIGIL_SKIP_NATS=1 skips): %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := js.AccountInfo(ctx); err != nil {
		t.Fatalf("needs nats-server with JetStream on 127.0.0.1:4222, or set VIGIL_TEST_NATS_URL (VIGIL_SKIP_NATS=1 skips): JetStream: %v", err)
	}
	return url, nc, js
}

// natsUnique returns a random token for this run's subjects and streams.
func natsUnique(t *testing.T) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "t" + hex.EncodeToString(b)
}

// natsTestAlert returns an alert whose event holds a Secret's data, which
// no payload may carry.
func natsTestAlert(id string, p alert.Priority, cluster string) *journal.Alert {
	return &journal.Alert{
		ID: id,
		Alert: alert.Alert{
			Time:     time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.UTC).UnixNano(),
			Rule:     "Read secret",
			Priority: p,
			Source:   "k8s_audit",
			Tags:     []string{"k8s", "secrets"},
			Message:  `Secret read (user=alice target=db-pass verb=get) <&>`,
			Hostname: "vigil-0",
			Fields: []alert.Field{
				{Key: "ka.target.name", Values: []string{"db-pass"}},
				{Key: "ka.user.groups", Values: []string{"dev", "ops"}, List: true},
				{Key: "ka.user.name", Values: []string{"alice"}},
			},
		},
		Cluster:  cluster,
		Capture:  "webhook",
		AuditID:  "a1b2c3d4-" + id,
		Stage:    "ResponseComplete",
		Received: time.Date(2026, 3, 1, 12, 30, 46, 0, time.UTC),
		Event:    json.RawMessage(`{"kind":"Event","objectRef":{"resource":"secrets","name":"db-pass"},"responseObject":{"kind":"Secret","data":{"password":"` + natsTestEventData + `"}}}`),
	}
}

// natsAllPriorities returns one alert per priority, in priority order.
func natsAllPriorities(cluster string) []*journal.Alert {
	var as []*journal.Alert
	for p := alert.PriorityEmergency; p <= alert.PriorityDebug; p++ {
		as = append(as, natsTestAlert(fmt.Sprintf("%016x%016x%04x", 1, 100, int(p)), p, cluster))
	}
	return as
}

func natsAssertNoSecret(t *testing.T, what string, b []byte) {
	t.Helper()
	for _, s := range natsSecrets {
		if bytes.Contains(b, []byte(s)) {
			t.Errorf("%s leaks %q: %s", what, s, b)
		}
	}
}

func natsNewSink(t *testing.T, c config.NATSOutput, o SinkOptions) *NATS {
	t.Helper()
	s, err := NewNATS(c, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// natsSubscribe collects the messages published under prefix.
func natsSubscribe(t *testing.T, nc *nats.Conn, subject string) chan *nats.Msg {
	t.Helper()
	ch := make(chan *nats.Msg, 1024)
	sub, err := nc.ChanSubscribe(subject, ch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sub.Unsubscribe() })
	if err := nc.Flush(); err != nil { // the subscription is registered before anything is sent
		t.Fatal(err)
	}
	return ch
}

func natsReceive(t *testing.T, ch chan *nats.Msg, n int) []*nats.Msg {
	t.Helper()
	var got []*nats.Msg
	timeout := time.After(3 * time.Second)
	for len(got) < n {
		select {
		case m := <-ch:
			got = append(got, m)
		case <-timeout:
			t.Fatalf("received %d messages, want %d", len(got), n)
		}
	}
	return got
}

func sendCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// natsGolden is Falco's JSON alert of natsTestAlert at Warning, written out
// by hand: the wire format the json payload must match byte for byte.
const natsGolden = `{"hostname":"vigil-0","output":"12:30:45.123456789: Warning Secret read (user=alice target=db-pass verb=get) <&>",` +
	`"output_fields":{"ka.target.name":"db-pass","ka.user.groups":["dev","ops"],"ka.user.name":"alice"},` +
	`"priority":"Warning","rule":"Read secret","source":"k8s_audit","tags":["k8s","secrets"],"time":"2026-03-01T12:30:45.123456789Z"}`

func TestNATSCorePublish(t *testing.T) {
	url, nc, _ := natsTestConn(t)
	for _, tc := range []struct {
		name      string
		jetstream string // no stream captures the subjects: auto publishes with core NATS
		format    string
		cluster   bool
		uiURL     string
	}{
		{name: "off json", jetstream: "off"},
		{name: "auto json", jetstream: "auto"},
		{name: "off text", jetstream: "off", format: "text"},
		{name: "off vigil with cluster", jetstream: "off", format: "vigil", cluster: true, uiURL: "https://vigil.example/"},
		{name: "auto vigil", jetstream: "", format: "vigil"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "vigiltest." + natsUnique(t)
			ch := natsSubscribe(t, nc, prefix+".>")
			s := natsNewSink(t, config.NATSOutput{
				URL: url, SubjectPrefix: prefix, JetStream: tc.jetstream, Format: tc.format,
				ClusterInSubject: tc.cluster, Token: natsTestToken,
			}, SinkOptions{UIURL: tc.uiURL})
			alerts := natsAllPriorities("prod.eu-1")
			if err := s.Send(sendCtx(t), alerts); err != nil {
				t.Fatal(err)
			}
			got := natsReceive(t, ch, len(alerts))
			for i, m := range got {
				a := alerts[i]
				wantSubj := prefix + "." + strings.ToLower(a.Alert.Priority.String())
				if tc.cluster {
					wantSubj = prefix + ".prod_eu-1." + strings.ToLower(a.Alert.Priority.String())
				}
				if m.Subject != wantSubj {
					t.Errorf("message %d: subject %q, want %q", i, m.Subject, wantSubj)
				}
				if id := m.Header.Get("Nats-Msg-Id"); id != a.ID {
					t.Errorf("message %d: Nats-Msg-Id %q, want %q", i, id, a.ID)
				}
				falco := alert.AppendJSON(nil, &a.Alert, time.UTC)
				switch tc.format {
				case "", "json":
					if !bytes.Equal(m.Data, falco) {
						t.Errorf("message %d:\n got %s\nwant %s", i, m.Data, falco)
					}
					if a.Alert.Priority == alert.PriorityWarning && string(m.Data) != natsGolden {
						t.Errorf("warning alert:\n got %s\nwant %s", m.Data, natsGolden)
					}
				case "text":
					want := "12:30:45.123456789: " + a.Alert.Priority.String() + " Secret read (user=alice target=db-pass verb=get) <&>"
					if string(m.Data) != want {
						t.Errorf("message %d: %q, want %q", i, m.Data, want)
					}
				case "vigil":
					var v map[string]json.RawMessage
					if err := json.Unmarshal(m.Data, &v); err != nil {
						t.Fatalf("message %d: %v: %s", i, err, m.Data)
					}
					if !bytes.Equal(v["alert"], falco) {
						t.Errorf("message %d: alert\n got %s\nwant %s", i, v["alert"], falco)
					}
					want := map[string]string{
						"id": `"` + a.ID + `"`, "cluster": `"prod.eu-1"`, "capture": `"webhook"`,
						"audit_id": `"` + a.AuditID + `"`, "stage": `"ResponseComplete"`,
						"received": `"2026-03-01T12:30:46Z"`,
					}
					if tc.uiURL != "" {
						want["url"] = `"https://vigil.example/alerts/` + a.ID + `"`
					}
					for k, w := range want {
						if string(v[k]) != w {
							t.Errorf("message %d: %s = %s, want %s", i, k, v[k], w)
						}
					}
					if len(v) != len(want)+1 {
						t.Errorf("message %d: keys %d, want %d: %s", i, len(v), len(want)+1, m.Data)
					}
				}
				natsAssertNoSecret(t, "message", m.Data)
				natsAssertNoSecret(t, "headers", []byte(fmt.Sprint(m.Header)))
			}
			select {
			case m := <-ch:
				t.Errorf("unexpected extra message on %s: %s", m.Subject, m.Data)
			default:
			}
		})
	}
}

func TestNATSSubject(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prefix  string
		cluster bool
		a       *journal.Alert
		want    string
	}{
		{"emergency", "", false, natsTestAlert("1", alert.PriorityEmergency, "c"), "vigil.alerts.emergency"},
		{"alert", "", false, natsTestAlert("1", alert.PriorityAlert, "c"), "vigil.alerts.alert"},
		{"critical", "", false, natsTestAlert("1", alert.PriorityCritical, "c"), "vigil.alerts.critical"},
		{"error", "", false, natsTestAlert("1", alert.PriorityError, "c"), "vigil.alerts.error"},
		{"warning", "", false, natsTestAlert("1", alert.PriorityWarning, "c"), "vigil.alerts.warning"},
		{"notice", "", false, natsTestAlert("1", alert.PriorityNotice, "c"), "vigil.alerts.notice"},
		{"informational", "", false, natsTestAlert("1", alert.PriorityInformational, "c"), "vigil.alerts.informational"},
		{"debug", "", false, natsTestAlert("1", alert.PriorityDebug, "c"), "vigil.alerts.debug"},
		{"prefix", "sec.k8s", false, natsTestAlert("1", alert.PriorityWarning, "c"), "sec.k8s.warning"},
		{"cluster", "", true, natsTestAlert("1", alert.PriorityCritical, "prod"), "vigil.alerts.prod.critical"},
		{"cluster with dots and wildcards", "", true, natsTestAlert("1", alert.PriorityCritical, "eu.prod *>\t1"), "vigil.alerts.eu_prod____1.critical"},
		{"empty cluster", "", true, natsTestAlert("1", alert.PriorityNotice, ""), "vigil.alerts._.notice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &NATS{prefix: tc.prefix, cluster: tc.cluster}
			if s.prefix == "" {
				s.prefix = config.NATSDefaultSubjectPrefix
			}
			if got := s.subject(tc.a); got != tc.want {
				t.Errorf("subject = %q, want %q", got, tc.want)
			}
		})
	}
}

// natsStream creates a stream capturing prefix.> and deletes it after the
// test.
func natsStream(t *testing.T, js jetstream.JetStream, name, prefix string) jetstream.Stream {
	t.Helper()
	ctx := sendCtx(t)
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{prefix + ".>"}, Storage: jetstream.MemoryStorage, Duplicates: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	natsDeleteStreamAtEnd(t, js, name)
	return st
}

func natsDeleteStreamAtEnd(t *testing.T, js jetstream.JetStream, name string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := js.DeleteStream(ctx, name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			t.Errorf("delete stream %s: %v", name, err)
		}
	})
}

// natsCheckStream asserts that the stream holds exactly alerts, in order,
// each with its subject, payload and Nats-Msg-Id.
func natsCheckStream(t *testing.T, st jetstream.Stream, prefix string, alerts []*journal.Alert) {
	t.Helper()
	ctx := sendCtx(t)
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != uint64(len(alerts)) {
		t.Fatalf("stream holds %d messages, want %d", info.State.Msgs, len(alerts))
	}
	for i, a := range alerts {
		m, err := st.GetMsg(ctx, info.State.FirstSeq+uint64(i))
		if err != nil {
			t.Fatal(err)
		}
		if want := prefix + "." + strings.ToLower(a.Alert.Priority.String()); m.Subject != want {
			t.Errorf("message %d: subject %q, want %q", i, m.Subject, want)
		}
		if id := m.Header.Get(jetstream.MsgIDHeader); id != a.ID {
			t.Errorf("message %d: Nats-Msg-Id %q, want %q", i, id, a.ID)
		}
		if want := alert.AppendJSON(nil, &a.Alert, time.UTC); !bytes.Equal(m.Data, want) {
			t.Errorf("message %d:\n got %s\nwant %s", i, m.Data, want)
		}
		natsAssertNoSecret(t, "stored message", m.Data)
	}
}

func TestNATSJetStream(t *testing.T) {
	url, nc, js := natsTestConn(t)
	for _, mode := range []string{"auto", "on"} {
		t.Run(mode, func(t *testing.T) {
			u := natsUnique(t)
			prefix := "vigiltest." + u
			st := natsStream(t, js, "VIGILTEST_"+u, prefix)
			// A core subscriber sees the JetStream messages too; it
			// must not take the place of the stream's ack.
			natsSubscribe(t, nc, prefix+".>")
			s := natsNewSink(t, config.NATSOutput{URL: url, SubjectPrefix: prefix, JetStream: mode,
				User: "vigil", Password: natsTestPassword}, SinkOptions{})
			alerts := natsAllPriorities("prod")
			if err := s.Send(sendCtx(t), alerts); err != nil {
				t.Fatal(err)
			}
			natsCheckStream(t, st, prefix, alerts)

			// The same alerts again, as after a crash before the
			// cursor was saved, and one new alert: the stream drops
			// the duplicates.
			extra := natsTestAlert("ffff", alert.PriorityNotice, "prod")
			if err := s.Send(sendCtx(t), append(alerts[:len(alerts):len(alerts)], extra)); err != nil {
				t.Fatal(err)
			}
			if err := s.Send(sendCtx(t), alerts[2:4]); err != nil {
				t.Fatal(err)
			}
			natsCheckStream(t, st, prefix, append(alerts, extra))
		})
	}
}

func TestNATSCreateStream(t *testing.T) {
	url, _, js := natsTestConn(t)
	u := natsUnique(t)
	prefix, name := "vigiltest."+u, "VIGILTEST_"+u
	natsDeleteStreamAtEnd(t, js, name)
	s := natsNewSink(t, config.NATSOutput{URL: url, SubjectPrefix: prefix, CreateStream: name,
		DuplicateWindow: config.Duration(5 * time.Minute), MaxAge: config.Duration(time.Hour)}, SinkOptions{})
	alerts := natsAllPriorities("prod")
	if err := s.Send(sendCtx(t), alerts[:3]); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(sendCtx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	cfg := st.CachedInfo().Config
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != prefix+".>" || cfg.Duplicates != 5*time.Minute || cfg.MaxAge != time.Hour {
		t.Errorf("created stream: subjects %v, duplicates %v, max age %v", cfg.Subjects, cfg.Duplicates, cfg.MaxAge)
	}
	natsCheckStream(t, st, prefix, alerts[:3])

	// The stream is deleted behind Vigil's back: the next send fails,
	// retryably, and the one after recreates the stream.
	if err := js.DeleteStream(sendCtx(t), name); err != nil {
		t.Fatal(err)
	}
	err = s.Send(sendCtx(t), alerts[3:])
	if err == nil || IsPermanent(err) {
		t.Fatalf("send without the stream: %v, want a retryable error", err)
	}
	if err := s.Send(sendCtx(t), alerts[3:]); err != nil {
		t.Fatal(err)
	}
	st, err = js.Stream(sendCtx(t), name)
	if err != nil {
		t.Fatal(err)
	}
	natsCheckStream(t, st, prefix, alerts[3:])
}

func TestNATSErrors(t *testing.T) {
	url, nc, _ := natsTestConn(t)
	closed := func() string { // a port nothing listens on
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return "nats://" + l.Addr().String()
	}()
	for _, tc := range []struct {
		name    string
		c       config.NATSOutput
		ctx     func(t *testing.T) context.Context
		setup   func(t *testing.T, prefix string)
		want    string // in the error
		timeout time.Duration
	}{{
		name: "server down: retryable at once",
		c:    config.NATSOutput{URL: closed, Token: natsTestToken},
		want: "nats: not connected (",
	}, {
		name: "jetstream on without a stream: retryable",
		c:    config.NATSOutput{URL: url, JetStream: "on", User: "u", Password: natsTestPassword},
		want: "no stream captures the subject",
	}, {
		name: "jetstream on, ack never comes: the deadline ends the wait",
		c:    config.NATSOutput{URL: url, JetStream: "on", Token: natsTestToken},
		setup: func(t *testing.T, prefix string) {
			natsSubscribe(t, nc, prefix+".>") // takes the message, never answers
		},
		ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			t.Cleanup(cancel)
			return ctx
		},
		want: context.DeadlineExceeded.Error(),
	}, {
		name: "jetstream on, ack never comes: cancellation ends the wait",
		c:    config.NATSOutput{URL: url, JetStream: "on", Token: natsTestToken},
		setup: func(t *testing.T, prefix string) {
			natsSubscribe(t, nc, prefix+".>")
		},
		ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			t.Cleanup(cancel)
			time.AfterFunc(100*time.Millisecond, cancel)
			return ctx
		},
		want: context.Canceled.Error(),
	}, {
		name: "core, cancelled context",
		c:    config.NATSOutput{URL: url, JetStream: "off", Token: natsTestToken},
		ctx: func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			return ctx
		},
		want: context.Canceled.Error(),
	}} {
		t.Run(tc.name, func(t *testing.T) {
			prefix := "vigiltest." + natsUnique(t)
			tc.c.SubjectPrefix = prefix
			if tc.setup != nil {
				tc.setup(t, prefix)
			}
			var logs natsLog
			s := natsNewSink(t, tc.c, SinkOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			ctx := context.Background()
			if tc.ctx != nil {
				ctx = tc.ctx(t)
			}
			start := time.Now()
			err := s.Send(ctx, natsAllPriorities("prod")[:2])
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("Send took %v", took)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
			if IsPermanent(err) {
				t.Errorf("error %v is permanent", err)
			}
			natsAssertNoSecret(t, "error", []byte(err.Error()))
			s.Close()
			natsAssertNoSecret(t, "log", logs.Bytes())
		})
	}
}

// natsLog is a log sink safe for the client's goroutines.
type natsLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *natsLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *natsLog) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.buf.Bytes())
}

func TestNATSOversize(t *testing.T) {
	url, nc, _ := natsTestConn(t)
	for _, format := range []string{"json", "vigil"} {
		t.Run(format, func(t *testing.T) {
			prefix := "vigiltest." + natsUnique(t)
			ch := natsSubscribe(t, nc, prefix+".>")
			s := natsNewSink(t, config.NATSOutput{URL: url, SubjectPrefix: prefix, JetStream: "off", Format: format}, SinkOptions{})
			big := natsTestAlert("big", alert.PriorityError, "prod")
			huge := strings.Repeat("é", int(nc.MaxPayload())) // twice max_payload, in two-byte runes
			big.Alert.Fields[0].Values = []string{huge}
			big.Alert.Message = "request " + huge
			small := natsTestAlert("small", alert.PriorityError, "prod")
			if err := s.Send(sendCtx(t), []*journal.Alert{big, small}); err != nil {
				t.Fatal(err)
			}
			got := natsReceive(t, ch, 2)
			m := got[0]
			if int64(len(m.Data)) > nc.MaxPayload() {
				t.Errorf("payload %d bytes, max_payload %d", len(m.Data), nc.MaxPayload())
			}
			if !json.Valid(m.Data) {
				t.Fatalf("truncated payload is not JSON: %.200s", m.Data)
			}
			falco := m.Data
			if format == "vigil" {
				var v struct{ Alert json.RawMessage }
				json.Unmarshal(m.Data, &v)
				falco = v.Alert
			}
			var f struct {
				Output       string
				OutputFields map[string]any `json:"output_fields"`
				Rule         string
			}
			if err := json.Unmarshal(falco, &f); err != nil {
				t.Fatal(err)
			}
			v, _ := f.OutputFields["ka.target.name"].(string)
			if !strings.HasSuffix(v, natsTruncatedMarker) || !strings.HasSuffix(f.Output, natsTruncatedMarker) ||
				!strings.HasPrefix(v, "éé") || f.Rule != "Read secret" {
				t.Errorf("truncated alert: rule %q, field %.40q…, output %.40q…", f.Rule, v, f.Output)
			}
			if len(m.Data) < int(nc.MaxPayload())/4 {
				t.Errorf("cut more than needed: %d bytes of %d", len(m.Data), nc.MaxPayload())
			}
			if !bytes.Equal(got[1].Data, alert.AppendJSON(nil, &small.Alert, time.UTC)) && format == "json" {
				t.Errorf("the small alert changed: %s", got[1].Data)
			}
		})
	}
}

func TestNATSRenderTooLarge(t *testing.T) {
	s := &NATS{format: "json", loc: time.UTC}
	a := natsTestAlert("0000000000000001000000000000000a0003", alert.PriorityError, "prod")
	for i := range 200 {
		a.Alert.Fields = append(a.Alert.Fields, alert.Field{Key: fmt.Sprintf("ka.req.field%03d", i), Values: []string{strings.Repeat("x", 100)}})
	}
	_, err := s.render(a, 1024)
	if err == nil || !strings.Contains(err.Error(), "alert 0000000000000001000000000000000a0003") {
		t.Fatalf("render: %v, want an error naming the alert", err)
	}
	// Within the limit: untouched.
	b, err := s.render(a, 1<<20)
	if err != nil || !bytes.Equal(b, alert.AppendJSON(nil, &a.Alert, time.UTC)) {
		t.Fatalf("render under the limit changed the alert: %v", err)
	}
}

// natsServer starts a nats-server with args on a random port and returns
// its URL.
func natsServer(t *testing.T, args ...string) string {
	t.Helper()
	natsTestURL(t) // honours VIGIL_SKIP_NATS
	bin, err := exec.LookPath("nats-server")
	if err != nil {
		bin = "/usr/sbin/nats-server"
		if _, err := os.Stat(bin); err != nil {
			t.Fatal("needs the nats-server binary (Debian package nats-server) in PATH (VIGIL_SKIP_NATS=1 skips)")
		}
	}
	cmd := exec.Command(bin, append([]string{"-a", "127.0.0.1", "-p", "-1"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := make(chan string, 1)
	go func() {
		re := regexp.MustCompile(`Listening for client connections on (\S+:\d+)`)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		return "nats://" + a
	case <-time.After(5 * time.Second):
		t.Fatal("nats-server did not start")
	}
	return ""
}

func TestNATSAuth(t *testing.T) {
	natsTestURL(t)
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "password")
	if err := os.WriteFile(pwFile, []byte(natsTestPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tokenURL := natsServer(t, "--auth", natsTestToken)
	userURL := natsServer(t, "--user", "vigil", "--pass", natsTestPassword)
	for _, tc := range []struct {
		name   string
		c      config.NATSOutput
		sub    nats.Option // the test subscriber's credentials
		wantOK bool
	}{
		{"token", config.NATSOutput{URL: tokenURL, Token: natsTestToken}, nats.Token(natsTestToken), true},
		{"wrong token", config.NATSOutput{URL: tokenURL, Token: "wrong-" + natsTestToken}, nats.Token(natsTestToken), false},
		{"no token", config.NATSOutput{URL: tokenURL}, nats.Token(natsTestToken), false},
		{"user and password", config.NATSOutput{URL: userURL, User: "vigil", Password: natsTestPassword}, nats.UserInfo("vigil", natsTestPassword), true},
		{"user and password_file", config.NATSOutput{URL: userURL, User: "vigil", PasswordFile: pwFile}, nats.UserInfo("vigil", natsTestPassword), true},
		{"wrong password", config.NATSOutput{URL: userURL, User: "vigil", Password: "x" + natsTestPassword}, nats.UserInfo("vigil", natsTestPassword), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub, err := nats.Connect(tc.c.URL, tc.sub)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			prefix := "vigiltest." + natsUnique(t)
			ch := natsSubscribe(t, sub, prefix+".>")
			tc.c.SubjectPrefix = prefix
			var logs natsLog
			// NewNATS returns after the first connection attempt,
			// whatever its outcome.
			s, err := NewNATS(tc.c, SinkOptions{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			alerts := natsAllPriorities("prod")[:2]
			err = s.Send(sendCtx(t), alerts)
			if tc.wantOK {
				if err != nil {
					t.Fatal(err)
				}
				for _, m := range natsReceive(t, ch, len(alerts)) {
					natsAssertNoSecret(t, "message", m.Data)
				}
			} else {
				if err == nil || IsPermanent(err) {
					t.Fatalf("error %v, want a retryable one", err)
				}
				natsAssertNoSecret(t, "error", []byte(err.Error()))
				// The client reports why the first attempt failed from
				// its own goroutine; once it has, Send says it.
				const why = "nats: not connected (reconnecting): nats: authorization violation"
				tick := time.NewTicker(10 * time.Millisecond)
				defer tick.Stop()
				deadline := time.After(2 * time.Second)
				for !strings.Contains(strings.ToLower(err.Error()), why) {
					select {
					case <-tick.C:
					case <-deadline:
						t.Fatalf("error %q does not say why", err)
					}
					err = s.Send(sendCtx(t), alerts)
					natsAssertNoSecret(t, "error", []byte(err.Error()))
				}
			}
			s.Close()
			natsAssertNoSecret(t, "log", logs.Bytes())
		})
	}
}

func TestNATSNewErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	badSeed := filepath.Join(dir, "seed")
	os.WriteFile(badSeed, []byte("SUnot-a-seed-"+natsTestToken+"\n"), 0o600)
	for _, tc := range []struct {
		name string
		c    config.NATSOutput
		want string
	}{
		{"missing token_file", config.NATSOutput{TokenFile: filepath.Join(dir, "nope")}, "nats token_file: open "},
		{"empty password_file", config.NATSOutput{User: "u", PasswordFile: empty}, "is empty"},
		{"missing creds_file", config.NATSOutput{CredsFile: filepath.Join(dir, "nope.creds")}, "nats creds_file: stat "},
		{"bad nkey seed", config.NATSOutput{NKeySeedFile: badSeed}, "nats nkey_seed_file " + badSeed + ": "},
		{"missing ca_file", config.NATSOutput{TLS: config.NATSTLS{CAFile: filepath.Join(dir, "ca.pem")}}, "nats tls ca_file: open "},
		{"ca_file without PEM", config.NATSOutput{TLS: config.NATSTLS{CAFile: empty}}, "no PEM certificate"},
		{"bad client cert", config.NATSOutput{TLS: config.NATSTLS{CertFile: empty, KeyFile: empty}}, "nats tls cert_file/key_file: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.URL = "nats://127.0.0.1:1"
			s, err := NewNATS(tc.c, SinkOptions{})
			if err == nil {
				s.Close()
				t.Fatal("NewNATS succeeded")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
			natsAssertNoSecret(t, "error", []byte(err.Error()))
		})
	}
}
