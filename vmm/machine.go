// Package vmm runs instar's guests: it loads core, an operation and its
// config into guest RAM, attaches devices, serves the guest's requests and
// messages, and stops a guest that misbehaves. It trusts nothing the guest
// says: every request is bounds-checked, every message is size-limited and
// every run has a deadline and an exit budget.
//
// The accelerators that actually execute guest code (kvm, process) implement
// the Accelerator interface; everything in this package is written once
// above it.
package vmm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"instar/shared"
	"instar/shared/guestmsg"
)

// Defaults for Config.
const (
	// DefaultDeadline is how long a guest may run.
	DefaultDeadline = 60 * time.Second
	// DefaultExitBudget is how many exits a guest may cause. A create
	// needs a few dozen; the budget only stops a guest that floods.
	DefaultExitBudget = 1 << 20
)

// Input is a read-only device backed by a host file.
type Input struct {
	R          io.ReaderAt
	Size       uint64
	SectorSize uint32
}

// Output is a writable device backed by a host file. The guest may write
// only below Limit.
type Output struct {
	W          io.WriterAt
	Limit      uint64
	SectorSize uint32
}

// Config describes one guest run.
type Config struct {
	// Context, when set, stops the guest when it is canceled.
	Context context.Context
	// OperationConfig is written at OperationConfigAddr.
	OperationConfig []byte
	Inputs          []Input
	Outputs         []Output
	// Deadline bounds the run's wall time; zero means DefaultDeadline.
	Deadline time.Duration
	// ExitBudget bounds the number of exits; zero means DefaultExitBudget.
	ExitBudget int
	// OnProgress, when set, is called for each progress message.
	OnProgress func(done, total uint64)
}

// Result is what a guest reported in a run that completed. The VMM knows
// no operation: the completion's Result payload and the Messages are the
// operation's host side to decode and check.
type Result struct {
	Complete *guestmsg.CompleteMessage
	// Messages are the guest's messages other than progress, error, log
	// and complete, in order: at most MaxKeptOther of them.
	Messages []*guestmsg.GuestMessage
	// Errors and Logs are the guest's first and last KeptMessages/2
	// error and log messages, each cut to MaxKeptMessage bytes; the
	// Dropped counts say how many between them were not kept.
	Errors        []*guestmsg.ErrorMessage
	Logs          []string
	ErrorsDropped int
	LogsDropped   int
	Exits         int
	// Timings of the run's phases; Teardown is filled in by Guest.Close.
	Setup, Run, Teardown time.Duration
}

// Guest is one guest run whose VM is set up in the background: Start
// creates the VM (for process, starts and confines the child) and loads
// core and the operation while the caller prepares the run's files and
// config, and the VM is torn down while the caller finishes. A Guest
// serves one Run; its VM lives on one goroutine locked to its OS thread,
// so no exit crosses threads.
type Guest struct {
	acc     Accelerator
	images  func() (core, operation []byte, err error)
	started time.Time
	cfgs    chan Config // Run's config, to the guest's goroutine
	results chan runOutcome
	quit    chan struct{} // closed by Close
	done    chan struct{} // closed once the VM is released
	closed  sync.Once
	ran     bool
	res     *Result // what Run returned, for Close to add the teardown to

	setup    time.Duration // VM creation and loading the images
	teardown time.Duration // read after done
}

type runOutcome struct {
	res *Result
	err error
}

// Start begins setting up a VM on acc for one Run of the flat images for
// CoreLoadAddr and OperationLoadAddr that images returns (it is called on
// the guest's goroutine, so fetching them overlaps the caller's work too):
// the one way to run a guest. The caller must Close the Guest, whether or
// not it runs it.
func Start(acc Accelerator, images func() (core, operation []byte, err error)) *Guest {
	g := &Guest{
		acc:     acc,
		images:  images,
		started: time.Now(),
		cfgs:    make(chan Config),
		results: make(chan runOutcome, 1),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go g.serve()
	// Let the new goroutine start now rather than when the caller next
	// blocks: left in this P's run-next slot it would wait there.
	runtime.Gosched()
	return g
}

// Run runs the guest with cfg to completion. It returns an error when the
// guest could not be set up, or was stopped (*GuestError); a guest that
// completed and reported failure is a Result with Complete.Success false.
// A Guest runs once; a second Run is an error.
func (g *Guest) Run(cfg Config) (*Result, error) {
	if g.ran {
		return nil, errors.New("vmm: a Guest runs only once")
	}
	g.ran = true
	if err := validate(&cfg); err != nil {
		return nil, err
	}
	select {
	case g.cfgs <- cfg:
	case <-g.done:
		return nil, errors.New("vmm: the guest is closed")
	}
	out := <-g.results
	g.res = out.res
	return out.res, out.err
}

// Close stops the guest if it has not run, and waits until its VM is
// released. It is safe to call more than once.
func (g *Guest) Close() {
	g.Release()
	<-g.done
	if g.res != nil {
		g.res.Teardown = g.teardown
	}
}

// Release stops the guest if it has not run, and lets its VM be released
// in the background without waiting: for a command about to exit, whose
// exit would otherwise wait for the guest's teardown (a process that exits
// first takes its guests with it). It is safe to call more than once, and
// with Close.
func (g *Guest) Release() {
	g.closed.Do(func() { close(g.quit) })
}

// serve is the guest's goroutine: it owns the VM from creation to release
// on one locked OS thread.
func (g *Guest) serve() {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer close(g.done)
	vm, vmErr := g.acc.NewVM(VMConfig{
		RAMSize:  shared.GuestRAMSize,
		Entry:    shared.CoreLoadAddr,
		StackTop: shared.StackTop,
		Unmapped: []Range{
			{shared.VMMPrivateBase, shared.VMMPrivateBase + shared.VMMPrivateSize},
			{shared.StackGuardAddr, shared.StackGuardAddr + shared.StackGuardSize},
		},
	})
	switch {
	case vmErr != nil:
		// A VM that failed to come up has released itself; what NewVM
		// returned with the error is not used.
		vmErr = fmt.Errorf("create %s VM: %w", g.acc.Name(), vmErr)
	case vm == nil:
		vmErr = fmt.Errorf("create %s VM: the accelerator returned no VM", g.acc.Name())
	default:
		defer func() {
			t := time.Now()
			vm.Close()
			g.teardown = time.Since(t)
		}()
		vmErr = g.loadImages(vm.Memory())
	}
	g.setup = time.Since(g.started)
	select {
	case cfg := <-g.cfgs:
		if vmErr != nil {
			g.results <- runOutcome{nil, vmErr}
			return
		}
		res, err := g.run(vm, cfg)
		g.results <- runOutcome{res, err}
	case <-g.quit:
	}
}

// run loads cfg and runs the guest on vm.
func (g *Guest) run(vm VM, cfg Config) (*Result, error) {
	start := time.Now()
	m := &machine{cfg: cfg, vm: vm, mem: vm.Memory(), res: &Result{}}
	m.load()
	m.res.Setup = g.setup + time.Since(start)
	t := time.Now()
	err := m.loop()
	m.res.Run = time.Since(t)
	if err != nil {
		return nil, err
	}
	return m.res, nil
}

// loadImages fetches, checks and copies core and the operation into guest
// RAM.
func (g *Guest) loadImages(mem []byte) error {
	core, operation, err := g.images()
	switch {
	case err != nil:
		return err
	case len(core) == 0 || len(core) > shared.CoreMaxSize:
		return fmt.Errorf("core image is %d bytes; want 1 to %d", len(core), shared.CoreMaxSize)
	case len(operation) == 0 || len(operation) > shared.OperationMaxSize:
		return fmt.Errorf("operation image is %d bytes; want 1 to %d", len(operation), shared.OperationMaxSize)
	case uint64(len(mem)) < shared.GuestRAMSize:
		return fmt.Errorf("VM has %d bytes of RAM; need %d", len(mem), shared.GuestRAMSize)
	}
	copy(mem[shared.CoreLoadAddr:], core)
	copy(mem[shared.OperationLoadAddr:], operation)
	return nil
}

func validate(cfg *Config) error {
	switch {
	case len(cfg.OperationConfig) > shared.OperationConfigSize:
		return fmt.Errorf("operation config is %d bytes; at most %d fit", len(cfg.OperationConfig), shared.OperationConfigSize)
	case len(cfg.Inputs) > shared.MaxInputs:
		return fmt.Errorf("%d input devices; at most %d", len(cfg.Inputs), shared.MaxInputs)
	case len(cfg.Outputs) > shared.MaxOutputs:
		return fmt.Errorf("%d output devices; at most %d", len(cfg.Outputs), shared.MaxOutputs)
	}
	for i, in := range cfg.Inputs {
		if !validSectorSize(in.SectorSize) {
			return fmt.Errorf("input %d: sector size %d is not a power of two from 512 to %d", i, in.SectorSize, shared.MaxSectorSize)
		}
	}
	for i, out := range cfg.Outputs {
		if !validSectorSize(out.SectorSize) {
			return fmt.Errorf("output %d: sector size %d is not a power of two from 512 to %d", i, out.SectorSize, shared.MaxSectorSize)
		}
	}
	if cfg.Deadline <= 0 {
		cfg.Deadline = DefaultDeadline
	}
	if cfg.ExitBudget <= 0 {
		cfg.ExitBudget = DefaultExitBudget
	}
	return nil
}

func validSectorSize(s uint32) bool {
	return s >= 512 && s <= shared.MaxSectorSize && s&(s-1) == 0
}

// loadHead copies the first bytes of in, up to InputHeadSize, to
// InputHeadAddr and returns how many it copied: as many as were read, so a
// file that shrank or failed is read by requests, which report it. One
// read of the part every format's header lies in saves the guest an exit
// per header read.
func (m *machine) loadHead(in Input) uint32 {
	n := min(in.Size, shared.InputHeadSize)
	if n == 0 {
		return 0
	}
	got, _ := in.R.ReadAt(m.mem[shared.InputHeadAddr:shared.InputHeadAddr+n], 0)
	return uint32(got)
}

// load writes the operation config and the device table into guest RAM
// (loadImages has written the images).
func (m *machine) load() {
	copy(m.mem[shared.OperationConfigAddr:], m.cfg.OperationConfig)
	t := shared.DeviceTable{
		Magic:       shared.DeviceTableMagic,
		InputCount:  uint32(len(m.cfg.Inputs)),
		OutputCount: uint32(len(m.cfg.Outputs)),
	}
	for i, in := range m.cfg.Inputs {
		t.Inputs[i] = shared.DeviceInfo{Size: in.Size, SectorSize: in.SectorSize}
	}
	if len(m.cfg.Inputs) > 0 {
		t.HeadSize = m.loadHead(m.cfg.Inputs[0])
	}
	for i, out := range m.cfg.Outputs {
		t.Outputs[i] = shared.DeviceInfo{Size: out.Limit, SectorSize: out.SectorSize}
	}
	copy(m.mem[shared.DeviceTableAddr:shared.DeviceTableAddr+shared.DeviceTableSize], shared.Encode(&t))
}
