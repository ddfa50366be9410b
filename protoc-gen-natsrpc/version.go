package main

import "github.com/natsrpc/natsrpc"

// version is printed by --version: the runtime's version, so that the
// plugin and the runtime cannot drift apart (connect-go's choice).
const version = natsrpc.Version
