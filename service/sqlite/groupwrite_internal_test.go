package sqlite

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestGroupedWritesStandAlone: writes that run together in one
// transaction succeed or fail each on its own. A write that fails after
// changing something, or panics, leaves no trace and takes nothing of
// the others with it; every write reported done is stored.
func TestGroupedWritesStandAlone(t *testing.T) {
	s, err := Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.w.Exec(`CREATE TABLE scratch (k TEXT PRIMARY KEY)`); err != nil {
		t.Fatal(err)
	}
	const n = 300
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := fmt.Sprintf("k%03d", i)
			errs[i] = s.write(context.Background(), "scratch", func(tx *txn) error {
				if _, err := tx.exec(`INSERT INTO scratch (k) VALUES (?)`, k); err != nil {
					return err
				}
				switch i % 3 {
				case 1:
					return errors.New("refused after writing")
				case 2:
					if i%6 == 5 {
						panic("a bug in a write")
					}
					// A second row with the same key: the statement fails.
					_, err := tx.exec(`INSERT INTO scratch (k) VALUES (?)`, k)
					return err
				}
				return nil
			})
		}()
	}
	wg.Wait()
	if g := s.main.queue.grouped.Load(); g == 0 {
		t.Fatal("no writes ran in a group: the test did not test groups")
	} else {
		t.Logf("%d of %d writes ran in groups", g, n)
	}
	stored := map[string]bool{}
	rows, err := s.r.Query(`SELECT k FROM scratch`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		stored[k] = true
	}
	rows.Close()
	for i := range n {
		k := fmt.Sprintf("k%03d", i)
		switch {
		case i%3 == 0 && (errs[i] != nil || !stored[k]):
			t.Errorf("write %d: %v, stored %v; want done and stored", i, errs[i], stored[k])
		case i%3 != 0 && (errs[i] == nil || stored[k]):
			t.Errorf("write %d: %v, stored %v; want an error and nothing stored", i, errs[i], stored[k])
		}
	}
	if len(stored) != n/3 {
		t.Errorf("%d rows stored, want %d", len(stored), n/3)
	}
}
