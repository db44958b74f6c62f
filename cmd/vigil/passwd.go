package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/vigilsec/vigil/internal/access"
)

// cmdHashPassword prints the bcrypt hash of the password on stdin's first
// line, for api.users[].password_hash. Reading stdin, not an argument,
// keeps the password out of the shell history and the process list.
func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: vigil hash-password < file-with-the-password\n\nThe password is read from standard input (its first line), never from the command line.")
		return exitUsage
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		fmt.Fprintln(stderr, "vigil hash-password: read stdin:", err)
		return exitError
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		fmt.Fprintln(stderr, "vigil hash-password: no password on standard input")
		return exitUsage
	}
	h, err := access.HashPassword(pw)
	if err != nil {
		fmt.Fprintln(stderr, "vigil hash-password:", err)
		return exitUsage
	}
	fmt.Fprintln(stdout, h)
	return exitOK
}
