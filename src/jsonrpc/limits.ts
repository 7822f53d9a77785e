/**
 * Size limits shared by every path a JSON-RPC message takes (host stdin, JSON bodies, SSE events),
 * so memory stays bounded whichever side is careless.
 */

/** A single message larger than this is refused, on stdin and from the server alike. */
export const MAX_MESSAGE_BYTES = 256 * 1024 * 1024;
