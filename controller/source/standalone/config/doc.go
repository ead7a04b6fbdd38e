// Package config is the standalone mode's configuration file: plain structs
// read from YAML, completed by Defaults and checked by Validate, which
// reports every problem at once with the service and field it concerns
// (services[web].backends[1].port: must be 1-65535).
//
// The structs keep what the operator wrote (addresses and durations as
// text), so that one typo does not hide the others behind a decoding
// error; Validate parses them and keeps the parsed values for the
// translation to the reconciler's desired state.
//
// Decoding is strict (decode.go): one YAML document of at most
// MaxFileSize bytes, keys matched case-sensitively, and every unknown or
// duplicate key and every value of the wrong type reported with its path
// beside the validation errors. An empty file is an error, never "no
// services": it is what an editor or `cat >` leaves mid-write.
package config
