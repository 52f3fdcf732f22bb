package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/convene/convene/service/sqlite"
)

// backupCmd is `convene backup FILE`: a consistent snapshot of the embedded
// store, taken while the service runs on the same data directory.
func backupCmd(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: convene backup FILE")
	}
	if cfg.MongoURI != "" {
		return errors.New("backup: MONGODB_URI is set; back MongoDB up with mongodump (README, \"Backup and restore\")")
	}
	if err := sqlite.Backup(ctx, cfg.DataDir, args[0]); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "backed up %s to %s\n", cfg.DataDir, args[0])
	return err
}

// restoreCmd is `convene restore [--replace] FILE`: the backup becomes the
// data directory's database. It refuses while a service runs on the
// directory.
func restoreCmd(ctx context.Context, cfg config, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	replace := fs.Bool("replace", false, "replace the data directory's database (it is kept beside the restored one)")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		return errors.New("usage: convene restore [--replace] FILE")
	}
	if cfg.MongoURI != "" {
		return errors.New("restore: MONGODB_URI is set; restore MongoDB with mongorestore (README, \"Backup and restore\")")
	}
	if err := sqlite.Restore(ctx, fs.Arg(0), cfg.DataDir, *replace); err != nil {
		return err
	}
	_, err := fmt.Fprintf(stdout, "restored %s into %s\n", fs.Arg(0), cfg.DataDir)
	return err
}
