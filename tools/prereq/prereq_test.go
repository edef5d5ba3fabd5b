package prereq

import (
	"reflect"
	"testing"
)

func TestDecide(t *testing.T) {
	check := Need{Tools: []Tool{GCC, LibcDev, Protoc, QemuImg, QemuX86, XZ}}
	has := func(names ...string) func(Tool) bool {
		return func(t Tool) bool {
			for _, n := range names {
				if t.name() == n {
					return true
				}
			}
			return false
		}
	}
	all := func(Tool) bool { return true }
	for _, tc := range []struct {
		name string
		need Need
		env  Env
		want Plan
	}{
		{"everything there", check, Env{Have: all, Root: true, Apt: true}, Plan{}},
		{"everything there, not root", check, Env{Have: all}, Plan{}},
		{"root with apt installs", check,
			Env{Have: has("gcc", "/usr/include/stdlib.h", "xz"), Root: true, Apt: true},
			Plan{
				Missing:  []string{"protoc", "qemu-img", "qemu-system-x86_64"},
				Packages: []string{"protobuf-compiler", "qemu-utils", "qemu-system-x86"},
				Update:   true, Install: true,
				Line: "missing protoc, qemu-img, qemu-system-x86_64: installing protobuf-compiler qemu-utils qemu-system-x86 with apt-get",
			}},
		{"not root names the command", check,
			Env{Have: has("gcc", "/usr/include/stdlib.h", "xz", "qemu-system-x86_64"), Apt: true},
			Plan{
				Missing:  []string{"protoc", "qemu-img"},
				Packages: []string{"protobuf-compiler", "qemu-utils"},
				Update:   true,
				Line:     "missing protoc, qemu-img: as root, run: apt-get update && apt-get install -y protobuf-compiler qemu-utils",
			}},
		{"root without apt cannot install", Need{Tools: []Tool{GCC, Protoc}},
			Env{Have: has("gcc"), Root: true},
			Plan{
				Missing:  []string{"protoc"},
				Packages: []string{"protobuf-compiler"},
				Update:   true,
				Line:     "missing protoc: install the Debian packages protobuf-compiler (on Debian, as root: apt-get update && apt-get install -y protobuf-compiler)",
			}},
		{"one package for two tools", Need{Tools: []Tool{AptCache, AptGet}},
			Env{Have: has(), Root: true, Apt: true},
			Plan{
				Missing:  []string{"apt-cache", "apt-get"},
				Packages: []string{"apt"},
				Update:   true, Install: true,
				Line: "missing apt-cache, apt-get: installing apt with apt-get",
			}},
		{"only the lists, as root", Need{Tools: []Tool{GCC}, Lists: "apt knows no kernel for vmtest"},
			Env{Have: all, Root: true, Apt: true},
			Plan{Update: true, Install: true, Line: "apt knows no kernel for vmtest: running apt-get update"}},
		{"only the lists, not root", Need{Tools: []Tool{GCC}, Lists: "apt knows no kernel for vmtest"},
			Env{Have: all, Apt: true},
			Plan{Update: true, Line: "apt knows no kernel for vmtest: as root, run: apt-get update"}},
		{"lists and packages", Need{Tools: []Tool{GCC, XZ}, Lists: "apt knows no kernel for vmtest"},
			Env{Have: has("gcc"), Apt: true},
			Plan{
				Missing: []string{"xz"}, Packages: []string{"xz-utils"}, Update: true,
				Line: "missing xz; apt knows no kernel for vmtest: as root, run: apt-get update && apt-get install -y xz-utils",
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Decide(tc.need, tc.env); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestPresent(t *testing.T) {
	for _, tc := range []struct {
		tool Tool
		want bool
	}{
		{Tool{Command: "sh"}, true},
		{Tool{Command: "instar-no-such-program"}, false},
		{Tool{File: "/"}, true},
		{Tool{File: "/instar-no-such-file"}, false},
	} {
		if got := Present(tc.tool); got != tc.want {
			t.Errorf("Present(%+v) = %v, want %v", tc.tool, got, tc.want)
		}
	}
}
