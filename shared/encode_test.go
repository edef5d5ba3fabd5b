package shared

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"reflect"
	"testing"
	"unsafe"
)

// fill sets every integer of v, however deeply nested, at random.
func fill(r *rand.Rand, v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			fill(r, v.Field(i))
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			fill(r, v.Index(i))
		}
	case reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(r.Uint64())
	case reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(r.Uint64()))
	default:
		panic("unexpected kind " + v.Kind().String())
	}
}

func checkEncode[T CreateConfig | DeviceTable | Request | CreateResult](t *testing.T, r *rand.Rand) {
	var v T
	name := reflect.TypeOf(v).Name()
	// Padding at the end (to the struct's alignment, which C has too) is
	// harmless; padding between fields would misplace every later one,
	// which the comparison below catches.
	if n := binary.Size(&v); n > int(unsafe.Sizeof(v)) || int(unsafe.Sizeof(v))-n >= 8 {
		t.Fatalf("%s: binary.Size %d, in memory %d", name, n, unsafe.Sizeof(v))
	}
	for i := 0; i < 20; i++ {
		fill(r, reflect.ValueOf(&v).Elem())
		var want bytes.Buffer
		if err := binary.Write(&want, binary.LittleEndian, &v); err != nil {
			t.Fatal(err)
		}
		got := Encode(&v)
		if len(got) != int(unsafe.Sizeof(v)) || !bytes.Equal(got[:want.Len()], want.Bytes()) {
			t.Fatalf("%s: Encode differs from binary.Write", name)
		}
	}
}

// TestEncode checks Encode against binary.Write for random values of
// every struct the host writes into guest memory.
func TestEncode(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	checkEncode[CreateConfig](t, r)
	checkEncode[DeviceTable](t, r)
	checkEncode[Request](t, r)
	checkEncode[CreateResult](t, r)
}
