package ui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, target string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

var assetRef = regexp.MustCompile(`(?:src|href)="(/assets/[^"]+)"`)

func TestHandler(t *testing.T) {
	h := Handler()
	index := get(t, h, "GET", "/")
	if index.Code != 200 {
		t.Fatalf("GET /: %d", index.Code)
	}
	body := index.Body.String()
	refs := assetRef.FindAllStringSubmatch(body, -1)
	if len(refs) < 3 {
		t.Fatalf("the index refers to %d assets: %s", len(refs), body)
	}
	version := strings.Split(refs[0][1], "/")[2]
	if len(version) != 16 {
		t.Fatalf("asset version %q", version)
	}
	mainJS := "/assets/" + version + "/js/main.js"
	if !strings.Contains(body, `src="`+mainJS+`"`) {
		t.Errorf("the index does not load %s", mainJS)
	}
	for _, r := range refs {
		if w := get(t, h, "GET", r[1]); w.Code != 200 {
			t.Errorf("the index refers to %s: %d", r[1], w.Code)
		}
	}

	cases := []struct {
		name, method, path string
		code               int
		ctype, cache       string
		contains           string
	}{
		{"index", "GET", "/", 200, "text/html; charset=utf-8", "no-cache", `<div id="app"`},
		{"ui route", "GET", "/events?since=1h&priority=warning", 200, "text/html; charset=utf-8", "no-cache", mainJS},
		{"deep ui route", "GET", "/rules/K8s%20Namespace%20Deleted", 200, "text/html; charset=utf-8", "no-cache", mainJS},
		{"head", "HEAD", "/overview", 200, "text/html; charset=utf-8", "no-cache", ""},
		{"module", "GET", mainJS, 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", "import"},
		{"stylesheet", "GET", "/assets/" + version + "/app.css", 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable", "--p-critical"},
		{"icon", "GET", "/assets/" + version + "/favicon.svg", 200, "image/svg+xml", "public, max-age=31536000, immutable", "<svg"},
		{"other version", "GET", "/assets/0123456789abcdef/app.css", 200, "text/css; charset=utf-8", "no-cache", "--p-critical"},
		{"unknown asset", "GET", "/assets/" + version + "/js/nope.js", 404, "", "", ""},
		{"index is no asset", "GET", "/assets/" + version + "/index.html", 404, "", "", ""},
		{"api", "GET", "/api/v1/nope", 404, "application/json", "", `"error"`},
		{"api root", "GET", "/api", 404, "application/json", "", `"error"`},
		{"api write", "POST", "/api/v1/alerts", 404, "application/json", "", `"error"`},
		{"write", "POST", "/events", 405, "", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := get(t, h, c.method, c.path)
			if w.Code != c.code {
				t.Fatalf("%s %s: %d, want %d", c.method, c.path, w.Code, c.code)
			}
			hd := w.Header()
			if got := hd.Get("Content-Security-Policy"); !strings.HasPrefix(got, "default-src 'self'") || strings.Contains(got, "unsafe") {
				t.Errorf("Content-Security-Policy %q", got)
			}
			if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("X-Frame-Options") != "DENY" {
				t.Errorf("headers %v", hd)
			}
			if c.ctype != "" && hd.Get("Content-Type") != c.ctype {
				t.Errorf("Content-Type %q, want %q", hd.Get("Content-Type"), c.ctype)
			}
			if hd.Get("Cache-Control") != c.cache {
				t.Errorf("Cache-Control %q, want %q", hd.Get("Cache-Control"), c.cache)
			}
			if !strings.Contains(w.Body.String(), c.contains) {
				t.Errorf("body lacks %q", c.contains)
			}
		})
	}

	// Revalidation: the ETag answers 304.
	first := get(t, h, "GET", mainJS)
	etag := first.Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if w := get(t, h, "GET", mainJS, "If-None-Match", etag); w.Code != http.StatusNotModified {
		t.Errorf("If-None-Match: %d, want 304", w.Code)
	}
	if w := get(t, h, "GET", "/", "If-None-Match", index.Header().Get("ETag")); w.Code != http.StatusNotModified {
		t.Errorf("index If-None-Match: %d, want 304", w.Code)
	}
}

// TestVersionFollowsContent: the asset version is a hash of the assets, so
// the same build always has the same one.
func TestVersionFollowsContent(t *testing.T) {
	a, b := Handler().(*handler), Handler().(*handler)
	if a.version != b.version || a.version == "" {
		t.Errorf("versions %q and %q", a.version, b.version)
	}
}

var (
	importRe   = regexp.MustCompile(`(?m)^\s*(?:import|export)\s[^;]*?from\s+'([^']+)'`)
	inlineJS   = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]`)
	scriptTag  = regexp.MustCompile(`(?i)<script\b[^>]*>`)
	inlineAttr = regexp.MustCompile(`(?i)\s(?:on[a-z]+|style)\s*=`)
	unsafeJS   = regexp.MustCompile(`\.innerHTML|\.outerHTML\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\('style'|javascript:`)
)

// TestAssetRules enforces what the Content-Security-Policy and the
// no-build-step promise need: no inline script or style attribute in the
// index, every module import resolves to an embedded file, and no script
// parses strings as HTML or code (every value from the API is text).
func TestAssetRules(t *testing.T) {
	idx, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	if inlineJS.Match(idx) || inlineAttr.Match(idx) {
		t.Error("index.html has an inline script, event handler or style attribute, which the CSP refuses")
	}
	for _, tag := range scriptTag.FindAll(idx, -1) {
		if !strings.Contains(string(tag), `src="/assets/`) {
			t.Errorf("script %s does not load an asset", tag)
		}
	}
	n, imports := 0, 0
	err = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" {
			return err
		}
		n++
		src, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		if m := unsafeJS.Find(src); m != nil {
			t.Errorf("%s uses %s", p, m)
		}
		for _, m := range importRe.FindAllSubmatch(src, -1) {
			imports++
			dep := path.Join(path.Dir(p), string(m[1]))
			if _, err := fs.Stat(static, dep); err != nil || !strings.HasPrefix(string(m[1]), "./") {
				t.Errorf("%s imports %s, which is not an embedded module", p, m[1])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 5 || imports < 10 {
		t.Errorf("found %d modules with %d imports", n, imports)
	}
}
