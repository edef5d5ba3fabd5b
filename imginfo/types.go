// Package imginfo prints what qemu-img info reports about an image, byte for
// byte as qemu-img 7.2 prints it, in its human and its JSON form. It formats
// data it is given (in instar, what the guest parsed); it never reads an
// image.
//
// The types mirror qemu 7.2's QAPI types (qapi/block-core.json). A QAPI
// optional member is a pointer here (nil: absent), an optional list a slice
// (nil: absent; an empty non-nil slice is present and empty). The json tags
// are qemu's member names, so that qemu-img's own JSON decodes into them
// (with encoding/json); to print, use JSON, JSONChain, Human and HumanChain,
// never encoding/json, whose member order is not qemu's.
package imginfo

import (
	"encoding/json"
	"fmt"
)

// ImageInfo is qemu's ImageInfo: one image as qemu-img info reports it.
type ImageInfo struct {
	// Filename is the image's name as opened (a vmdk extent's: as qemu
	// names the extent file).
	Filename string `json:"filename"`
	// Format is the format driver's name ("qcow2"), or for a vmdk extent
	// its type ("SPARSE", "FLAT", "VMFS", ...).
	Format string `json:"format"`
	// DirtyFlag tells whether the image was not cleanly shut down.
	DirtyFlag *bool `json:"dirty-flag"`
	// ActualSize is the space the file takes on disk, in bytes.
	ActualSize *int64 `json:"actual-size"`
	// VirtualSize is the disk's size as the guest sees it, in bytes.
	VirtualSize int64 `json:"virtual-size"`
	// ClusterSize is the format's allocation unit, in bytes.
	ClusterSize *int64 `json:"cluster-size"`
	// Encrypted tells whether the image's data is encrypted.
	Encrypted *bool `json:"encrypted"`
	// Compressed tells whether a vmdk extent is compressed.
	Compressed *bool `json:"compressed"`
	// BackingFilename is the backing file's name as stored in the image.
	BackingFilename *string `json:"backing-filename"`
	// FullBackingFilename is the backing file's name resolved against the
	// image's own name.
	FullBackingFilename *string `json:"full-backing-filename"`
	// BackingFilenameFormat is the backing file's format as stored.
	BackingFilenameFormat *string `json:"backing-filename-format"`
	// Snapshots are the internal snapshots; qemu-img leaves the member
	// out when there are none.
	Snapshots []SnapshotInfo `json:"snapshots"`
	// BackingImage is the backing image's information (query-block fills
	// it; qemu-img info never does).
	BackingImage *ImageInfo `json:"backing-image"`
	// FormatSpecific is the format's own information.
	FormatSpecific ImageInfoSpecific `json:"-"`
}

// SnapshotInfo is qemu's SnapshotInfo: one internal snapshot. qemu reports
// the ID cut to 127 bytes and the name to 255 (its QEMUSnapshotInfo's
// buffers).
type SnapshotInfo struct {
	// ID is the snapshot's unique ID.
	ID string `json:"id"`
	// Name is the snapshot's name (its tag).
	Name string `json:"name"`
	// VMStateSize is the size of the saved VM state, in bytes.
	VMStateSize int64 `json:"vm-state-size"`
	// DateSec is when the snapshot was taken, in seconds since the epoch.
	DateSec int64 `json:"date-sec"`
	// DateNsec is the fraction of DateSec's second, in nanoseconds.
	DateNsec int64 `json:"date-nsec"`
	// VMClockSec is the guest's clock at the snapshot, in seconds.
	VMClockSec int64 `json:"vm-clock-sec"`
	// VMClockNsec is the fraction of VMClockSec's second, in nanoseconds.
	VMClockNsec int64 `json:"vm-clock-nsec"`
	// ICount is the record/replay instruction count, when recorded.
	ICount *int64 `json:"icount"`
}

// ImageInfoSpecific is qemu's ImageInfoSpecific union: exactly one of
// *ImageInfoSpecificQCow2, *ImageInfoSpecificVMDK, *QCryptoBlockInfoLUKS or
// *ImageInfoSpecificRBD (qemu 7.2 has no other branch; vpc, vhdx, raw and
// the rest report none). A nil ImageInfoSpecific, or a nil pointer in
// one, is an absent member.
type ImageInfoSpecific interface {
	// specificType is the union's discriminator value.
	specificType() string
}

// ImageInfoSpecificQCow2 is qemu's ImageInfoSpecificQCow2.
type ImageInfoSpecificQCow2 struct {
	// Compat is the version: "0.10" or "1.1".
	Compat string `json:"compat"`
	// DataFile is the external data file's name as stored.
	DataFile *string `json:"data-file"`
	// DataFileRaw tells whether the data file is valid as a raw image.
	DataFileRaw *bool `json:"data-file-raw"`
	// ExtendedL2 tells whether L2 entries have subclusters.
	ExtendedL2 *bool `json:"extended-l2"`
	// LazyRefcounts tells whether refcount updates may be postponed.
	LazyRefcounts *bool `json:"lazy-refcounts"`
	// Corrupt tells whether the image is marked corrupt.
	Corrupt *bool `json:"corrupt"`
	// RefcountBits is the width of a refcount entry.
	RefcountBits int64 `json:"refcount-bits"`
	// Encrypt describes the encryption.
	Encrypt *QCow2Encryption `json:"encrypt"`
	// Bitmaps are the persistent dirty bitmaps; qemu leaves the member
	// out when there are none.
	Bitmaps []QCow2BitmapInfo `json:"bitmaps"`
	// CompressionType is "zlib" or "zstd".
	CompressionType string `json:"compression-type"`
}

func (*ImageInfoSpecificQCow2) specificType() string { return "qcow2" }

// QCow2Encryption is qemu's ImageInfoSpecificQCow2Encryption union, on its
// discriminator Format ("aes" or "luks"); LUKS is set with "luks".
type QCow2Encryption struct {
	// Format is the encryption format.
	Format string `json:"format"`
	// LUKS is the LUKS header's information, with Format "luks".
	LUKS *QCryptoBlockInfoLUKS `json:"-"`
}

// QCow2BitmapInfo is qemu's Qcow2BitmapInfo: one persistent dirty bitmap.
type QCow2BitmapInfo struct {
	// Name is the bitmap's name.
	Name string `json:"name"`
	// Granularity is the bytes one bit covers.
	Granularity uint32 `json:"granularity"`
	// Flags are "in-use" and "auto", as set.
	Flags []string `json:"flags"`
}

// ImageInfoSpecificVMDK is qemu's ImageInfoSpecificVmdk.
type ImageInfoSpecificVMDK struct {
	// CreateType is the descriptor's createType.
	CreateType string `json:"create-type"`
	// CID is the content ID.
	CID int64 `json:"cid"`
	// ParentCID is the parent's content ID.
	ParentCID int64 `json:"parent-cid"`
	// Extents are the extents, each with its own filename, format
	// (extent type), virtual size and, when sparse, cluster size.
	Extents []ImageInfo `json:"extents"`
}

func (*ImageInfoSpecificVMDK) specificType() string { return "vmdk" }

// QCryptoBlockInfoLUKS is qemu's QCryptoBlockInfoLUKS: a LUKS header.
type QCryptoBlockInfoLUKS struct {
	// CipherAlg is the cipher ("aes-256").
	CipherAlg string `json:"cipher-alg"`
	// CipherMode is the cipher mode ("xts").
	CipherMode string `json:"cipher-mode"`
	// IVGenAlg is the IV generator ("plain64").
	IVGenAlg string `json:"ivgen-alg"`
	// IVGenHashAlg is the IV generator's hash, when it takes one.
	IVGenHashAlg *string `json:"ivgen-hash-alg"`
	// HashAlg is the header's hash ("sha256").
	HashAlg string `json:"hash-alg"`
	// PayloadOffset is where the encrypted data starts, in bytes.
	PayloadOffset int64 `json:"payload-offset"`
	// MasterKeyIters is the master key's PBKDF iteration count.
	MasterKeyIters int64 `json:"master-key-iters"`
	// UUID is the header's UUID.
	UUID string `json:"uuid"`
	// Slots are the key slots.
	Slots []QCryptoBlockInfoLUKSSlot `json:"slots"`
}

func (*QCryptoBlockInfoLUKS) specificType() string { return "luks" }

// QCryptoBlockInfoLUKSSlot is qemu's QCryptoBlockInfoLUKSSlot: one key slot.
type QCryptoBlockInfoLUKSSlot struct {
	// Active tells whether the slot holds a key.
	Active bool `json:"active"`
	// Iters is the slot's PBKDF iteration count (active slots).
	Iters *int64 `json:"iters"`
	// Stripes is the slot's anti-forensic stripe count (active slots).
	Stripes *int64 `json:"stripes"`
	// KeyOffset is where the slot's key material starts, in bytes.
	KeyOffset int64 `json:"key-offset"`
}

// ImageInfoSpecificRBD is qemu's ImageInfoSpecificRbd.
type ImageInfoSpecificRBD struct {
	// EncryptionFormat is the image's encryption format, if any.
	EncryptionFormat *string `json:"encryption-format"`
}

func (*ImageInfoSpecificRBD) specificType() string { return "rbd" }

// UnmarshalJSON decodes qemu-img's JSON for one image, the format-specific
// union included.
func (i *ImageInfo) UnmarshalJSON(b []byte) error {
	type plain ImageInfo
	aux := struct {
		*plain
		FormatSpecific *struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		} `json:"format-specific"`
	}{plain: (*plain)(i)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	i.FormatSpecific = nil
	if aux.FormatSpecific == nil {
		return nil
	}
	var spec ImageInfoSpecific
	switch t := aux.FormatSpecific.Type; t {
	case "qcow2":
		spec = &ImageInfoSpecificQCow2{}
	case "vmdk":
		spec = &ImageInfoSpecificVMDK{}
	case "luks":
		spec = &QCryptoBlockInfoLUKS{}
	case "rbd":
		spec = &ImageInfoSpecificRBD{}
	default:
		return fmt.Errorf("format-specific: unknown type %q", t)
	}
	if err := json.Unmarshal(aux.FormatSpecific.Data, spec); err != nil {
		return fmt.Errorf("format-specific %s: %w", aux.FormatSpecific.Type, err)
	}
	i.FormatSpecific = spec
	return nil
}

// UnmarshalJSON decodes qemu's JSON for qcow2 encryption, whose LUKS
// members sit beside the discriminator.
func (e *QCow2Encryption) UnmarshalJSON(b []byte) error {
	var head struct {
		Format string `json:"format"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return err
	}
	e.Format, e.LUKS = head.Format, nil
	if head.Format == "luks" {
		e.LUKS = &QCryptoBlockInfoLUKS{}
		if err := json.Unmarshal(b, e.LUKS); err != nil {
			return fmt.Errorf("encrypt luks: %w", err)
		}
	}
	return nil
}
