package standby

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/understudy/understudy/lxd"
)

// DataDiskDevice is the name of the disk device a service's data disk is
// attached as, on the standby container and on its copies on spares.
const DataDiskDevice = lxd.DataDiskDevice

// checkDataDisk reports ErrDataDiskMissing when the data disk's source is
// not a directory or file on this host. The agent runs on the standby VM
// next to Incus/LXD, so its view of the file system is the daemon's. A cold
// container is not started at prepare, so without this check a missing
// mount would first show up as a failed start during an outage.
func checkDataDisk(d *DataDisk) error {
	if d == nil {
		return nil
	}
	_, err := os.Stat(d.Source)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: data disk %s missing on the standby host", ErrDataDiskMissing, d.Source)
	default:
		return fmt.Errorf("%w: data disk %s: %w", ErrDataDiskMissing, d.Source, err)
	}
}
