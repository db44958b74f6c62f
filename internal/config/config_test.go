package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the want lines of testdata/*.bad.yaml and the golden files")

// clean returns c without the unexported bookkeeping, for comparisons.
func clean(c Config) Config {
	c.path, c.lines = "", nil
	return c
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	if got := clean(c); !reflect.DeepEqual(got, clean(Default())) {
		t.Errorf("Validate changed the default:\n%s", c.String())
	}
}

func TestGoodFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.good.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/*.good.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c, err := LoadFile(f)
			if err != nil {
				t.Fatalf("LoadFile: %v", err)
			}
			if c.Path() != f {
				t.Errorf("Path() = %q, want %q", c.Path(), f)
			}
			roundTrip(t, c)
		})
	}
}

// roundTrip checks that String() loads back to the same configuration.
func roundTrip(t *testing.T, c *Config) {
	t.Helper()
	s := c.String()
	c2, err := Load([]byte(s), "string")
	if err != nil {
		t.Fatalf("Load(String()): %v\n%s", err, s)
	}
	if err := c2.Validate(); err != nil {
		t.Fatalf("Validate(Load(String())): %v\n%s", err, s)
	}
	if s2 := c2.String(); s2 != s {
		t.Fatalf("String() does not round-trip:\n%s\nthen:\n%s", s, s2)
	}
}

// TestBadFiles loads each testdata/*.bad.yaml and compares the error with
// the file's leading "# want: " lines, one line of the error each.
func TestBadFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.bad.yaml")
	if len(files) == 0 {
		t.Fatal("no testdata/*.bad.yaml")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.SplitAfter(string(data), "\n")
			var want []string
			for len(lines) > 0 && strings.HasPrefix(lines[0], "# want: ") {
				want = append(want, strings.TrimSuffix(strings.TrimPrefix(lines[0], "# want: "), "\n"))
				lines = lines[1:]
			}
			_, err = LoadFile(f)
			if err == nil {
				t.Fatal("LoadFile succeeded")
			}
			got := err.Error()
			if *update {
				updateWant(t, f, got, strings.Join(lines, ""))
				return
			}
			if len(want) == 0 {
				t.Fatalf("no \"# want: \" lines; the error is:\n%s", got)
			}
			if w := strings.Join(want, "\n"); got != w {
				t.Errorf("error:\n%s\nwant:\n%s", got, w)
			}
		})
	}
}

// updateWant rewrites the "# want: " lines of file. Their number moves the
// lines below them, so it repeats until the error stops changing.
func updateWant(t *testing.T, file, got, rest string) {
	t.Helper()
	for range 3 {
		var b strings.Builder
		for _, l := range strings.Split(got, "\n") {
			b.WriteString("# want: " + l + "\n")
		}
		b.WriteString(rest)
		if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := LoadFile(file)
		if err == nil {
			t.Fatalf("%s loads after the update", file)
		}
		if err.Error() == got {
			return
		}
		got = err.Error()
	}
	t.Fatalf("%s: the want lines do not settle", file)
}

// TestFullString pins how String() renders the reference configuration.
func TestFullString(t *testing.T) {
	c, err := LoadFile("testdata/full.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	golden := "testdata/full.string.golden"
	got := c.String()
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("String() differs from %s (run with -update):\n%s", golden, got)
	}
}

// TestFullSetsEveryKey keeps full.good.yaml complete: every yaml key of
// every struct must appear in it, so that it can serve as the reference.
func TestFullSetsEveryKey(t *testing.T) {
	c, err := Load(mustRead(t, "testdata/full.good.yaml"), "full")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{} // keys in the file, with every index as []
	for k := range c.lines {
		set[indexRE.ReplaceAllString(k, "[]")] = true
	}
	var walk func(prefix string, typ reflect.Type)
	walk = func(prefix string, typ reflect.Type) {
		for i := range typ.NumField() {
			f := typ.Field(i)
			tag := f.Tag.Get("yaml")
			if tag == "" || !f.IsExported() {
				continue
			}
			key := prefix + tag
			if !set[key] {
				t.Errorf("full.good.yaml does not set %s", key)
			}
			ft := f.Type
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				key, ft = key+"[]", ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				walk(key+".", ft)
			}
		}
	}
	walk("", reflect.TypeFor[Config]())
}

var indexRE = regexp.MustCompile(`\[[0-9]+\]`)

func mustRead(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEmptyIsDefault(t *testing.T) {
	for _, data := range []string{"", "\n  \n", "# only a comment\n", "---\n", "~\n"} {
		c, err := Load([]byte(data), "e.yaml")
		if err != nil {
			t.Fatalf("Load(%q): %v", data, err)
		}
		if !reflect.DeepEqual(clean(*c), clean(Default())) {
			t.Errorf("Load(%q) differs from Default():\n%s", data, c)
		}
		if c.Path() != "e.yaml" {
			t.Errorf("Path() = %q", c.Path())
		}
	}
}

func TestOutputsReplaceDefault(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []Output
	}{
		{"absent", "listen: ':1'\n", Default().Outputs},
		{"file", "outputs:\n  - {type: file, path: /a}\n", []Output{{Name: "file", Type: "file", Path: "/a", Format: "json"}}},
		{"stdout text", "outputs:\n  - {type: stdout, format: text}\n", []Output{{Name: "stdout", Type: "stdout", Format: "text"}}},
		{"empty list", "outputs: []\n", []Output{}},
		{"null", "outputs:\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]byte(tc.yaml), "o.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(c.Outputs, tc.want) {
				t.Errorf("Outputs = %#v, want %#v", c.Outputs, tc.want)
			}
		})
	}
	// The list in the file also replaces deny_tags' default.
	c, err := Load([]byte("admission: {deny_tags: [a]}\n"), "d.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Admission.DenyTags, []string{"a"}) {
		t.Errorf("DenyTags = %q", c.Admission.DenyTags)
	}
}

func TestValidateFillsDefaults(t *testing.T) {
	c, err := Load([]byte("outputs:\n  - type: file\n    path: x\n  - type: stdout\n    name: console\n    format: text\n"), "v.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := []Output{{Name: "file", Type: "file", Format: "json", Path: "x"}, {Name: "console", Type: "stdout", Format: "text"}}
	if !reflect.DeepEqual(c.Outputs, want) {
		t.Errorf("Outputs = %+v, want %+v", c.Outputs, want)
	}
	if err := c.Validate(); err != nil { // twice is fine
		t.Fatal(err)
	}
}

func TestLoadFileResolvesPaths(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(dir, "elsewhere", "rules.yaml")
	cfg := fmt.Sprintf(`tls: {cert_file: tls/c.crt, key_file: tls/c.key, client_ca_file: ../ca.crt}
auth:
  clusters: [{name: a, token_file: tokens/a}]
rules:
  files: [rules/local.yaml, %q]
tail: [{path: logs/audit.log, cluster: a}]
outputs: [{type: file, path: alerts.jsonl}, {type: stdout}]
`, abs)
	sub := filepath.Join(dir, "etc")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(sub, "vigil.yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, got, want string }{
		{"data_dir (default)", c.DataDir, filepath.Join(sub, "vigil-data")},
		{"tls.cert_file", c.TLS.CertFile, filepath.Join(sub, "tls/c.crt")},
		{"tls.key_file", c.TLS.KeyFile, filepath.Join(sub, "tls/c.key")},
		{"tls.client_ca_file", c.TLS.ClientCAFile, filepath.Join(dir, "ca.crt")},
		{"token_file", c.Auth.Clusters[0].TokenFile, filepath.Join(sub, "tokens/a")},
		{"rules.files[0]", c.Rules.Files[0], filepath.Join(sub, "rules/local.yaml")},
		{"rules.files[1] (absolute)", c.Rules.Files[1], abs},
		{"tail[0].path", c.Tail[0].Path, filepath.Join(sub, "logs/audit.log")},
		{"outputs[0].path", c.Outputs[0].Path, filepath.Join(sub, "alerts.jsonl")},
		{"outputs[1].path (unset)", c.Outputs[1].Path, ""},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}

	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile(missing) = %v, want a not-exist error", err)
	}
}

// TestLoad checks Load's own errors: syntax, types, unknown keys, units.
func TestLoad(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top-level key", "listen: ':1'\nfoo: 1\n", "c.yaml:2: foo: unknown key"},
		{"unknown nested key", "tls:\n  cert: x\n", "c.yaml:2: tls.cert: unknown key"},
		{"unknown key in list", "tail:\n  - path: x\n    clutser: a\n", "c.yaml:3: tail[0].clutser: unknown key"},
		{"unknown key in flow", "rules: {files: [a], watch: false, wach: true}\n", "c.yaml:1: rules.wach: unknown key"},
		{"repeated key", "shutdown: 1s\nshutdown: 2s\n", "c.yaml:2: shutdown: key given twice (first at line 1)"},
		{"wrong type", "ingest:\n  max_depth: deep\n", "c.yaml:2: ingest.max_depth: cannot unmarshal !!str `deep` into int"},
		{"list for struct", "tls: [a]\n", "c.yaml:1: tls: cannot unmarshal !!seq into config.TLS"},
		{"duration without unit", "\n\nshutdown: 30\n", "c.yaml:3: shutdown: invalid duration \"30\": use a number with a unit, such as 30s, 5m or 720h"},
		{"duration list", "shutdown: [1s]\n", "c.yaml:1: shutdown: cannot unmarshal !!seq into a duration such as 30s"},
		{"size unit", "ingest:\n  wal_max_bytes: 1 gigabyte\n", "c.yaml:2: ingest.wal_max_bytes: invalid size \"1 gigabyte\""},
		{"size map", "ingest:\n  wal_max_bytes: {a: 1}\n", "c.yaml:2: ingest.wal_max_bytes: cannot unmarshal !!map into a size such as 64MiB"},
		{"size negative", "ingest: {max_body_bytes: -1}\n", "c.yaml:1: ingest.max_body_bytes: invalid size \"-1\""},
		{"size too large", "ingest: {max_body_bytes: 8EiB}\n", "invalid size \"8EiB\""},
		{"map for list", "auth: {clusters: {a: 1}}\n", "c.yaml:1: auth.clusters: cannot unmarshal !!map into []config.Cluster"},
		{"nested maps for list", "outputs: {a: {b: {c: 1}}}\n", "c.yaml:1: outputs: cannot unmarshal !!map into []config.Output"},
		{"same value twice on a line", "ingest: {max_depth: x, dedup_keys: x}\n", "c.yaml:1: ingest.max_depth: cannot unmarshal !!str `x` into int\nc.yaml:1: ingest.dedup_keys: cannot unmarshal !!str `x` into int"},
		{"bool", "rules:\n  watch: maybe\n", "c.yaml:2: rules.watch: cannot unmarshal !!str `maybe` into bool"},
		{"second document", "listen: ':1'\n---\nlisten: ':2'\n", "c.yaml:2: only one YAML document is allowed"},
		// yaml.v3 reports where the construct began, or the line before the problem.
		{"syntax", "listen: ':1'\n  data_dir: x\n", "c.yaml:1: did not find expected key"},
		{"syntax mapping", "a: b: c\n", "c.yaml: mapping values are not allowed in this context"},
		{"unclosed flow", "outputs: [{type: stdout}\nlisten: ':1'\n", "c.yaml:1: did not find expected ',' or ']'"},
		{"tab indent", "tls:\n\tcert_file: a\n", "c.yaml:2: found character that cannot start any token"},
		{"not a mapping", "just a string\n", "c.yaml:1: cannot unmarshal !!str `just a ...` into config.Config"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load([]byte(tc.yaml), "c.yaml")
			if err == nil {
				t.Fatalf("Load succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%s\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestLoadReportsEveryError(t *testing.T) {
	_, err := Load([]byte("a: 1\nshutdown: x\ningest: {max_depth: y, wal_max_bytes: z}\nb: 2\n"), "c.yaml")
	want := `c.yaml:1: a: unknown key
c.yaml:2: shutdown: invalid duration "x": use a number with a unit, such as 30s, 5m or 720h
c.yaml:3: ingest.max_depth: cannot unmarshal !!str ` + "`y`" + ` into int
c.yaml:3: ingest.wal_max_bytes: invalid size "z": use bytes or a number with a unit (KiB, MiB, GiB, KB, MB, GB)
c.yaml:4: b: unknown key`
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

// TestValidate loads each snippet over the defaults and checks that
// Validate's error contains want, which names the file, line and key.
func TestValidate(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"listen", "listen: localhost\n", `v.yaml:1: listen: "localhost" is not host:port`},
		{"data_dir", "\ndata_dir: ''\n", "v.yaml:2: data_dir: must not be empty"},
		{"cert without key", "tls:\n  cert_file: a\n", "v.yaml:1: tls: cert_file and key_file go together"},
		{"key without cert", "tls:\n  key_file: a\n", "v.yaml:1: tls: cert_file and key_file go together"},
		{"client ca without https", "tls:\n  client_ca_file: a\n", "v.yaml:2: tls.client_ca_file: client certificates need HTTPS"},
		{"cluster name", "auth:\n  clusters:\n    - name: 'a b'\n      token_file: t\n", `v.yaml:3: auth.clusters[0].name: "a b" is not a valid cluster name`},
		{"cluster name empty", "auth:\n  clusters:\n    - token_file: t\n", "v.yaml:3: auth.clusters[0].name: must not be empty"},
		{"cluster name too long", "auth: {clusters: [{name: " + strings.Repeat("a", 129) + ", token_file: t}]}\n", "v.yaml:1: auth.clusters[0].name: \"aaaa"},
		{"cluster twice", "auth:\n  clusters:\n    - {name: a, token_file: t}\n    - {name: a, token_file: u}\n", `v.yaml:4: auth.clusters[1].name: cluster "a" is listed twice`},
		{"token and file", "auth:\n  clusters:\n    - name: a\n      token: x\n      token_file: t\n", "v.yaml:3: auth.clusters[0]: set token or token_file, not both"},
		{"no credentials", "auth:\n  clusters:\n    - name: a\n", `v.yaml:3: auth.clusters[0]: cluster "a" has no way to authenticate`},
		{"cert names without ca", "auth:\n  clusters:\n    - name: a\n      token_file: t\n      cert_names: [x]\n", "v.yaml:5: auth.clusters[0].cert_names: client certificate names need tls.client_ca_file"},
		{"cert name empty", "tls: {cert_file: c, key_file: k, client_ca_file: ca}\nauth:\n  clusters:\n    - name: a\n      cert_names: ['']\n", "v.yaml:5: auth.clusters[0].cert_names[0]: must not be empty"},
		{"cert name shared", "tls: {cert_file: c, key_file: k, client_ca_file: ca}\nauth:\n  clusters:\n    - name: a\n    - name: b\n      cert_names: [a]\n", `v.yaml:6: auth.clusters[1].cert_names: certificate name "a" already identifies cluster "a"`},
		{"unauthenticated cluster", "auth:\n  allow_unauthenticated: true\n  unauthenticated_cluster: ''\n", "v.yaml:3: auth.unauthenticated_cluster: must not be empty"},
		{"rules file empty", "rules:\n  files:\n    - a\n    - ''\n", "v.yaml:4: rules.files[1]: must not be empty"},
		{"rule matching", "rules:\n  rule_matching: any\n", `v.yaml:2: rules.rule_matching: "any": expected all or first`},
		{"min priority", "rules:\n  min_priority: loud\n", `v.yaml:2: rules.min_priority: "loud" is not a priority`},
		{"max body", "ingest:\n  max_body_bytes: 1000\n", "v.yaml:2: ingest.max_body_bytes: 1000 is too small (at least 1KiB)"},
		{"max event above body", "ingest:\n  max_event_bytes: 13MiB\n", "v.yaml:2: ingest.max_event_bytes: 13631488 must be between 1KiB and max_body_bytes"},
		{"max depth", "ingest:\n  max_depth: 10001\n", "v.yaml:2: ingest.max_depth: 10001 must be between 10 and 10000"},
		{"wal segment", "ingest:\n  wal_segment_bytes: 1000KiB\n", "v.yaml:2: ingest.wal_segment_bytes: 1024000 is too small (at least 1MiB)"},
		{"wal max vs segment", "ingest:\n  wal_max_bytes: 100MiB\n", "v.yaml:2: ingest.wal_max_bytes: 104857600 must hold at least two segments"},
		{"wal max from default", "ingest:\n  wal_segment_bytes: 1GiB\n", "v.yaml:1: ingest.wal_max_bytes: 1073741824 must hold at least two segments"},
		{"wal huge segment", "ingest:\n  wal_segment_bytes: 4194304TiB\n  wal_max_bytes: 4194304TiB\n", "v.yaml:3: ingest.wal_max_bytes:"},
		{"dedup keys", "ingest:\n  dedup_keys: -1\n", "v.yaml:2: ingest.dedup_keys: must not be negative"},
		{"dedup window", "ingest:\n  dedup_window: -1m\n", "v.yaml:2: ingest.dedup_window: must not be negative"},
		{"body too large", "ingest:\n  max_body_bytes: 300MiB\n  wal_max_bytes: 2GiB\n", "v.yaml:2: ingest.max_body_bytes: 314572800 is too large (at most 256MiB"},
		{"ack timeout", "ingest:\n  ack_timeout: 0s\n", "v.yaml:2: ingest.ack_timeout: must be positive"},
		{"retry after", "ingest:\n  retry_after: 999ms\n", "v.yaml:2: ingest.retry_after: must be at least 1s"},
		{"admission mode", "admission:\n  mode: block\n", `v.yaml:2: admission.mode: "block": expected detect or enforce`},
		{"admission timeout", "admission:\n  timeout: 0s\n", "v.yaml:2: admission.timeout: must be positive"},
		{"tail path", "tail:\n  - cluster: a\n", "v.yaml:2: tail[0].path: must not be empty"},
		{"tail twice", "tail:\n  - {path: /a, cluster: a}\n  - {path: /a, cluster: b}\n", `v.yaml:3: tail[1].path: "/a" is followed twice`},
		{"tail cluster", "tail:\n  - path: /a\n", "v.yaml:2: tail[0].cluster: must not be empty"},
		{"output type", "outputs:\n  - type: kafka\n", `v.yaml:2: outputs[0].type: "kafka" is not an output type (stdout, file, syslog, http, slack, mattermost, teams, mezmo, ibm_cloud_logs, nats)`},
		{"output no type", "outputs:\n  - name: x\n", "v.yaml:2: outputs[0].type: must not be empty"},
		{"output name twice", "outputs:\n  - type: stdout\n  - type: stdout\n", `v.yaml:3: outputs[1].name: output name "stdout" is used twice`},
		{"file output path", "outputs:\n  - type: file\n", "v.yaml:2: outputs[0].path: a file output needs a path"},
		{"stdout output path", "outputs:\n  - type: stdout\n    path: x\n", "v.yaml:3: outputs[0].path: only a file output has a path"},
		{"output format", "outputs:\n  - type: stdout\n    format: xml\n", `v.yaml:3: outputs[0].format: "xml": expected json or text`},
		{"output priority", "outputs:\n  - type: stdout\n    minimum_priority: loud\n", `v.yaml:3: outputs[0].minimum_priority: "loud" is not a priority`},
		{"shutdown", "shutdown: 0s\n", "v.yaml:1: shutdown: must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load([]byte(tc.yaml), "v.yaml")
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			err = c.Validate()
			if err == nil {
				t.Fatalf("Validate succeeded, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error:\n%s\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestValidateWithoutFile(t *testing.T) {
	c := Default()
	c.Listen = "nowhere"
	c.Outputs = append(c.Outputs, Output{Type: "file"})
	want := `listen: "nowhere" is not host:port
outputs[1].path: a file output needs a path`
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    Size
		wantErr string
	}{
		{"0", 0, ""},
		{"1048576", 1 << 20, ""},
		{"12B", 12, ""},
		{"1KB", 1000, ""},
		{"1KiB", 1024, ""},
		{"64KiB", 64 << 10, ""},
		{"12MiB", 12 << 20, ""},
		{"12 MiB", 12 << 20, ""},
		{" 3MB ", 3e6, ""},
		{"1GB", 1e9, ""},
		{"1GiB", 1 << 30, ""},
		{"2TB", 2e12, ""},
		{"2TiB", 2 << 40, ""},
		{"4194304TiB", 1 << 62, ""},
		{"4611686018427387904", 1 << 62, ""},
		{"4611686018427387905", 0, "too large"},
		{"4194305TiB", 0, "too large"},
		{"99999999999999999999999", 0, "too large"},
		{"", 0, "invalid size"},
		{"MiB", 0, "invalid size"},
		{"-1", 0, "invalid size"},
		{"1.5MiB", 0, "invalid size"},
		{"1mib", 0, "invalid size"},
		{"1M", 0, "invalid size"},
		{"0x10", 0, "invalid size"},
		{"١٢", 0, "invalid size"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("ParseSize(%q) = %d, %v; want an error containing %q", tc.in, got, err, tc.wantErr)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
			back, err := ParseSize(got.String())
			if err != nil || back != got {
				t.Errorf("ParseSize(%q.String() = %q) = %d, %v", tc.in, got.String(), back, err)
			}
		})
	}
}

func TestSizeString(t *testing.T) {
	for _, tc := range []struct {
		in   Size
		want string
	}{{0, "0"}, {1, "1"}, {1000, "1000"}, {1024, "1KiB"}, {1536, "1536"}, {12 << 20, "12MiB"}, {1 << 30, "1GiB"}, {3 << 40, "3TiB"}, {1 << 62, "4194304TiB"}} {
		if got := tc.in.String(); got != tc.want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(tc.in), got, tc.want)
		}
	}
}

func TestDuration(t *testing.T) {
	tests := []struct {
		yaml    string
		want    time.Duration
		wantErr string
	}{
		{"30s", 30 * time.Second, ""},
		{"'5m'", 5 * time.Minute, ""},
		{"720h", 720 * time.Hour, ""},
		{"1h30m", 90 * time.Minute, ""},
		{"250ms", 250 * time.Millisecond, ""},
		{"0", 0, ""},
		{"-2s", -2 * time.Second, ""},
		{"30", 0, `line 2: invalid duration "30": use a number with a unit`},
		{"1d", 0, `line 2: invalid duration "1d"`},
		{"soon", 0, `line 2: invalid duration "soon"`},
		{"{a: 1}", 0, "line 2: cannot unmarshal !!map into a duration such as 30s"},
	}
	for _, tc := range tests {
		t.Run(tc.yaml, func(t *testing.T) {
			var v struct {
				D Duration `yaml:"d"`
			}
			err := yaml.Unmarshal([]byte("\nd: "+tc.yaml+"\n"), &v)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("got %v, %v; want an error containing %q", v.D, err, tc.wantErr)
				}
				return
			}
			if err != nil || time.Duration(v.D) != tc.want {
				t.Errorf("got %v, %v; want %v", v.D, err, tc.want)
			}
			out, err := yaml.Marshal(v)
			if err != nil || string(out) != "d: "+tc.want.String()+"\n" {
				t.Errorf("Marshal = %q, %v", out, err)
			}
		})
	}
}

const (
	testToken  = "tok-3f9a1c7e5b2d48a6"
	testToken2 = "tok-second-9b8c7d6e"
)

// TestHideConfigSecrets checks that no way of printing a configuration,
// and no error about it, shows a token.
func TestHideConfigSecrets(t *testing.T) {
	data := fmt.Sprintf(`auth:
  clusters:
    - name: prod
      token: %q
    - name: prod
      token: %q
      token_file: also.token
`, testToken, testToken2)
	c, err := Load([]byte(data), "s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Auth.Clusters[0].Token) != testToken || string(c.Auth.Clusters[1].Token) != testToken2 {
		t.Fatalf("tokens not loaded: the test would prove nothing")
	}
	verr := c.Validate() // the same name twice, and token with token_file
	if verr == nil {
		t.Fatal("Validate succeeded; want errors about the clusters")
	}
	jsonOut, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	yamlOut, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logText, logJSON bytes.Buffer
	slog.New(slog.NewTextHandler(&logText, nil)).Info("x", "config", *c, "token", c.Auth.Clusters[0].Token)
	slog.New(slog.NewJSONHandler(&logJSON, nil)).Info("x", "config", *c, "token", c.Auth.Clusters[0].Token)
	outputs := map[string]string{
		"String()":    c.String(),
		"%v pointer":  fmt.Sprintf("%v", c),
		"%v clusters": fmt.Sprintf("%v", c.Auth.Clusters),
		"%#v cluster": fmt.Sprintf("%#v", c.Auth.Clusters[0]),
		"Sprint":      fmt.Sprint(c.Auth.Clusters[0].Token, &c.Auth.Clusters[0].Token),
		"json":        string(jsonOut),
		"yaml":        string(yamlOut),
		"slog text":   logText.String(),
		"slog json":   logJSON.String(),
		"Validate":    verr.Error(),
	}
	// Every verb, including those that do not apply (vet would refuse
	// them as constants), on the Config value and on the Secret. Not %p:
	// fmt prints a non-pointer given to %p raw, without asking its
	// methods, and only a non-string Secret could prevent that (vet
	// flags %p with a string argument).
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%t", "%10.3s"} {
		outputs[verb] = fmt.Sprintf(verb, *c)
		outputs[verb+" secret"] = fmt.Sprintf(verb, c.Auth.Clusters[0].Token)
	}
	for name, out := range outputs {
		for _, tok := range []string{testToken, testToken2} {
			if strings.Contains(out, tok) {
				t.Errorf("%s shows a token:\n%s", name, out)
			}
		}
	}
	if !strings.Contains(outputs["String()"], "token: <secret>") {
		t.Errorf("String() does not mark the token as hidden:\n%s", outputs["String()"])
	}
}

func TestSecretFormats(t *testing.T) {
	s := Secret(testToken)
	tests := []struct{ format, want string }{
		{"%v", "<secret>"},
		{"%s", "<secret>"},
		{"%+v", "<secret>"},
		{"%#v", `"<secret>"`},
		{"%q", `"<secret>"`},
		{"%10s|", "  <secret>|"},
		{"%-10s|", "<secret>  |"},
		{"%d", "<secret>"},
	}
	for _, tc := range tests {
		//nolint:govet // the format is a variable on purpose.
		if got := fmt.Sprintf(tc.format, s); got != tc.want {
			t.Errorf("Sprintf(%q) = %q, want %q", tc.format, got, tc.want)
		}
	}
	if got := fmt.Sprintf("%v|%#v", Secret(""), Secret("")); got != `|""` {
		t.Errorf("empty secret prints %q", got)
	}
	var back string
	if b, err := json.Marshal(s); err != nil || json.Unmarshal(b, &back) != nil || back != "<secret>" {
		t.Errorf("json = %s, %v", b, err)
	}
	if b, _ := yaml.Marshal(s); string(b) != "<secret>\n" {
		t.Errorf("yaml = %q", b)
	}
}

// FuzzLoad checks that Load and Validate never panic, that every error
// has a position, and that a valid configuration round-trips through
// String().
func FuzzLoad(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	for _, file := range files {
		f.Add(mustReadF(f, file))
	}
	f.Add([]byte("listen: ':1'\nfoo: 1\n"))
	f.Add([]byte("ingest: {max_body_bytes: &a 1KiB, max_event_bytes: *a}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Load(data, "f.yaml")
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml:") {
					t.Fatalf("Load error line without the file: %q", line)
				}
			}
			return
		}
		_ = c.String()
		if err := c.Validate(); err != nil {
			return
		}
		roundTrip(t, c)
	})
}

func mustReadF(f *testing.F, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		f.Fatal(err)
	}
	return b
}

// TestLoadHostile checks that inputs built to be slow or deep stay cheap
// and fail cleanly.
func TestLoadHostile(t *testing.T) {
	var keys strings.Builder
	keys.WriteString("{")
	for i := range 5000 {
		fmt.Fprintf(&keys, "k%d: 1, ", i)
	}
	keys.WriteString("}")
	tests := []struct {
		name string
		data string
		want string
	}{
		{"deep sequence", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "f.yaml:"},
		{"deep mapping", "outputs: " + strings.Repeat("{a: ", 5000) + "1" + strings.Repeat("}", 5000), "f.yaml:"},
		{"many unknown keys on one line", keys.String(), "f.yaml: and 4950 more problems"},
		{"alias bomb", `a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
`, "f.yaml:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := Load([]byte(tc.data), "f.yaml")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load = %.300v, want an error containing %q", err, tc.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("Load took %v", d)
			}
		})
	}
}
