//go:build unix

package regctl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lockFileName is the file in an embedded server's data directory that
// the serving process holds an exclusive flock on.
const lockFileName = "natsrpc-serve.lock"

// errDataDirInUse is returned by lockDataDir when another process holds
// the directory's lock.
var errDataDirInUse = errors.New("data directory in use")

// lockDataDir takes an exclusive flock on dir's lock file and returns the
// open file; closing it (or the process ending, however it ends: SIGKILL
// included) releases the lock. Two JetStream servers on one directory
// overwrite each other's message blocks and lose acknowledged writes, so a
// second embedded server on a directory must fail at once. An flock, not
// a PID file: it cannot go stale after a crash and needs no cleaning up.
// The holder's PID is written into the file only so that the error can
// name the process.
func lockDataDir(dir string) (*os.File, error) {
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("data directory %q: lock file: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(path); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf(" (process %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %q is the data directory of another running embedded server%s", errDataDirInUse, dir, holder)
		}
		return nil, fmt.Errorf("data directory %q: lock %s: %w", dir, path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}
