package field

import (
	"bufio"
	"io"
	"strings"
)

// WriteMarkdown writes the field table as Markdown: one row per field with
// its name, type, whether it is a list, its argument and its doc.
// Deprecated fields are marked in the name column.
func WriteMarkdown(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("| field | type | list | argument | description |\n")
	bw.WriteString("| --- | --- | --- | --- | --- |\n")
	for _, d := range defs {
		bw.WriteString("| `")
		bw.WriteString(d.Name)
		bw.WriteString("`")
		if d.Deprecated {
			bw.WriteString(" (deprecated)")
		}
		bw.WriteString(" | ")
		bw.WriteString(d.Type.String())
		bw.WriteString(" | ")
		if d.List {
			bw.WriteString("yes")
		}
		bw.WriteString(" | ")
		bw.WriteString(d.Arg.String())
		bw.WriteString(" | ")
		bw.WriteString(mdEscape(d.Doc))
		bw.WriteString(" |\n")
	}
	return bw.Flush()
}

// mdEscape makes text safe inside a Markdown table cell.
func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "*", `\*`, "_", `\_`, "<", "&lt;").Replace(s)
}
