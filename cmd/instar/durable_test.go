package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Durability: every file a create writes is synced (fdatasync) before it
// gets its name, and its directory is synced after, so after a crash
// there is the old file or the complete new one. The tests watch the
// real system calls of a real create, in order.

// straceCreate runs instar under strace -f -y (descriptors shown with
// their paths) and returns the traced calls, one a line.
func straceCreate(t *testing.T, dir string, args ...string) []string {
	t.Helper()
	if _, err := exec.LookPath("strace"); err != nil {
		t.Fatalf("strace is needed: %v", err)
	}
	out := filepath.Join(t.TempDir(), "trace")
	argv := append([]string{"-f", "-y", "-qq", "-o", out, "-e", "trace=fdatasync,fsync,linkat,renameat,renameat2,rename",
		os.Args[0], "create"}, args...)
	cmd := exec.Command("strace", argv...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "INSTAR_TEST_MAIN=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("strace instar create %v: %v: %s", args, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	// A call another thread interrupts is split in two lines,
	// "<unfinished ...>" and "<... name resumed>": joined again here.
	pending := map[string]string{}
	for _, l := range strings.Split(string(data), "\n") {
		// Each line is the process id, spaces, and the call.
		pid, call, ok := strings.Cut(l, " ")
		if !ok {
			continue
		}
		call = strings.TrimSpace(call)
		if head, ok := strings.CutSuffix(call, " <unfinished ...>"); ok {
			pending[pid] = head
			continue
		}
		if strings.HasPrefix(call, "<... ") {
			if _, rest, ok := strings.Cut(call, " resumed>"); ok {
				// strace pads the result of a resumed call: ")      = 0".
				call = resumedPad.ReplaceAllString(pending[pid]+rest, ") = ")
				delete(pending, pid)
			}
		}
		if !strings.HasPrefix(call, "---") {
			calls = append(calls, call)
		}
	}
	return calls
}

var (
	resumedPad  = regexp.MustCompile(`\)\s+= `)
	fdatasyncRE = regexp.MustCompile(`^fdatasync\((\d+)<`)
	linkRE      = regexp.MustCompile(`^linkat\(.*"/proc/self/fd/(\d+)", AT_FDCWD<[^>]*>, "([^"]+)".*= 0$`)
	renameRE    = regexp.MustCompile(`^renameat2?\(.*, "([^"]+)"(, 0)?\) = 0$`)
	fsyncRE     = regexp.MustCompile(`^fsync\(\d+<([^>]*)>\) = 0$`)
)

// TestSyncBeforeName traces raw creates (made on the host, so strace can
// follow every process): new and replacing an existing file. The file's
// descriptor is synced before that descriptor is linked in, the final
// name appears after, and the directory is synced after that.
func TestSyncBeforeName(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct{ name, prealloc string }{{"new", "off"}, {"replace", "off"}, {"replace-full", "full"}} {
		t.Run(c.name, func(t *testing.T) {
			calls := straceCreate(t, dir, "-q", "-f", "raw", "-o", "preallocation="+c.prealloc, "img", "1M")
			t.Logf("%s", strings.Join(calls, "\n"))
			synced := map[string]bool{}
			named, dirSynced := false, false
			for _, call := range calls {
				if m := fdatasyncRE.FindStringSubmatch(call); m != nil {
					if named {
						t.Errorf("a sync after the name appeared: %s", call)
					}
					synced[m[1]] = true
				}
				if m := linkRE.FindStringSubmatch(call); m != nil {
					if !synced[m[1]] {
						t.Errorf("descriptor %s linked in before it was synced: %s", m[1], call)
					}
					named = named || m[2] == "img"
				}
				if m := renameRE.FindStringSubmatch(call); m != nil && m[1] == "img" {
					named = true
				}
				if m := fsyncRE.FindStringSubmatch(call); m != nil && named && m[1] == dir {
					dirSynced = true
				}
			}
			if len(synced) == 0 || !named || !dirSynced {
				t.Errorf("synced %v, named %v, directory synced after %v", synced, named, dirSynced)
			}
		})
	}
}

// TestSyncInPlace: a file written in place (a writable file in a
// read-only directory, written by an unprivileged user) is synced through
// its own descriptor before instar reports success, and no name is made.
func TestSyncInPlace(t *testing.T) {
	needRoot(t, "this test drops privileges")
	if _, err := exec.LookPath("setpriv"); err != nil {
		t.Fatalf("setpriv is needed: %v", err)
	}
	bin := instarTool(t).argv[0]
	dir := t.TempDir()
	os.Chmod(filepath.Dir(dir), 0o755)
	os.Chmod(dir, 0o777)
	img := filepath.Join(dir, "img")
	write(t, img, "old", 0o666)
	os.Chmod(dir, 0o555)
	out := filepath.Join(t.TempDir(), "trace")
	cmd := exec.Command("strace", "-f", "-y", "-qq", "-o", out, "-e", "trace=fdatasync,fsync,linkat,renameat,renameat2,rename",
		"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", bin, "create", "-q", "-f", "raw", "img", "1M")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "INSTAR_TEST_MAIN=1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", cmd.Args, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	trace := string(data)
	t.Logf("%s", trace)
	if !strings.Contains(trace, "fdatasync(") || !strings.Contains(trace, "<"+img+">) = 0") {
		t.Errorf("the file written in place was not synced")
	}
	if strings.Contains(trace, "linkat(") || strings.Contains(trace, "rename") {
		t.Errorf("a file written in place got a name")
	}
	if fi, err := os.Stat(img); err != nil || fi.Size() != 1<<20 {
		t.Errorf("img: %v, %v", fi, err)
	}
}

// traceSyscalls runs cmd with the kernel's syscall trace events on for it
// and its children (a tracefs instance of its own, filtered by process),
// and returns the events in order: for creates with a guest, which the
// process accelerator traces with ptrace itself, so strace cannot follow
// it. Each event is "name" for a call's entry or "name=ret" for its exit.
func traceSyscalls(t *testing.T, cmd *exec.Cmd, events ...string) []string {
	t.Helper()
	root := "/sys/kernel/tracing"
	if _, err := os.Stat(filepath.Join(root, "instances")); err != nil {
		root = t.TempDir()
		if err := unix.Mount("nodev", root, "tracefs", 0, ""); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("mount tracefs: %v (CI runs as root and must be able to)", err)
			}
			t.Skipf("no tracefs here: %v", err)
		}
		t.Cleanup(func() { unix.Unmount(root, 0) })
	}
	inst := filepath.Join(root, "instances", fmt.Sprintf("instar-test-%d", os.Getpid()))
	if err := os.Mkdir(inst, 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(inst)
	set := func(file, value string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(inst, file), []byte(value), 0); err != nil {
			t.Fatalf("tracefs %s: %v", file, err)
		}
	}
	set("options/event-fork", "1")
	// Each line then names its thread group: the test binary's own
	// threads that were cloned from this one while it was traced (the Go
	// runtime starts threads from any thread) are left out below.
	set("options/record-tgid", "1")
	for _, e := range events {
		set("events/syscalls/sys_enter_"+e+"/enable", "1")
		set("events/syscalls/sys_exit_"+e+"/enable", "1")
	}
	// The child is forked by this thread, so it (and its threads) are
	// followed from this thread's id.
	runtime.LockOSThread()
	set("set_event_pid", strconv.Itoa(unix.Gettid()))
	out, err := cmd.CombinedOutput()
	runtime.UnlockOSThread()
	set("tracing_on", "0")
	if err != nil {
		t.Fatalf("%v: %v: %s", cmd.Args, err, out)
	}
	data, err := os.ReadFile(filepath.Join(inst, "trace"))
	if err != nil {
		t.Fatal(err)
	}
	enter := regexp.MustCompile(`: sys_(\w+)\(`)
	exit := regexp.MustCompile(`: sys_(\w+) -> (0x[0-9a-f]+)`)
	tgid := regexp.MustCompile(`\(\s*(\d+)\)\s+\[`)
	child := strconv.Itoa(cmd.Process.Pid)
	var got []string
	for _, l := range strings.Split(string(data), "\n") {
		if m := tgid.FindStringSubmatch(l); m == nil || m[1] != child {
			continue
		}
		if m := enter.FindStringSubmatch(l); m != nil {
			got = append(got, m[1])
		} else if m := exit.FindStringSubmatch(l); m != nil {
			got = append(got, m[1]+"="+m[2])
		}
	}
	return got
}

// TestSyncBeforeNameWithGuest traces creates with a guest: a qcow2, new
// and replacing a file, a four-file vmdk, and a qcow2 with an external
// data file (new, and replacing both files). Every output is synced
// before the first name appears, and each batch of names is followed by
// a directory sync: the extents' before the descriptor is named.
func TestSyncBeforeNameWithGuest(t *testing.T) {
	needRoot(t, "tracing needs root")
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		args  []string
		files int
	}{
		{"qcow2-new", []string{"-f", "qcow2", "img", "10G"}, 1},
		{"qcow2-replace", []string{"-f", "qcow2", "img", "10G"}, 1},
		{"vmdk-extents", []string{"-f", "vmdk", "-o", "subformat=twoGbMaxExtentSparse", "split.vmdk", "5G"}, 4},
		{"qcow2-data-file", []string{"-f", "qcow2", "-o", "data_file=img.data,preallocation=falloc", "img", "16M"}, 2},
		{"qcow2-data-file-replace", []string{"-f", "qcow2", "-o", "data_file=img.data,data_file_raw=on", "img", "1G"}, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], append([]string{"create", "-q", "--accel", *parityAccel}, c.args...)...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "INSTAR_TEST_MAIN=1")
			ev := traceSyscalls(t, cmd, "fdatasync", "fsync", "linkat", "renameat", "renameat2", "rename")
			t.Logf("%v", ev)
			syncs, names, dirSyncs := 0, 0, 0
			for i, e := range ev {
				switch e {
				case "fdatasync=0x0":
					syncs++
					if names > 0 {
						t.Errorf("event %d: a file synced after a name appeared", i)
					}
				case "linkat=0x0", "renameat=0x0", "renameat2=0x0", "rename=0x0":
					if syncs < c.files {
						t.Errorf("event %d: a name appeared after %d of %d files were synced", i, syncs, c.files)
					}
					names++
				case "fsync=0x0":
					dirSyncs++
				}
			}
			if syncs != c.files || names < c.files || dirSyncs < 1 {
				t.Errorf("%d files synced, %d names given, %d directory syncs; want %d, at least %d, at least 1", syncs, names, dirSyncs, c.files, c.files)
			}
			if n := len(ev); n == 0 || ev[n-1] != "fsync=0x0" {
				t.Errorf("the last call is not the directory's sync: %v", ev)
			}
			if c.files > 1 && dirSyncs < 2 {
				t.Errorf("the extra files' names were not synced before the image's: %d directory syncs", dirSyncs)
			}
		})
	}
}
