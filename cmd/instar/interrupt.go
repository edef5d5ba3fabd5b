package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// interrupts is a context that SIGINT or SIGTERM cancels. The handler is
// installed on a goroutine of its own, because installing it starts a
// thread, which need not delay the work; wait blocks until it is in place.
type interrupts struct {
	context.Context
	installed chan struct{}
	done      chan struct{}
	sigs      chan os.Signal
	cancel    context.CancelCauseFunc
}

func watchInterrupts(parent context.Context) *interrupts {
	ctx, cancel := context.WithCancelCause(parent)
	in := &interrupts{Context: ctx, installed: make(chan struct{}), done: make(chan struct{}),
		sigs: make(chan os.Signal, 1), cancel: cancel}
	go func() {
		signal.Notify(in.sigs, os.Interrupt, syscall.SIGTERM)
		close(in.installed)
		select {
		case s := <-in.sigs:
			cancel(fmt.Errorf("received %v", s))
		case <-in.done:
		}
	}()
	return in
}

// wait returns once the handler is installed.
func (in *interrupts) wait() { <-in.installed }

// stop uninstalls the handler and releases the context.
func (in *interrupts) stop() {
	close(in.done)
	<-in.installed
	signal.Stop(in.sigs)
	in.cancel(nil)
}
