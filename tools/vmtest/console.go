package vmtest

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"sync"

	"instar/tools/vmtest/internal/wire"
)

// tailSize is how much of the end of the console a consoleLog keeps for
// error messages.
const tailSize = 4096

// consoleLog passes the VM's console output through to out, keeps its tail
// and picks out the lines by which init reports. It sees the console through
// a termFilter, so what it shows leaves the terminal as it found it.
type consoleLog struct {
	out io.Writer

	mu       sync.Mutex
	filter   termFilter
	buf      []byte // what the filter let through of the current write
	line     []byte // the current, unfinished line
	tail     []byte // the last tailSize bytes or so
	exitCode int
	exited   bool   // a wire.ExitMarker line was seen
	initErr  string // the reason of the last wire.InitErrorMarker line
}

// Write implements io.Writer. It never fails: an error writing to out must
// not stall the VM's console.
func (c *consoleLog) Write(p []byte) (int, error) {
	n := len(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = c.filter.filter(c.buf[:0], p)
	p = c.buf
	if c.out != nil && len(p) > 0 {
		_, _ = c.out.Write(p)
	}
	c.tail = append(c.tail, p...)
	if len(c.tail) > 2*tailSize {
		c.tail = append(c.tail[:0], c.tail[len(c.tail)-tailSize:]...)
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			c.line = append(c.line, p...)
			break
		}
		c.line = append(c.line, p[:i]...)
		c.parseLine(string(c.line))
		c.line = c.line[:0]
		p = p[i+1:]
	}
	return n, nil
}

// parseLine records a marker line. Markers are searched anywhere in the line,
// and the last one wins, in case kernel messages share the line.
func (c *consoleLog) parseLine(line string) {
	line = strings.TrimRight(line, "\r")
	if i := strings.LastIndex(line, wire.ExitMarker+" "); i >= 0 {
		f := strings.Fields(line[i+len(wire.ExitMarker):])
		if len(f) > 0 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				c.exitCode, c.exited = n, true
			}
		}
	}
	if i := strings.LastIndex(line, wire.InitErrorMarker+" "); i >= 0 {
		c.initErr = strings.TrimSpace(line[i+len(wire.InitErrorMarker):])
	}
}

// result returns the exit code init reported, if it did, and the reason of
// an init failure, if any.
func (c *consoleLog) result() (code int, exited bool, initErr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.line) > 0 {
		c.parseLine(string(c.line))
		c.line = c.line[:0]
	}
	return c.exitCode, c.exited, c.initErr
}

// tailString returns the last part of the console output.
func (c *consoleLog) tailString() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return tail(c.tail, tailSize)
}
