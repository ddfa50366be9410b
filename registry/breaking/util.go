package breaking

import (
	"strconv"
	"strings"
)

// packageStability parses the version component of a package, the last
// one, like buf: "v1" is stable; "v1alpha1", "v1beta", "v2p1beta1" and
// "v1test" are not. ok is false when the last component is no version.
func packageStability(pkg string) (stable bool, ok bool) {
	parts := strings.Split(pkg, ".")
	if pkg == "" || len(parts) < 2 {
		return false, false
	}
	c := parts[len(parts)-1]
	if len(c) < 2 || c[0] != 'v' {
		return false, false
	}
	v := c[1:]
	if strings.Contains(v, "test") {
		major, _, found := strings.Cut(v, "test")
		if !found || !isNumber(major, 1) {
			return false, false
		}
		return false, true
	}
	alpha, beta := strings.Contains(v, "alpha"), strings.Contains(v, "beta")
	switch {
	case !alpha && !beta:
		return true, isNumber(v, 1)
	case alpha && beta:
		return false, false
	}
	level := "alpha"
	if beta {
		level = "beta"
	}
	head, minor, _ := strings.Cut(v, level)
	if minor != "" && !isNumber(minor, 1) {
		return false, false
	}
	if major, patch, hasPatch := strings.Cut(head, "p"); hasPatch {
		if !isNumber(major, 1) || !isNumber(patch, 1) {
			return false, false
		}
	} else if !isNumber(head, 1) {
		return false, false
	}
	return false, true
}

func isNumber(s string, minimum int64) bool {
	if s == "" {
		return false
	}
	n, err := strconv.ParseInt(s, 10, 32)
	return err == nil && n >= minimum
}
