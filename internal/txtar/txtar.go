// Package txtar reads and writes the txtar archive format used by Vigil's
// test cases: a free-text comment, then files introduced by "-- name --"
// lines. It is the format of golang.org/x/tools/txtar, implemented here in a
// few lines rather than adding that module.
package txtar

import "strings"

// Archive is a parsed archive.
type Archive struct {
	Comment string // text before the first file
	Files   []File // files in order
	CRLF    bool   // the text used \r\n line ends; Format writes markers the same way
}

// File is one section of an archive.
type File struct {
	Name string // name between "-- " and " --"
	Data string // content, including its final newline
}

// Parse parses data. It never fails: text that is not a file marker is
// content.
func Parse(data string) *Archive {
	a := &Archive{}
	if i := strings.IndexByte(data, '\n'); i > 0 && data[i-1] == '\r' {
		a.CRLF = true
	}
	cur := -1
	var b strings.Builder
	flush := func() {
		if cur < 0 {
			a.Comment = b.String()
		} else {
			a.Files[cur].Data = b.String()
		}
		b.Reset()
	}
	for _, line := range strings.SplitAfter(data, "\n") {
		if name, ok := marker(line); ok {
			flush()
			a.Files = append(a.Files, File{Name: name})
			cur = len(a.Files) - 1
			continue
		}
		b.WriteString(line)
	}
	flush()
	return a
}

// marker recognises "-- name --", tolerating trailing blanks. The name may
// not be empty.
func marker(line string) (string, bool) {
	t := strings.TrimRight(line, " \t\r\n")
	if !strings.HasPrefix(t, "-- ") || !strings.HasSuffix(t, " --") || len(t) < 7 {
		return "", false
	}
	name := strings.TrimSpace(t[3 : len(t)-3])
	return name, name != ""
}

// Format returns the archive's text.
func (a *Archive) Format() string {
	nl := "\n"
	if a.CRLF {
		nl = "\r\n"
	}
	var b strings.Builder
	b.WriteString(a.Comment)
	if a.Comment != "" && !strings.HasSuffix(a.Comment, "\n") {
		b.WriteString(nl)
	}
	for _, f := range a.Files {
		b.WriteString("-- " + f.Name + " --" + nl)
		b.WriteString(f.Data)
		if f.Data != "" && !strings.HasSuffix(f.Data, "\n") {
			b.WriteString(nl)
		}
	}
	return b.String()
}

// Get returns the data of the first file with the given name.
func (a *Archive) Get(name string) (string, bool) {
	for _, f := range a.Files {
		if f.Name == name {
			return f.Data, true
		}
	}
	return "", false
}

// Set replaces the data of the first file with the given name, or appends a
// new file.
func (a *Archive) Set(name, data string) {
	for i := range a.Files {
		if a.Files[i].Name == name {
			a.Files[i].Data = data
			return
		}
	}
	a.Files = append(a.Files, File{Name: name, Data: data})
}
