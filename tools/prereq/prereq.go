// Package prereq makes sure the programs the build and its tests need are
// there before anything runs: as root with apt it installs the missing ones
// (saying so in one line); otherwise it fails with one line naming the exact
// install command.
package prereq

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
)

// Tool is one thing the build or a test uses, and the Debian package that
// provides it.
type Tool struct {
	// Command is a program that must be on PATH; empty when File says it.
	Command string
	// File is a file that must exist, for what is not a program (C headers).
	File string
	// Package is the Debian 12 package that provides it.
	Package string
}

// name is how a line names the tool.
func (t Tool) name() string {
	if t.Command != "" {
		return t.Command
	}
	return t.File
}

// Every tool the build and the tests use.
var (
	GCC      = Tool{Command: "gcc", Package: "gcc"}
	LibcDev  = Tool{File: "/usr/include/stdlib.h", Package: "libc6-dev"} // cgo tests, sanitizers
	Protoc   = Tool{Command: "protoc", Package: "protobuf-compiler"}
	QemuImg  = Tool{Command: "qemu-img", Package: "qemu-utils"} // the tests' oracle
	QemuX86  = Tool{Command: "qemu-system-x86_64", Package: "qemu-system-x86"}
	XZ       = Tool{Command: "xz", Package: "xz-utils"}   // vmtest's kernel
	DpkgDeb  = Tool{Command: "dpkg-deb", Package: "dpkg"} // vmtest's kernel, mage dist
	AptCache = Tool{Command: "apt-cache", Package: "apt"} // vmtest finds its kernel package
	AptGet   = Tool{Command: "apt-get", Package: "apt"}   // and downloads it
	Man      = Tool{Command: "man", Package: "man-db"}    // mage debcheck, for the man pages
	// The recognisers' tests make their inputs with the real tools.
	Genisoimage = Tool{Command: "genisoimage", Package: "genisoimage"}
	Xorriso     = Tool{Command: "xorriso", Package: "xorriso"}
	Sgdisk      = Tool{Command: "sgdisk", Package: "gdisk"}
	Sfdisk      = Tool{Command: "sfdisk", Package: "fdisk"}
	MkfsFat     = Tool{Command: "mkfs.fat", Package: "dosfstools"}
	Cryptsetup  = Tool{Command: "cryptsetup", Package: "cryptsetup-bin"}
	Zstd        = Tool{Command: "zstd", Package: "zstd"}
	Bzip2       = Tool{Command: "bzip2", Package: "bzip2"}
	// BashCompletion is the library cobra's bash completion script uses.
	BashCompletion = Tool{File: "/usr/share/bash-completion/bash_completion", Package: "bash-completion"}
)

// Need is what one mage target needs.
type Need struct {
	// Tools must all be present.
	Tools []Tool
	// Lists, when not empty, says why apt's package lists must be
	// refreshed (apt-get update) first; the caller decides it.
	Lists string
}

// Env is what Decide knows of the machine.
type Env struct {
	// Have reports whether t is present.
	Have func(t Tool) bool
	// Root is whether the process may install packages (euid 0).
	Root bool
	// Apt is whether apt-get is on PATH.
	Apt bool
}

// Plan is what to do before the target runs.
type Plan struct {
	// Missing names the tools that are not there.
	Missing []string
	// Packages are the Debian packages that provide them, each once.
	Packages []string
	// Update is whether apt's package lists are to be refreshed.
	Update bool
	// Install is whether this process can run apt-get itself.
	Install bool
	// Line is the one line to print: what is being installed, or, when
	// Install is false, what is missing and the command that installs it.
	// Empty when nothing is to be done.
	Line string
}

// Decide works out the plan for need on env.
func Decide(need Need, env Env) Plan {
	var p Plan
	seen := map[string]bool{}
	for _, t := range need.Tools {
		if env.Have(t) {
			continue
		}
		p.Missing = append(p.Missing, t.name())
		if !seen[t.Package] {
			seen[t.Package] = true
			p.Packages = append(p.Packages, t.Package)
		}
	}
	// Installing always refreshes the lists: a fresh machine may have none.
	p.Update = need.Lists != "" || len(p.Packages) > 0
	if !p.Update {
		return p
	}
	p.Install = env.Root && env.Apt
	var what []string
	if len(p.Missing) > 0 {
		what = append(what, "missing "+strings.Join(p.Missing, ", "))
	}
	if need.Lists != "" {
		what = append(what, need.Lists)
	}
	cmd := "apt-get update"
	if len(p.Packages) > 0 {
		cmd += " && apt-get install -y " + strings.Join(p.Packages, " ")
	}
	switch {
	case p.Install && len(p.Packages) > 0:
		p.Line = fmt.Sprintf("%s: installing %s with apt-get", strings.Join(what, "; "), strings.Join(p.Packages, " "))
	case p.Install:
		p.Line = fmt.Sprintf("%s: running apt-get update", strings.Join(what, "; "))
	case env.Apt:
		p.Line = fmt.Sprintf("%s: as root, run: %s", strings.Join(what, "; "), cmd)
	default:
		p.Line = fmt.Sprintf("%s: install the Debian packages %s (on Debian, as root: %s)",
			strings.Join(what, "; "), strings.Join(p.Packages, " "), cmd)
	}
	return p
}

// Machine returns the Env of this machine and process.
func Machine() Env {
	_, aptErr := exec.LookPath("apt-get")
	return Env{Have: Present, Root: os.Geteuid() == 0, Apt: aptErr == nil}
}

// Present reports whether t is on this machine.
func Present(t Tool) bool {
	if t.Command != "" {
		if _, err := exec.LookPath(t.Command); err != nil {
			return false
		}
	}
	if t.File != "" {
		if _, err := os.Stat(t.File); err != nil {
			return false
		}
	}
	return true
}

// Ensure carries out Decide(need, Machine()): it returns nil when
// everything is there or has been installed, and otherwise an error that is
// the plan's one line. The line is printed (to out) before installing.
func Ensure(ctx context.Context, need Need, out io.Writer) error {
	env := Machine()
	p := Decide(need, env)
	if !p.Update {
		return nil
	}
	if !p.Install {
		return fmt.Errorf("%s", p.Line)
	}
	fmt.Fprintln(out, p.Line)
	if err := apt(ctx, "update", "-qq"); err != nil {
		return err
	}
	if len(p.Packages) > 0 {
		if err := apt(ctx, append([]string{"install", "-y", "-qq"}, p.Packages...)...); err != nil {
			return err
		}
	}
	if p := Decide(need, env); len(p.Missing) > 0 {
		return fmt.Errorf("still missing after apt-get install: %s", strings.Join(p.Missing, ", "))
	}
	return nil
}

// apt runs apt-get quietly; its output is shown only when it fails.
func apt(ctx context.Context, args ...string) error {
	cmd := exec.CommandContext(ctx, "apt-get", args...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("apt-get %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(out.String()))
	}
	return nil
}
