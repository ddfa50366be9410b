package shadow

// ValueAt is valueAt, for tests.
var ValueAt = valueAt
