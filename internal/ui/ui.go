// Package ui serves Vigil's web UI: plain HTML, CSS and JavaScript modules,
// hand-written, embedded in the binary and served as they are (no build
// step, no CDN, so it works offline). The UI talks only to the JSON API under
// /api/v1, from the same origin.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// assetPrefix is the path under which the assets are served, followed by
// their version: a hash of all of them. The index refers to the current
// version, and the modules import each other with relative paths, so a
// browser never mixes two versions and may cache an asset for good.
const assetPrefix = "/assets/"

// Security headers on every answer. The policy allows scripts, styles and
// connections from this origin only: no inline script or style element, no
// eval, no framing.
const csp = "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'"

// file is one embedded asset, read once.
type file struct {
	body  []byte
	ctype string
	etag  string
}

// handler serves the UI.
type handler struct {
	version string           // hash of every asset
	files   map[string]*file // by path relative to static/, e.g. "js/main.js"
	index   *file            // index.html with the versioned asset paths
	modTime time.Time        // zero: the embedded files have none
}

// Handler returns the UI's handler. Mount it at "/" after the API: it
// serves index.html at "/" and for every unknown path that is not under
// /api/ (the UI routes in the browser), the assets under /assets/<version>/
// with a long cache lifetime, and answers 404 for unknown assets and API
// paths.
func Handler() http.Handler {
	h := &handler{files: map[string]*file{}}
	sum := sha256.New()
	var names []string
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		panic("ui: embedded assets: " + err.Error()) // the embed is part of the binary
	}
	sort.Strings(names)
	for _, p := range names {
		b, err := static.ReadFile(p)
		if err != nil {
			panic("ui: embedded assets: " + err.Error())
		}
		rel := strings.TrimPrefix(p, "static/")
		sum.Write([]byte(rel))
		sum.Write([]byte{0})
		sum.Write(b)
		h.files[rel] = newFile(rel, b)
	}
	h.version = hex.EncodeToString(sum.Sum(nil))[:16]
	idx := h.files["index.html"]
	if idx == nil {
		panic("ui: embedded assets lack index.html")
	}
	h.index = newFile("index.html", bytes.ReplaceAll(idx.body, []byte(`"/assets/`), []byte(`"`+assetPrefix+h.version+"/")))
	return h
}

func newFile(name string, b []byte) *file {
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) { // the system's MIME table may lack or differ on these
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	s := sha256.Sum256(b)
	return &file{body: b, ctype: ct, etag: `"` + hex.EncodeToString(s[:8]) + `"`}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	p := r.URL.Path
	if p == "/api" || strings.HasPrefix(p, "/api/") {
		hd.Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"not found"}` + "\n"))
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if rest, ok := strings.CutPrefix(p, assetPrefix); ok {
		version, name, _ := strings.Cut(rest, "/")
		f := h.files[name]
		if f == nil || name == "index.html" {
			http.NotFound(w, r)
			return
		}
		if version == h.version {
			hd.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			// An index from another version (a rolling upgrade, an old
			// tab): serve what we have, but let nobody keep it.
			hd.Set("Cache-Control", "no-cache")
		}
		h.serve(w, r, f)
		return
	}
	if p == "/favicon.ico" {
		http.NotFound(w, r)
		return
	}
	// "/" and every UI route: the index, revalidated on each load so that an
	// upgrade shows at once.
	hd.Set("Cache-Control", "no-cache")
	h.serve(w, r, h.index)
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request, f *file) {
	w.Header().Set("Content-Type", f.ctype)
	w.Header().Set("ETag", f.etag)
	http.ServeContent(w, r, "", h.modTime, bytes.NewReader(f.body))
}
