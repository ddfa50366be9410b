/** VERSION is this package's version, sent as natsrpc.version in discovery (test/version.test.ts keeps it equal to package.json's). */
export const VERSION = "0.1.0";
