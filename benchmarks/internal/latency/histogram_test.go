package latency

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	// Every value must land in a bucket whose upper bound is ≥ the value and
	// whose predecessor's upper bound is < the value.
	values := []time.Duration{0, 1, 31, 32, 33, 63, 64, 65, 1000, time.Microsecond * 150,
		time.Millisecond, time.Second, MaxValue - 1}
	for _, v := range values {
		i := bucketOf(v)
		if ub := upperBound(i); ub < v {
			t.Errorf("bucketOf(%d)=%d upper bound %d < value", v, i, ub)
		}
		if i > 0 && upperBound(i-1) >= v {
			t.Errorf("bucketOf(%d)=%d but bucket %d already covers it", v, i, i-1)
		}
	}
	if got := bucketOf(MaxValue * 4); got != numBuckets-1 {
		t.Errorf("oversized value in bucket %d, want last (%d)", got, numBuckets-1)
	}
}

func TestQuantile(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"single", []time.Duration{7}, 0.99, 7},
		{"exact small values", []time.Duration{1, 2, 3, 4}, 0.5, 2},
		{"p100 is max", []time.Duration{1, 2, 3, 1000}, 1, 1000},
		{"capped at max", []time.Duration{100 * time.Microsecond}, 0.5, 100 * time.Microsecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, v := range tt.values {
				h.Record(v)
			}
			if got := h.Quantile(tt.q); got != tt.want {
				t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
			}
		})
	}
}

func TestQuantileRelativeError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	vals := make([]time.Duration, 20000)
	for i := range vals {
		// 50 µs .. ~50 ms, log-uniform-ish.
		vals[i] = time.Duration(50_000 * (1 + r.ExpFloat64()*100))
		h.Record(vals[i])
	}
	slices.Sort(vals)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if got < exact || float64(got) > float64(exact)*(1+1.0/subCount) {
			t.Errorf("q=%v: got %v, exact %v (allowed +%.1f%%)", q, got, exact, 100.0/subCount)
		}
	}
}

func TestMerge(t *testing.T) {
	var a, b Histogram
	for i := 1; i <= 50; i++ {
		a.Record(time.Duration(i) * time.Microsecond)
		b.Record(time.Duration(i+50) * time.Microsecond)
	}
	a.Merge(&b)
	if a.Count() != 100 {
		t.Fatalf("Count = %d, want 100", a.Count())
	}
	if a.Max() != 100*time.Microsecond {
		t.Errorf("Max = %v, want 100µs", a.Max())
	}
	p50 := a.Quantile(0.5)
	if p50 < 50*time.Microsecond || p50 > 52*time.Microsecond {
		t.Errorf("p50 = %v, want ~50µs", p50)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Record(123 * time.Microsecond) }); n != 0 {
		t.Errorf("Record allocates %v times per call", n)
	}
}
