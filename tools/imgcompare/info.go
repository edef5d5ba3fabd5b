package imgcompare

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Info returns `qemu-img info --output=json` of path flattened to dotted
// paths ("format-specific.data.compat") mapped to JSON-encoded values,
// with actual-size replaced by the allocation sizes() reports.
// Strings that start with the image's own directory have it replaced by
// "<dir>", so that images in sibling directories with the same relative
// backing name compare equal in full-backing-filename and extent names.
func Info(path, format string) (map[string]string, error) { return info(path, format, "") }

func info(path, format, dataFile string) (map[string]string, error) {
	out, code, stderr, err := run(append([]string{"info", "--output=json"}, target(path, format, dataFile, false)...)...)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		return nil, fmt.Errorf("qemu-img info %s: exit code %d: %s", path, code, stderr)
	}
	var v any
	if err := json.Unmarshal(out, &v); err != nil {
		return nil, fmt.Errorf("qemu-img info %s: %w", path, err)
	}
	flat := map[string]string{}
	flatten("", v, filepath.Dir(path)+string(filepath.Separator), flat)
	// actual-size is st_blocks*512, which counts file-system metadata;
	// report the allocation CompareSizes uses instead.
	if _, ok := flat["actual-size"]; ok {
		if _, n, err := sizes(path); err == nil {
			flat["actual-size"] = strconv.FormatInt(n, 10)
		}
	}
	return flat, nil
}

func flatten(prefix string, v any, dir string, out map[string]string) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flatten(join(k), e, dir, out)
		}
	case []any:
		for i, e := range x {
			flatten(join(strconv.Itoa(i)), e, dir, out)
		}
		if len(x) == 0 {
			out[prefix] = "[]"
		}
	case string:
		if strings.HasPrefix(x, dir) {
			x = "<dir>/" + x[len(dir):]
		}
		b, _ := json.Marshal(x)
		out[prefix] = string(b)
	default:
		b, _ := json.Marshal(x)
		out[prefix] = string(b)
	}
}

// ignored reports whether path is one of ign or lies below one.
func ignored(path string, ign []string) bool {
	for _, p := range ign {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

// CompareInfo compares the two images' qemu-img info, apart from
// "filename" and opt.InfoIgnore, and lists every differing path.
func CompareInfo(ours, theirs string, opt Options) error {
	a, err := info(ours, opt.Format, opt.DataFiles[0])
	if err != nil {
		return err
	}
	b, err := info(theirs, opt.Format, opt.DataFiles[1])
	if err != nil {
		return err
	}
	ign := append([]string{"filename"}, opt.InfoIgnore...)
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var diffs []string
	for k := range keys {
		if ignored(k, ign) {
			continue
		}
		va, oka := a[k]
		vb, okb := b[k]
		switch {
		case !oka:
			va = "(absent)"
		case !okb:
			vb = "(absent)"
		}
		if va != vb || oka != okb {
			diffs = append(diffs, fmt.Sprintf("%s: ours %s, theirs %s", k, va, vb))
		}
	}
	if len(diffs) == 0 {
		return nil
	}
	sort.Strings(diffs)
	return fmt.Errorf("qemu-img info differs:\n  %s", strings.Join(diffs, "\n  "))
}
