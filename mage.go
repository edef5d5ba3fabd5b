//go:build ignore

// mage.go lets a fresh clone run the build with no mage installed:
//
//	go run mage.go build
//	go run mage.go check
package main

import (
	"os"

	"github.com/magefile/mage/mage"
)

func main() { os.Exit(mage.Main()) }
