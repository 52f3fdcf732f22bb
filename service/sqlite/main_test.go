package sqlite

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
)

// HoldEnv makes the test binary a helper process that opens the store in
// the directory named, says "ready", and holds it until its stdin closes
// (see TestSecondProcessRefused).
const HoldEnv = "CONVENE_SQLITE_TEST_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(HoldEnv); dir != "" {
		s, err := Open(context.Background(), dir)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		_ = s.Close()
		os.Exit(0)
	}
	code := m.Run()
	closeSeeded()
	os.Exit(code)
}
