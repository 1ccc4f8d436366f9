package main

import (
	"fmt"
	"math"
	"slices"
)

// Stat is a series of measurements of one quantity and its summary.
type Stat struct {
	Values []float64 `json:"values"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
}

// newStat summarizes values (at least one).
func newStat(values []float64) Stat {
	s := slices.Clone(values)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return Stat{Values: values, Median: med, Min: s[0], Max: s[n-1]}
}

// String is "median (min–max, n=N)", or the value alone for one value.
func (s Stat) String() string {
	if len(s.Values) == 1 {
		return num(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s, n=%d)", num(s.Median), num(s.Min), num(s.Max), len(s.Values))
}

// num prints a value with three significant digits, whole from 100 on.
func num(v float64) string {
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.3g", v)
}
