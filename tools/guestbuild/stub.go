package guestbuild

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"instar/vmm/process/stubelf"
)

// StubName is the stub's name in the guest bundle.
const StubName = "stub"

// StubBase is where the process accelerator's stub is linked: far above any
// guest RAM, so the stub's process can map guest RAM at the guest addresses.
const StubBase = 0x100000000000

// StubMaxSize caps the stub's ELF file.
const StubMaxSize = stubelf.MaxSize

// StubSources are the stub's sources, relative to the guest directory.
var StubSources = []string{"stub/start.S", "stub/stub.c"}

// StubCFlags are the stub's compile flags. It is an ordinary (if
// freestanding) Linux program, not a guest binary: it runs in user mode
// above 4 GiB, hence the large code model, and it shares no code with the
// guest.
var StubCFlags = append(append([]string{}, freestandingCFlags...), "-mcmodel=large")

// Stub is the built stub.
type Stub struct {
	ELF      string // path of the linked ELF
	Data     []byte // the ELF's bytes, as embedded
	LoadAddr uint64 // the lowest address it loads at
}

// BuildStub compiles the process accelerator's stub (guest/stub/) into
// outDir/stub.elf and checks that it is a static x86-64 executable that lies
// entirely at or above StubBase.
func BuildStub(guestDir, outDir string) (*Stub, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", outDir, err)
	}
	elfPath := filepath.Join(outDir, StubName+".elf")
	args := append([]string{}, StubCFlags...)
	args = append(args, LDFlags...)
	args = append(args, "-s",
		"-Wl,-T,"+filepath.Join(guestDir, "stub", "stub.ld"),
		fmt.Sprintf("-Wl,--defsym=STUB_BASE=%#x", StubBase),
		"-o", elfPath)
	for _, s := range StubSources {
		args = append(args, filepath.Join(guestDir, s))
	}
	if out, err := exec.Command("gcc", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("compile the process stub: %w\n%s", err, strings.TrimSpace(string(out)))
	}
	data, err := os.ReadFile(elfPath)
	if err != nil {
		return nil, fmt.Errorf("read the process stub: %w", err)
	}
	low, err := stubelf.Check(data, StubBase)
	if err != nil {
		return nil, fmt.Errorf("process stub %s: %w", elfPath, err)
	}
	return &Stub{ELF: elfPath, Data: data, LoadAddr: low}, nil
}
