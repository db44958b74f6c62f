package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNATSOutputProblems(t *testing.T) {
	ok := NATSOutput{URL: "nats://127.0.0.1:4222"}
	for _, tc := range []struct {
		name string
		edit func(o *NATSOutput)
		want []string
	}{
		{"minimal", func(o *NATSOutput) {}, nil},
		{"everything", func(o *NATSOutput) {
			o.URL = "tls://a.example:4222, tls://b.example:4222"
			o.SubjectPrefix = "sec.k8s-audit"
			o.ClusterInSubject = true
			o.JetStream = "auto"
			o.CreateStream = "VIGIL_ALERTS"
			o.DuplicateWindow = Duration(time.Hour)
			o.MaxAge = Duration(720 * time.Hour)
			o.MaxBytes = 1 << 30
			o.CredsFile = "/etc/vigil/nats.creds"
			o.TLS = NATSTLS{CAFile: "ca.pem", CertFile: "c.pem", KeyFile: "k.pem"}
			o.Format = "vigil"
		}, nil},
		{"no url", func(o *NATSOutput) { o.URL = "" }, []string{"url: must not be empty"}},
		{"credentials in url", func(o *NATSOutput) { o.URL = "nats://vigil:hunter2@127.0.0.1:4222" },
			[]string{"url: must not hold credentials: use token, user and password, creds_file or nkey_seed_file"}},
		{"bad scheme", func(o *NATSOutput) { o.URL = "http://127.0.0.1:4222" }, []string{`url: "http://127.0.0.1:4222": scheme must be nats or tls`}},
		{"not a url", func(o *NATSOutput) { o.URL = "127.0.0.1:4222" }, []string{`url: "127.0.0.1:4222": expected nats://host:port or tls://host:port`}},
		{"wildcard prefix", func(o *NATSOutput) { o.SubjectPrefix = "vigil.*" },
			[]string{`subject_prefix: "vigil.*": expected dot-separated tokens without white space or the wildcards * and >`}},
		{"empty token", func(o *NATSOutput) { o.SubjectPrefix = "vigil..alerts" },
			[]string{`subject_prefix: "vigil..alerts": expected dot-separated tokens without white space or the wildcards * and >`}},
		{"reserved prefix", func(o *NATSOutput) { o.SubjectPrefix = "$JS.x" },
			[]string{`subject_prefix: "$JS.x": subjects starting with $ are reserved for the server`}},
		{"jetstream", func(o *NATSOutput) { o.JetStream = "yes" }, []string{`jetstream: "yes": expected auto, on or off`}},
		{"stream name", func(o *NATSOutput) { o.CreateStream = "vigil.alerts" }, []string{`create_stream: "vigil.alerts": expected letters, digits, _ and -`}},
		{"stream without jetstream", func(o *NATSOutput) { o.CreateStream = "S"; o.JetStream = "off" }, []string{"create_stream: needs JetStream (jetstream is off)"}},
		{"stream settings without stream", func(o *NATSOutput) { o.MaxAge = Duration(time.Hour) },
			[]string{"create_stream: duplicate_window, max_age and max_bytes apply only to a stream Vigil creates"}},
		{"window longer than age", func(o *NATSOutput) {
			o.CreateStream = "S"
			o.DuplicateWindow = Duration(time.Hour)
			o.MaxAge = Duration(time.Minute)
		}, []string{"duplicate_window: must not be longer than max_age"}},
		{"two auths", func(o *NATSOutput) { o.Token = "t"; o.CredsFile = "c" }, []string{"creds_file: only one way to authenticate: token, creds_file are exclusive"}},
		{"token twice", func(o *NATSOutput) { o.Token = "t"; o.TokenFile = "f" }, []string{"token: token and token_file are exclusive"}},
		{"user without password", func(o *NATSOutput) { o.User = "u" }, []string{"password: must be set with user (or password_file)"}},
		{"password without user", func(o *NATSOutput) { o.PasswordFile = "p" }, []string{"user: must be set with password"}},
		{"half a client cert", func(o *NATSOutput) { o.TLS.CertFile = "c.pem" }, []string{"tls: cert_file and key_file go together"}},
		{"format", func(o *NATSOutput) { o.Format = "xml" }, []string{`format: "xml": expected json, text or vigil`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			got := o.problems()
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems:\n got %q\nwant %q", got, tc.want)
			}
			for _, p := range got {
				if strings.Contains(p, "hunter2") || strings.Contains(p, "vigil:") {
					t.Errorf("problem leaks the URL's credentials: %s", p)
				}
			}
		})
	}
}

func TestNATSOutputResolvePaths(t *testing.T) {
	o := NATSOutput{CredsFile: "nats.creds", TLS: NATSTLS{CAFile: "/abs/ca.pem"}}
	o.resolvePaths(func(p *string) {
		if *p != "" && !strings.HasPrefix(*p, "/") {
			*p = "/etc/vigil/" + *p
		}
	})
	if o.CredsFile != "/etc/vigil/nats.creds" || o.TLS.CAFile != "/abs/ca.pem" {
		t.Errorf("resolved: %+v", o)
	}
}
