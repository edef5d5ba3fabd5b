package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// interrupts decides what SIGINT and SIGTERM do to a create.
//
// A create's files have no name until it is complete (O_TMPFILE), and the
// guest dies with instar, so a create killed outright leaves nothing
// behind. A quick create is therefore left to the signals' default action:
// installing a handler starts two threads, which cost a quick create more
// time than anything else it does. A create that may run long (with
// preallocation) gets a handler, installed on a goroutine of its own, that
// cancels the create so that it stops the guest, says it was interrupted,
// and exits with the status a shell gives a process that signal killed
// (128 plus the signal's number). Either way the signals are ignored from the
// moment the files get their names to the end (beforeNamed), so that no
// name is left half-made.
type interrupts struct {
	context.Context
	installed chan struct{} // nil without a handler
	done      chan struct{}
	sigs      chan os.Signal
	cancel    context.CancelCauseFunc
	ignored   bool // beforeNamed ignored the signals; stop restores them
	received  syscall.Signal
}

func watchInterrupts(parent context.Context, handle bool) *interrupts {
	ctx, cancel := context.WithCancelCause(parent)
	in := &interrupts{Context: ctx, cancel: cancel}
	if !handle {
		return in
	}
	in.installed, in.done, in.sigs = make(chan struct{}), make(chan struct{}), make(chan os.Signal, 1)
	go func() {
		signal.Notify(in.sigs, os.Interrupt, syscall.SIGTERM)
		close(in.installed)
		select {
		case s := <-in.sigs:
			in.received = s.(syscall.Signal)
			cancel(fmt.Errorf("received %v", s))
		case <-in.done:
		}
	}()
	return in
}

// signal is the signal that cancelled the create, or 0. Only after the
// context is done.
func (in *interrupts) signal() syscall.Signal {
	if in.Err() == nil {
		return 0
	}
	return in.received
}

// beforeNamed is called before the create's files get names: from then on
// a signal must not stop it half-way. With a handler, that is the handler
// (once it is in place); without one, the signals are ignored.
func (in *interrupts) beforeNamed() {
	if in.installed != nil {
		<-in.installed
		return
	}
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	in.ignored = true
}

// keepIgnoring is set by main, whose process exits right after the
// command: ending the ignoring (signal.Reset) starts the runtime's signal
// mask thread, which would cost the command more than anything else at
// its end.
var keepIgnoring = false

// stop uninstalls the handler or ends the ignoring, and releases the
// context.
func (in *interrupts) stop() {
	if in.installed != nil {
		close(in.done)
		<-in.installed
		signal.Stop(in.sigs)
	}
	if in.ignored && !keepIgnoring {
		signal.Reset(os.Interrupt, syscall.SIGTERM)
	}
	in.cancel(nil)
}
