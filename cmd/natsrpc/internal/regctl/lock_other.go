//go:build !unix

package regctl

import (
	"errors"
	"os"
)

var errDataDirInUse = errors.New("data directory in use")

// lockDataDir does not lock on systems without flock: running two embedded
// servers on one data directory there is not detected.
func lockDataDir(dir string) (*os.File, error) { return nil, nil }
