package vmm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"instar/shared"
	"instar/shared/guestmsg"
)

// StopReason says why the VMM stopped a guest.
type StopReason int

// Stop reasons.
const (
	// StopDeadline: the guest ran past its deadline.
	StopDeadline StopReason = iota + 1
	// StopExitBudget: the guest caused more exits than its budget.
	StopExitBudget
	// StopFault: the guest faulted (page fault, triple fault, signal).
	StopFault
	// StopBadRequest: the guest used a port or a request the protocol
	// does not allow.
	StopBadRequest
	// StopBadMessage: the guest sent an oversized or malformed message.
	StopBadMessage
	// StopHaltedEarly: the guest halted without sending CompleteMessage.
	StopHaltedEarly
	// StopCanceled: the caller canceled the run (an interrupt).
	StopCanceled
)

func (r StopReason) String() string {
	switch r {
	case StopDeadline:
		return "deadline passed"
	case StopExitBudget:
		return "exit budget exceeded"
	case StopFault:
		return "guest fault"
	case StopBadRequest:
		return "bad request"
	case StopBadMessage:
		return "bad message"
	case StopHaltedEarly:
		return "halted without completing"
	case StopCanceled:
		return "canceled"
	}
	return fmt.Sprintf("stop(%d)", int(r))
}

// GuestError is a guest the VMM stopped: why, where, and the detail.
type GuestError struct {
	Reason StopReason
	RIP    uint64
	Detail string
}

func (e *GuestError) Error() string {
	return fmt.Sprintf("guest stopped: %s at RIP %#x: %s", e.Reason, e.RIP, e.Detail)
}

// IsStop reports whether err is a GuestError with the given reason.
func IsStop(err error, reason StopReason) bool {
	var ge *GuestError
	return errors.As(err, &ge) && ge.Reason == reason
}

type machine struct {
	cfg Config
	vm  VM
	mem []byte
	res *Result
	// otherBytes is the encoded size of res.Messages.
	otherBytes int
	// writes and statuses are ReqBatch's working lists, kept between
	// exits.
	writes   []checkedWrite
	statuses []int32
}

func (m *machine) stop(reason StopReason, rip uint64, format string, args ...any) error {
	return &GuestError{Reason: reason, RIP: rip, Detail: fmt.Sprintf(format, args...)}
}

// loop runs the guest until its completion message, or stops it. A guest
// that has completed is not resumed: the VMM needs nothing more from it,
// and the HLT that would follow costs an exit.
func (m *machine) loop() error {
	timer := time.AfterFunc(m.cfg.Deadline, m.vm.Interrupt)
	defer timer.Stop()
	if ctx := m.cfg.Context; ctx != nil {
		defer context.AfterFunc(ctx, m.vm.Interrupt)()
	}
	for {
		exit, err := m.vm.Run()
		if err != nil {
			return fmt.Errorf("run guest: %w", err)
		}
		m.res.Exits++
		switch exit.Kind {
		case ExitInterrupted:
			if ctx := m.cfg.Context; ctx != nil && ctx.Err() != nil {
				return m.stop(StopCanceled, exit.RIP, "%v", context.Cause(ctx))
			}
			return m.stop(StopDeadline, exit.RIP, "still running after %v", m.cfg.Deadline)
		case ExitFault:
			return m.stop(StopFault, exit.RIP, "%s", exit.Reason)
		case ExitHalt:
			return m.stop(StopHaltedEarly, exit.RIP, "the guest halted before sending its completion message%s", m.lastError())
		case ExitIO:
			if err := m.io(exit); err != nil {
				return err
			}
			if m.res.Complete != nil {
				return nil
			}
		default:
			return m.stop(StopFault, exit.RIP, "unexpected exit %v", exit.Kind)
		}
		if m.res.Exits >= m.cfg.ExitBudget {
			return m.stop(StopExitBudget, exit.RIP, "%d exits", m.res.Exits)
		}
	}
}

func (m *machine) lastError() string {
	if n := len(m.res.Errors); n > 0 {
		return fmt.Sprintf(" (its last error: %s)", Printable(m.res.Errors[n-1].GetMessage()))
	}
	return ""
}

// io handles one port access. The only one allowed is a 32-bit OUT to
// PortRequest.
func (m *machine) io(exit Exit) error {
	if !exit.Out {
		return m.stop(StopBadRequest, exit.RIP, "read from port %#x; no port can be read", exit.Port)
	}
	if exit.Port != shared.PortRequest || exit.Size != 4 {
		return m.stop(StopBadRequest, exit.RIP, "%d-byte write to port %#x; only 4-byte writes to %#x are allowed",
			exit.Size, exit.Port, shared.PortRequest)
	}
	addr := uint64(exit.Value)
	req, err := readRequest(m.mem, addr)
	if err != nil {
		return m.stop(StopBadRequest, exit.RIP, "%v", err)
	}
	status, err := m.serve(req)
	if errors.Is(err, errHostWrite) {
		return err
	}
	if err != nil {
		return m.stop(reasonOf(err), exit.RIP, "%v", err)
	}
	writeStatus(m.mem, addr, status)
	return nil
}

// errBadMessage marks a message the VMM refuses; it ends the run.
var errBadMessage = errors.New("bad message")

func reasonOf(err error) StopReason {
	if errors.Is(err, errBadMessage) {
		return StopBadMessage
	}
	return StopBadRequest
}

// message decodes and records one GuestMessage.
func (m *machine) message(data []byte) error {
	var msg guestmsg.GuestMessage
	if err := msg.Unmarshal(data); err != nil {
		return fmt.Errorf("%w: %d bytes do not decode: %v", errBadMessage, len(data), err)
	}
	switch p := msg.Payload.(type) {
	case *guestmsg.ProgressMessage:
		if m.cfg.OnProgress != nil {
			m.cfg.OnProgress(p.Done, p.Total)
		}
	case *guestmsg.ErrorMessage:
		p.Message = clip(p.Message)
		m.res.Errors = keep(m.res.Errors, p, &m.res.ErrorsDropped)
	case *guestmsg.LogMessage:
		m.res.Logs = keep(m.res.Logs, Printable(p.Message), &m.res.LogsDropped)
	case *guestmsg.CompleteMessage:
		m.res.Complete = p
	case nil:
		return fmt.Errorf("%w: a message with no known payload", errBadMessage)
	default:
		// The operation's own messages are all kept, for its host side
		// to read, so a guest that sends more than any operation needs
		// is stopped rather than let grow the VMM.
		if len(m.res.Messages) >= MaxKeptOther || m.otherBytes+len(data) > MaxOtherBytes {
			return fmt.Errorf("%w: more than %d operation messages or %d bytes of them", errBadMessage, MaxKeptOther, MaxOtherBytes)
		}
		m.otherBytes += len(data)
		m.res.Messages = append(m.res.Messages, &msg)
	}
	return nil
}

// What a run keeps of the guest's error and log messages, whatever it
// sends: a guest that floods them must not grow the VMM.
const (
	// KeptMessages is how many of each kind are kept: the first and
	// the last half of it.
	KeptMessages = 16
	// MaxKeptMessage is the most kept of one message's text.
	MaxKeptMessage = 1024
	// MaxKeptOther and MaxOtherBytes bound the operation's own messages
	// in one run (Result.Messages), in count and in encoded bytes. info
	// sends one message per table entry: qemu's most snapshots (65536)
	// and bitmaps (65535) fit, each snapshot at most about 420 bytes
	// (ID and name cut to 127 and 255 as qemu cuts them).
	MaxKeptOther  = 1 << 17
	MaxOtherBytes = 32 << 20
)

// keep appends x to list while it holds fewer than KeptMessages; after
// that it keeps the first half as they are and the last half as the
// latest, counting the messages it lets go.
func keep[T any](list []T, x T, dropped *int) []T {
	if len(list) < KeptMessages {
		return append(list, x)
	}
	half := KeptMessages / 2
	copy(list[half:], list[half+1:])
	list[len(list)-1] = x
	*dropped++
	return list
}

// clip cuts s to MaxKeptMessage bytes, in a copy of its own: a slice of
// s would keep all of s alive.
func clip(s string) string {
	if len(s) > MaxKeptMessage {
		return strings.Clone(s[:MaxKeptMessage])
	}
	return s
}

// Printable returns s with anything but printable ASCII replaced, so guest
// text cannot drive the terminal it is printed on.
func Printable(s string) string {
	s = clip(s)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
