// Package cheader generates the guest's C header from the Go package that
// defines the host/guest contract (instar/shared), so both sides share one
// source of truth.
//
// It reads the package's source with go/types, so constant values, field
// order and array lengths come from the compiler's own view of the code.
// Every struct must have a size and layout that C reproduces: fields are
// fixed-width integers, arrays of them, or other such structs, and the
// generated header asserts each size and offset with _Static_assert.
package cheader

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"unicode"

	"instar/shared"
	"instar/shared/formats"
)

// Field is one struct field as laid out for amd64.
type Field struct {
	GoName string
	CName  string
	Offset int64
	Size   int64
	// CDecl is the C declaration, e.g. "uint8_t backing_file[1024]".
	CDecl string
}

// Struct is one struct type of the package.
type Struct struct {
	GoName string
	CName  string
	Size   int64
	Doc    string
	Fields []Field
}

// Const is one integer constant of the package.
type Const struct {
	GoName string
	CName  string
	Value  constant.Value
	Doc    string
}

// Package is what the generator knows about the shared package.
type Package struct {
	Consts  []Const
	Structs []Struct
}

var sizes = types.SizesFor("gc", "amd64")

// Load parses the Go package in dir and collects its exported integer
// constants and struct types, in source order.
func Load(dir string) (*Package, error) {
	fset := token.NewFileSet()
	matches, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", dir, err)
	}
	var files []*ast.File
	for _, m := range matches {
		if strings.HasSuffix(m, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, m, nil, parser.ParseComments)
		if err != nil {
			return nil, fmt.Errorf("parse %s: %w", m, err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no Go files in %s", dir)
	}
	sort.Slice(files, func(i, j int) bool {
		return fset.File(files[i].Pos()).Name() < fset.File(files[j].Pos()).Name()
	})
	conf := types.Config{Importer: importer.Default(), Sizes: sizes}
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
	if _, err := conf.Check(files[0].Name.Name, fset, files, info); err != nil {
		return nil, fmt.Errorf("type-check %s: %w", dir, err)
	}

	p := &Package{}
	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				switch s := spec.(type) {
				case *ast.ValueSpec:
					if gd.Tok != token.CONST {
						continue
					}
					for _, name := range s.Names {
						c, ok := info.Defs[name].(*types.Const)
						if !ok || !c.Exported() || c.Val().Kind() != constant.Int {
							continue
						}
						p.Consts = append(p.Consts, Const{
							GoName: c.Name(), CName: Upper(c.Name()), Value: c.Val(),
							Doc: docOf(s.Doc, s.Comment, gd),
						})
					}
				case *ast.TypeSpec:
					tn, ok := info.Defs[s.Name].(*types.TypeName)
					if !ok || !tn.Exported() {
						continue
					}
					st, ok := tn.Type().Underlying().(*types.Struct)
					if !ok || hasDirective(s.Doc, gd) {
						continue
					}
					sd, err := structOf(tn.Name(), st, s.Type.(*ast.StructType))
					if err != nil {
						return nil, err
					}
					sd.Doc = docOf(s.Doc, nil, gd)
					p.Structs = append(p.Structs, sd)
				}
			}
		}
	}
	return p, nil
}

// omitDirective marks a Go-only struct that has no C counterpart.
const omitDirective = "//cheader:omit"

func hasDirective(doc *ast.CommentGroup, gd *ast.GenDecl) bool {
	if doc == nil && gd.Lparen == 0 {
		doc = gd.Doc
	}
	if doc == nil {
		return false
	}
	for _, c := range doc.List {
		if strings.TrimSpace(c.Text) == omitDirective {
			return true
		}
	}
	return false
}

func docOf(doc, comment *ast.CommentGroup, gd *ast.GenDecl) string {
	switch {
	case doc != nil:
		return strings.TrimSpace(doc.Text())
	case comment != nil:
		return strings.TrimSpace(comment.Text())
	case gd.Lparen == 0 && gd.Doc != nil:
		return strings.TrimSpace(gd.Doc.Text())
	}
	return ""
}

func structOf(name string, st *types.Struct, syntax *ast.StructType) (Struct, error) {
	vars := make([]*types.Var, st.NumFields())
	for i := range vars {
		vars[i] = st.Field(i)
	}
	offsets := sizes.Offsetsof(vars)
	// Array lengths written as a named constant keep that name in C.
	lenNames := map[string]string{}
	for _, f := range syntax.Fields.List {
		if at, ok := f.Type.(*ast.ArrayType); ok {
			if id, ok := at.Len.(*ast.Ident); ok {
				for _, n := range f.Names {
					lenNames[n.Name] = Upper(id.Name)
				}
			}
		}
	}
	sd := Struct{GoName: name, CName: Snake(name), Size: sizes.Sizeof(st)}
	for i, v := range vars {
		decl, err := cDecl(Snake(v.Name()), v.Type(), lenNames[v.Name()])
		if err != nil {
			return Struct{}, fmt.Errorf("%s.%s: %w", name, v.Name(), err)
		}
		sd.Fields = append(sd.Fields, Field{
			GoName: v.Name(), CName: Snake(v.Name()),
			Offset: offsets[i], Size: sizes.Sizeof(v.Type()), CDecl: decl,
		})
	}
	return sd, nil
}

func cDecl(name string, t types.Type, lenName string) (string, error) {
	switch tt := t.(type) {
	case *types.Basic:
		ct, ok := map[types.BasicKind]string{
			types.Uint8: "uint8_t", types.Uint16: "uint16_t", types.Uint32: "uint32_t", types.Uint64: "uint64_t",
			types.Int8: "int8_t", types.Int16: "int16_t", types.Int32: "int32_t", types.Int64: "int64_t",
		}[tt.Kind()]
		if !ok {
			return "", fmt.Errorf("type %s has no fixed-width C equivalent", tt)
		}
		return ct + " " + name, nil
	case *types.Array:
		n := fmt.Sprint(tt.Len())
		if lenName != "" {
			n = lenName
		}
		inner, err := cDecl(name, tt.Elem(), "")
		if err != nil {
			return "", err
		}
		return inner + "[" + n + "]", nil
	case *types.Named:
		if _, ok := tt.Underlying().(*types.Struct); ok {
			return "struct " + Snake(tt.Obj().Name()) + " " + name, nil
		}
		return cDecl(name, tt.Underlying(), lenName)
	}
	return "", fmt.Errorf("type %s is not allowed in shared structs", t)
}

// Snake turns a Go name into C's lower_snake_case: CreateConfig ->
// create_config, VmdkHwversion -> vmdk_hwversion, Qcow2ClusterSize ->
// qcow2_cluster_size.
func Snake(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		if unicode.IsUpper(c) {
			prevLower := i > 0 && (unicode.IsLower(r[i-1]) || unicode.IsDigit(r[i-1]))
			nextLower := i > 0 && i+1 < len(r) && unicode.IsLower(r[i+1]) && unicode.IsUpper(r[i-1])
			if prevLower || nextLower {
				b.WriteByte('_')
			}
			b.WriteRune(unicode.ToLower(c))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

// Upper turns a Go name into C's UPPER_SNAKE_CASE.
func Upper(s string) string { return strings.ToUpper(Snake(s)) }

func cLiteral(v constant.Value) string {
	if i, ok := constant.Int64Val(v); ok {
		switch {
		case i < 0:
			return fmt.Sprintf("(%d)", i)
		case i > 0xFFFFFFFF:
			return fmt.Sprintf("0x%XULL", i)
		case i > 0x7FFFFFFF:
			return fmt.Sprintf("0x%XU", i)
		case i >= 0x1000:
			return fmt.Sprintf("0x%X", i)
		default:
			return fmt.Sprint(i)
		}
	}
	u, _ := constant.Uint64Val(v)
	return fmt.Sprintf("0x%XULL", u)
}

// Header renders the C header for the package.
func (p *Package) Header(source string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "/* Code generated by tools/cheader from %s; DO NOT EDIT. */\n\n", source)
	b.WriteString("#ifndef INSTAR_SHARED_H\n#define INSTAR_SHARED_H\n\n#include <stddef.h>\n#include <stdint.h>\n\n")
	for _, c := range p.Consts {
		comment(&b, c.Doc, "")
		fmt.Fprintf(&b, "#define %s %s\n", c.CName, cLiteral(c.Value))
	}
	for _, s := range p.Structs {
		b.WriteString("\n")
		comment(&b, s.Doc, "")
		fmt.Fprintf(&b, "struct %s {\n", s.CName)
		for _, f := range s.Fields {
			fmt.Fprintf(&b, "\t%s;\n", f.CDecl)
		}
		b.WriteString("};\n")
		fmt.Fprintf(&b, "_Static_assert(sizeof(struct %s) == %d, \"struct %s size\");\n", s.CName, s.Size, s.CName)
		for _, f := range s.Fields {
			fmt.Fprintf(&b, "_Static_assert(offsetof(struct %s, %s) == %d, \"%s.%s offset\");\n",
				s.CName, f.CName, f.Offset, s.CName, f.CName)
		}
	}
	formatTable(&b)
	inspectNames(&b)
	b.WriteString("\n#endif /* INSTAR_SHARED_H */\n")
	return b.Bytes()
}

// inspectNames renders the name of every INSPECT_FMT_* value.
func inspectNames(b *bytes.Buffer) {
	b.WriteString("\n/* The name of an INSPECT_FMT_* value, or \"\" for none. */\n")
	b.WriteString("static inline const char *inspect_format_name(uint32_t format)\n{\n\tswitch (format) {\n")
	for n, name := range shared.InspectFormatNames {
		fmt.Fprintf(b, "\tcase %d:\n\t\treturn \"%s\";\n", n, name)
	}
	b.WriteString("\t}\n\treturn \"\";\n}\n")
}

// formatTable renders the format table's part the guest needs: each format's
// name, each configured option's default, and the word each value of a
// word option stands for.
func formatTable(b *bytes.Buffer) {
	b.WriteString("\n/* The qemu-img name of a FORMAT_* value, or NULL. */\n")
	b.WriteString("static inline const char *format_name(uint32_t format)\n{\n\tswitch (format) {\n")
	for _, f := range formats.All {
		fmt.Fprintf(b, "\tcase %d:\n\t\treturn \"%s\";\n", f.Number, f.Name)
	}
	b.WriteString("\t}\n\treturn 0;\n}\n")
	b.WriteString("\n/* X(name) for every format: the guest's list of format drivers. */\n#define FORMAT_DRIVERS(X)")
	for _, f := range formats.All {
		fmt.Fprintf(b, " X(%s)", f.Name)
	}
	b.WriteString("\n")
	for _, f := range formats.All {
		for _, o := range f.Options {
			if o.Field == "" {
				continue
			}
			prefix := strings.ToUpper(f.Name + "_" + o.Name)
			v, err := o.Value(o.Default)
			if err != nil {
				panic(fmt.Sprintf("format table: %s %s: default %q: %v", f.Name, o.Name, o.Default, err))
			}
			fmt.Fprintf(b, "\n/* %s %s when not set. */\n#define %s_DEFAULT %s\n", f.Name, o.Name, prefix, cLiteral(constant.MakeUint64(v)))
			if len(o.Words) < 2 {
				continue
			}
			fmt.Fprintf(b, "/* The word for a %s %s value, or NULL. */\n", f.Name, o.Name)
			fmt.Fprintf(b, "static inline const char *%s_word(uint32_t value)\n{\n\tswitch (value) {\n", strings.ToLower(prefix))
			seen := map[uint32]bool{}
			for _, w := range o.Words {
				if !seen[w.Value] {
					seen[w.Value] = true
					fmt.Fprintf(b, "\tcase %d:\n\t\treturn \"%s\";\n", w.Value, w.Name)
				}
			}
			b.WriteString("\t}\n\treturn 0;\n}\n")
		}
	}
}

func comment(b *bytes.Buffer, doc, indent string) {
	if doc == "" {
		return
	}
	lines := strings.Split(doc, "\n")
	if len(lines) == 1 {
		fmt.Fprintf(b, "%s/* %s */\n", indent, strings.ReplaceAll(lines[0], "*/", "* /"))
		return
	}
	fmt.Fprintf(b, "%s/*\n", indent)
	for _, l := range lines {
		fmt.Fprintf(b, "%s * %s\n", indent, strings.ReplaceAll(l, "*/", "* /"))
	}
	fmt.Fprintf(b, "%s */\n", indent)
}

// Generate writes the header for the package in srcDir to out, and reports
// whether the file changed.
func Generate(srcDir, out string) (bool, error) {
	p, err := Load(srcDir)
	if err != nil {
		return false, err
	}
	data := p.Header("package " + filepath.Base(srcDir))
	old, err := os.ReadFile(out)
	if err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", filepath.Dir(out), err)
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		return false, fmt.Errorf("write %s: %w", out, err)
	}
	return true, nil
}

// Stale reports whether out differs from what Generate would write.
func Stale(srcDir, out string) (bool, error) {
	p, err := Load(srcDir)
	if err != nil {
		return false, err
	}
	old, err := os.ReadFile(out)
	if err != nil {
		return true, nil
	}
	return !bytes.Equal(old, p.Header("package "+filepath.Base(srcDir))), nil
}
