package procstat

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func TestProcParsers(t *testing.T) {
	ct, err := ReadCPUTimes("testdata")
	if err != nil || ct.Total != 10000 || ct.Steal != 400 {
		t.Errorf("ReadCPUTimes = %+v, %v; want total 10000 steal 400", ct, err)
	}
	l, err := ReadLoadAvg("testdata")
	if err != nil || l != [3]float64{0.5, 1.25, 2} {
		t.Errorf("ReadLoadAvg = %v, %v", l, err)
	}
	total, free, err := ReadMemInfo("testdata")
	if err != nil || total != 4000000*1024 || free != 1500000*1024 {
		t.Errorf("ReadMemInfo = %d, %d, %v", total, free, err)
	}
}

func TestStealSampler(t *testing.T) {
	dir := t.TempDir()
	write := func(steal, total int) {
		line := "cpu  " + itoa(total-steal) + " 0 0 0 0 0 0 " + itoa(steal) + " 0 0\n"
		if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(100, 1000)
	s := NewStealSampler(dir)
	write(150, 1200) // 50 of 200 ticks stolen
	s.Sample()
	if p, iv := s.Last(); p != 25 || iv <= 0 {
		t.Errorf("steal = %v%% over %v, want 25%%", p, iv)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
