package lookup

import (
	"context"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// The protoregistry-style methods, each bounded by the client's timeout
// (WithTimeout), so that the client plugs into protodesc, protojson,
// proto.UnmarshalOptions and anypb.

func (c *Client) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.timeout)
}

// FindDescriptorByName is [Client.DescriptorByName] with the client's
// timeout, for protodesc.Resolver.
func (c *Client) FindDescriptorByName(name protoreflect.FullName) (protoreflect.Descriptor, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.DescriptorByName(ctx, name)
}

// FindFileByPath is [Client.FileByPath] with the client's timeout, for
// protodesc.Resolver.
func (c *Client) FindFileByPath(path string) (protoreflect.FileDescriptor, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.FileByPath(ctx, path)
}

// FindMessageByName is [Client.MessageType] with the client's timeout.
func (c *Client) FindMessageByName(name protoreflect.FullName) (protoreflect.MessageType, error) {
	if mt, ok := c.cachedMessageType(name); ok {
		return mt, nil
	}
	ctx, cancel := c.ctx()
	defer cancel()
	return c.MessageType(ctx, name)
}

// FindMessageByURL resolves a type URL such as
// "type.googleapis.com/gaming.quest_system.v1.Quest" (everything up to the
// last "/" is ignored), as Any values carry them.
func (c *Client) FindMessageByURL(url string) (protoreflect.MessageType, error) {
	name := url
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		name = url[i+1:]
	}
	return c.FindMessageByName(protoreflect.FullName(name))
}

// FindExtensionByName is [Client.ExtensionType] with the client's
// timeout.
func (c *Client) FindExtensionByName(field protoreflect.FullName) (protoreflect.ExtensionType, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.ExtensionType(ctx, field)
}

// FindExtensionByNumber is [Client.ExtensionTypeByNumber] with the
// client's timeout.
func (c *Client) FindExtensionByNumber(message protoreflect.FullName, field protoreflect.FieldNumber) (protoreflect.ExtensionType, error) {
	ctx, cancel := c.ctx()
	defer cancel()
	return c.ExtensionTypeByNumber(ctx, message, field)
}
