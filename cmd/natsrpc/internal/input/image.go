package input

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"
)

// bufExtensionField is the field number of buf.alpha.image.v1.ImageFile's
// buf_extension, which marks imports in a buf image.
const bufExtensionField = 8042

// maxImageSize bounds the image files read into memory.
const maxImageSize = 1 << 30

func loadImage(ref Ref, opts Options) (*Input, error) {
	p := ref.Path
	if !filepath.IsAbs(p) {
		p = filepath.Join(opts.WorkDir, p)
	}
	info, err := os.Stat(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("image %q does not exist", ref.Raw)
		}
		return nil, fmt.Errorf("image %q: %w", ref.Raw, err)
	}
	if info.IsDir() {
		return nil, fmt.Errorf("image %q is a directory; drop the image extension or add #format=dir", ref.Raw)
	}
	if info.Size() > maxImageSize {
		return nil, fmt.Errorf("image %q is larger than 1 GiB", ref.Raw)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref.Raw, err)
	}
	files, err := DecodeImage(data, ref.Format)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref.Raw, err)
	}
	if len(opts.Paths) > 0 || len(opts.ExcludePaths) > 0 {
		if files, err = filterImageFiles(files, opts.Paths, opts.ExcludePaths); err != nil {
			return nil, fmt.Errorf("image %q: %w", ref.Raw, err)
		}
	}
	return &Input{Ref: ref, Modules: []*Module{{Dir: ".", Files: files}}, opts: opts}, nil
}

// DecodeImage decodes a FileDescriptorSet or buf image in the given format
// (binpb, json or txtpb) and checks that it is self-contained: every file
// has a unique name and every import is present, so that the files link.
// Files carrying buf's image extension with is_import set are returned with
// Import set. The result is sorted by path, targets first.
func DecodeImage(data []byte, format Format) ([]*File, error) {
	set := &descriptorpb.FileDescriptorSet{}
	switch format {
	case FormatBinpb:
		if err := (proto.UnmarshalOptions{DiscardUnknown: false}).Unmarshal(data, set); err != nil {
			return nil, fmt.Errorf("not a binary FileDescriptorSet or buf image: %w", err)
		}
	case FormatJSON, FormatTxtpb:
		msg, err := newImageMessage()
		if err != nil {
			return nil, err
		}
		if format == FormatJSON {
			err = protojson.UnmarshalOptions{}.Unmarshal(data, msg)
		} else {
			err = prototext.UnmarshalOptions{}.Unmarshal(data, msg)
		}
		if err != nil {
			return nil, fmt.Errorf("not a %s FileDescriptorSet or buf image: %w", format, err)
		}
		b, err := proto.Marshal(msg)
		if err != nil {
			return nil, fmt.Errorf("cannot re-encode the image: %w", err)
		}
		if err := proto.Unmarshal(b, set); err != nil {
			return nil, fmt.Errorf("cannot re-decode the image: %w", err)
		}
	default:
		return nil, fmt.Errorf("unsupported image format %q", format)
	}
	if len(set.GetFile()) == 0 {
		return nil, errNoFiles
	}
	var files []*File
	seen := map[string]bool{}
	for i, fdp := range set.GetFile() {
		name := fdp.GetName()
		if name == "" {
			return nil, fmt.Errorf("file #%d has no name", i+1)
		}
		// descriptor.proto is proto2, so decoding does not check UTF-8;
		// a name that is no text would reach messages and outputs.
		if !utf8.ValidString(name) {
			return nil, fmt.Errorf("file #%d has a name that is not valid UTF-8 (%q); file names are paths like \"a/b/c.proto\"", i+1, name)
		}
		if seen[name] {
			return nil, fmt.Errorf("file %q appears twice", name)
		}
		seen[name] = true
		imp, err := stripBufExtension(fdp)
		if err != nil {
			return nil, fmt.Errorf("file %q: %w", name, err)
		}
		files = append(files, &File{Path: name, ExternalPath: name, Import: imp, Proto: fdp})
	}
	if _, err := protodesc.NewFiles(set); err != nil {
		return nil, fmt.Errorf("the files do not link: %w", err)
	}
	slices.SortStableFunc(files, func(a, b *File) int {
		if a.Import != b.Import {
			if a.Import {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Path, b.Path)
	})
	return files, nil
}

// stripBufExtension removes buf's image extension from the unknown fields
// of fdp and reports whether it marked the file as an import.
func stripBufExtension(fdp *descriptorpb.FileDescriptorProto) (bool, error) {
	unknown := fdp.ProtoReflect().GetUnknown()
	if len(unknown) == 0 {
		return false, nil
	}
	var kept []byte
	isImport := false
	for b := unknown; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false, fmt.Errorf("malformed unknown fields: %w", protowire.ParseError(n))
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return false, fmt.Errorf("malformed unknown fields: %w", protowire.ParseError(m))
		}
		field := b[:n+m]
		if num == bufExtensionField && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b[n:])
			imp, err := parseImageFileExtension(v)
			if err != nil {
				return false, err
			}
			isImport = isImport || imp
		} else {
			kept = append(kept, field...)
		}
		b = b[n+m:]
	}
	fdp.ProtoReflect().SetUnknown(kept)
	return isImport, nil
}

func parseImageFileExtension(b []byte) (bool, error) {
	isImport := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false, fmt.Errorf("malformed buf_extension: %w", protowire.ParseError(n))
		}
		b = b[n:]
		if num == 1 && typ == protowire.VarintType {
			v, m := protowire.ConsumeVarint(b)
			if m < 0 {
				return false, fmt.Errorf("malformed buf_extension: %w", protowire.ParseError(m))
			}
			isImport = v != 0
			b = b[m:]
			continue
		}
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return false, fmt.Errorf("malformed buf_extension: %w", protowire.ParseError(m))
		}
		b = b[m:]
	}
	return isImport, nil
}

var (
	imageTypeOnce sync.Once
	imageType     protoreflect.MessageType
	imageTypeErr  error
)

// newImageMessage returns an empty buf.alpha.image.v1.Image, a
// FileDescriptorSet whose files may carry buf's extension, so that JSON and
// text images with "bufExtension" decode.
func newImageMessage() (*dynamicpb.Message, error) {
	imageTypeOnce.Do(func() {
		fileDesc := protodesc.ToDescriptorProto(
			(&descriptorpb.FileDescriptorProto{}).ProtoReflect().Descriptor())
		fileDesc.Name = proto.String("ImageFile")
		opt := descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		rep := descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		fileDesc.Field = append(fileDesc.Field, &descriptorpb.FieldDescriptorProto{
			Name:     proto.String("buf_extension"),
			JsonName: proto.String("bufExtension"),
			Number:   proto.Int32(bufExtensionField),
			Label:    &opt,
			Type:     descriptorpb.FieldDescriptorProto_TYPE_MESSAGE.Enum(),
			TypeName: proto.String(".buf.alpha.image.v1.ImageFileExtension"),
		})
		u32 := descriptorpb.FieldDescriptorProto_TYPE_UINT32
		str := descriptorpb.FieldDescriptorProto_TYPE_STRING
		boolean := descriptorpb.FieldDescriptorProto_TYPE_BOOL
		msg := descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
		field := func(name, json string, num int32, label descriptorpb.FieldDescriptorProto_Label, typ descriptorpb.FieldDescriptorProto_Type, typeName string) *descriptorpb.FieldDescriptorProto {
			f := &descriptorpb.FieldDescriptorProto{Name: proto.String(name), JsonName: proto.String(json), Number: proto.Int32(num), Label: label.Enum(), Type: typ.Enum()}
			if typeName != "" {
				f.TypeName = proto.String(typeName)
			}
			return f
		}
		fdp := &descriptorpb.FileDescriptorProto{
			Name:       proto.String("buf/alpha/image/v1/image.proto"),
			Package:    proto.String("buf.alpha.image.v1"),
			Dependency: []string{"google/protobuf/descriptor.proto"},
			Syntax:     proto.String("proto2"),
			MessageType: []*descriptorpb.DescriptorProto{
				{Name: proto.String("Image"), Field: []*descriptorpb.FieldDescriptorProto{
					field("file", "file", 1, rep, msg, ".buf.alpha.image.v1.ImageFile"),
				}},
				fileDesc,
				{Name: proto.String("ImageFileExtension"), Field: []*descriptorpb.FieldDescriptorProto{
					field("is_import", "isImport", 1, opt, boolean, ""),
					field("module_info", "moduleInfo", 2, opt, msg, ".buf.alpha.image.v1.ModuleInfo"),
					field("is_syntax_unspecified", "isSyntaxUnspecified", 3, opt, boolean, ""),
					field("unused_dependency", "unusedDependency", 4, rep, u32, ""),
				}},
				{Name: proto.String("ModuleInfo"), Field: []*descriptorpb.FieldDescriptorProto{
					field("name", "name", 1, opt, msg, ".buf.alpha.image.v1.ModuleName"),
					field("commit", "commit", 2, opt, str, ""),
				}},
				{Name: proto.String("ModuleName"), Field: []*descriptorpb.FieldDescriptorProto{
					field("remote", "remote", 1, opt, str, ""),
					field("owner", "owner", 2, opt, str, ""),
					field("repository", "repository", 3, opt, str, ""),
				}},
			},
		}
		fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
		if err != nil {
			imageTypeErr = fmt.Errorf("cannot build the image schema: %w", err)
			return
		}
		imageType = dynamicpb.NewMessageType(fd.Messages().ByName("Image"))
	})
	if imageTypeErr != nil {
		return nil, imageTypeErr
	}
	return imageType.New().Interface().(*dynamicpb.Message), nil
}
