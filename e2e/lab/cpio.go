package lab

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
)

// archive writes a gzip'd cpio archive in the "newc" format, the one the
// kernel unpacks into its initramfs. Only directories and regular files are
// needed for a run's extra archive.
type archive struct {
	gz    *gzip.Writer
	ino   int
	err   error
	count int
}

func newArchive(w io.Writer) *archive {
	gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
	return &archive{gz: gz, ino: 1 << 20} // far from the base archive's inode numbers
}

func (a *archive) header(name string, mode uint32, size int) {
	if a.err != nil {
		return
	}
	a.ino++
	nlink := 1
	if mode&0o040000 != 0 {
		nlink = 2
	}
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		a.ino, mode, 0, 0, nlink, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	a.write([]byte(hdr))
	a.write([]byte(name + "\x00"))
	a.pad(len(hdr) + len(name) + 1)
}

func (a *archive) write(b []byte) {
	if a.err == nil {
		_, a.err = a.gz.Write(b)
	}
}

// pad aligns to four bytes, as newc requires after names and file data.
func (a *archive) pad(n int) {
	if r := n % 4; r != 0 {
		a.write(make([]byte, 4-r))
	}
}

func (a *archive) dir(name string) {
	a.header(name, 0o040755, 0)
}

func (a *archive) file(name string, data []byte, perm uint32) {
	a.header(name, 0o100000|perm, len(data))
	a.write(data)
	a.pad(len(data))
}

func (a *archive) fileFrom(name, hostPath string, perm uint32) error {
	data, err := os.ReadFile(hostPath)
	if err != nil {
		return fmt.Errorf("adding %s to the lab archive: %w", hostPath, err)
	}
	a.file(name, data, perm)
	return a.err
}

func (a *archive) close() error {
	a.header("TRAILER!!!", 0, 0)
	if a.err != nil {
		return a.err
	}
	return a.gz.Close()
}
