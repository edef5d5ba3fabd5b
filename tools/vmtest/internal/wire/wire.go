// Package wire is the contract between the vmtest host harness and the init
// program that runs inside the test VM: where things live in the initramfs,
// how the command travels on the kernel command line, and the console lines
// by which init reports back.
package wire

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

const (
	// Param is the kernel command line parameter that carries the command,
	// as base64url (unpadded) of the JSON-encoded argv.
	Param = "instar.cmd"

	// ArgvPath is the initramfs file holding the JSON-encoded default argv,
	// used when the command line carries no Param.
	ArgvPath = "/vmtest/argv.json"

	// ModulesDir is the initramfs directory of kernel modules; init loads
	// every *.ko in it in lexical order.
	ModulesDir = "/modules"

	// ExitMarker starts the last console line init prints: ExitMarker, a
	// space and the command's exit code in decimal.
	ExitMarker = "VMTEST-EXIT"

	// InitErrorMarker starts the console line init prints when it fails
	// before or while starting the command, followed by a space and the
	// reason.
	InitErrorMarker = "VMTEST-INIT-ERROR"
)

// EncodeParam returns the kernel command line word "instar.cmd=..." that
// carries argv.
func EncodeParam(argv []string) (string, error) {
	if len(argv) == 0 {
		return "", errors.New("wire: empty argv")
	}
	j, err := json.Marshal(argv)
	if err != nil {
		return "", fmt.Errorf("wire: encoding argv: %w", err)
	}
	return Param + "=" + base64.RawURLEncoding.EncodeToString(j), nil
}

// DecodeParam finds Param in a kernel command line (the contents of
// /proc/cmdline) and decodes the argv it carries. ok is false when the
// command line has no Param.
func DecodeParam(cmdline string) (argv []string, ok bool, err error) {
	for _, word := range strings.Fields(cmdline) {
		v, found := strings.CutPrefix(word, Param+"=")
		if !found {
			continue
		}
		j, err := base64.RawURLEncoding.DecodeString(v)
		if err != nil {
			return nil, true, fmt.Errorf("wire: decoding %s: %w", Param, err)
		}
		argv, err := DecodeArgv(j)
		return argv, true, err
	}
	return nil, false, nil
}

// DecodeArgv decodes a JSON-encoded argv, as stored at ArgvPath.
func DecodeArgv(j []byte) ([]string, error) {
	var argv []string
	if err := json.Unmarshal(j, &argv); err != nil {
		return nil, fmt.Errorf("wire: decoding argv: %w", err)
	}
	if len(argv) == 0 {
		return nil, errors.New("wire: empty argv")
	}
	return argv, nil
}
