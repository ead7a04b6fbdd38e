package runstate

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"golang.org/x/sys/unix"
)

// fileMode is the mode of every file ipvsd writes under its run
// directory, and dirMode the mode of a run directory it creates: what is
// in them decides what ipvsd may delete, so no one else may write them,
// and the table they describe is root's business only.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// maxRecordSize bounds what Load reads: a record of 100,000 virtual
// servers with their parameters takes about 25 MB, so a larger file is
// not one ipvsd wrote, and reading /dev/zero must not exhaust memory.
const maxRecordSize = 64 << 20

// writeFileAtomic replaces path with b so that a reader (or a restarted
// ipvsd) sees either the old content or the new one, never a torn file.
// The directory is created 0700 when missing and checked as checkDir does
// when it exists.
func writeFileAtomic(path string, b []byte) error {
	return writeFileAtomicFunc(path, func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// writeFileAtomicFunc is writeFileAtomic with the content written by
// write, through a buffer, so a large file need not be in memory whole.
func writeFileAtomicFunc(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	if err := checkDir(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	bw := bufio.NewWriterSize(f, 64<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		// CreateTemp makes the file 0600 already; said again so that the
		// mode does not depend on that.
		err = f.Chmod(fileMode)
	}
	if err == nil {
		// Without the sync a crash could leave the renamed file empty.
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		err = errors.Join(err, ignoreMissing(os.Remove(tmp)))
	}
	return err
}

func ignoreMissing(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// checkDir refuses a run directory that could hold a file someone else
// put there: a symbolic link (it could point anywhere, and be repointed),
// a directory owned by another user (root aside, who owns /run and /tmp),
// or one that others may write to without the sticky bit (they could
// replace the record). An existing directory's mode is left as it is: it
// may be shared (/tmp) or set up by the service manager. Only the last
// component is checked: /var/run is a symbolic link to /run on most
// systems.
func checkDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return fmt.Errorf("directory %s is a symbolic link", dir)
	case !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Geteuid() && uid != 0 {
		return fmt.Errorf("directory %s is owned by uid %d, not by uid %d or root", dir, uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return fmt.Errorf("directory %s is writable by others (mode %v)", dir, fi.Mode().Perm())
	}
	return nil
}

// readRunFile reads a file ipvsd wrote under its run directory, refusing
// one it cannot have written: a symbolic link, not a regular file, owned
// by another user, writable by others, or larger than maxRecordSize. A
// missing file is reported wrapping fs.ErrNotExist.
func readRunFile(path string) ([]byte, error) {
	if err := checkDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	// O_NOFOLLOW: the check and the open are one step, so the file cannot
	// be swapped for a link between them. O_NONBLOCK: a FIFO put in its
	// place must not hang the daemon before its loop starts; it is then
	// refused as not a regular file.
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("%s is a symbolic link", path)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if uid, ok := ownerOf(fi); ok && uid != os.Geteuid() {
		return nil, fmt.Errorf("%s is owned by uid %d, not by uid %d", path, uid, os.Geteuid())
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("%s is writable by others (mode %v)", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxRecordSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRecordSize {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxRecordSize)
	}
	return b, nil
}

func ownerOf(fi fs.FileInfo) (int, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), true
}
