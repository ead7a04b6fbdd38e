// Package runstate keeps the files ipvsd writes under its run directory
// (/run/ipvsd), which outlive one process but not the boot:
//
//   - ownership.go: the ownership record (Record, OwnershipStore), what
//     ipvsd created and so may change or delete;
//   - recordfile.go: its on-disk form, and the validation that refuses a
//     record ipvsd cannot have written;
//   - published.go: the desired state last worked towards, for
//     `ipvsd list --drift`;
//   - files.go: writing them atomically, 0600 in a 0700 directory, and
//     reading them only from where no one else could have put them.
package runstate
