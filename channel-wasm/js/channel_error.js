// The errors of channel-wasm's JavaScript API, and its waits on an AbortSignal.
// wasm-bindgen copies this file next to the generated module; the npm package
// (`cargo xtask js-package`) exports `ChannelError` from its entry point.

/**
 * Every failure of a RelayChannel call: what kind it is, which party and
 * phase it concerns, and the relay's HTTP status when it answered with one.
 *
 * kind: "timeout" | "peer-gone" | "bad-party" | "queue-full" | "too-large" |
 *       "malformed" | "unauthentic" | "aborted" | "refused" | "unreachable" |
 *       "cors" | "replaced" | "protocol" | "setup" | "broken" | "closed" | "other"
 */
export class ChannelError extends Error {
  constructor(message, kind, party, phase, status) {
    super(message);
    this.name = "ChannelError";
    this.kind = kind;
    this.party = party;
    this.phase = phase;
    this.status = status;
  }
}

export function channelError(message, kind, party, phase, status) {
  return new ChannelError(message, kind, party, phase, status);
}

export function typeError(message) {
  return new TypeError(message);
}

/** A Promise that rejects with the signal's reason once it aborts (never resolves). */
export function whenAborted(signal) {
  return new Promise((_, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
    } else {
      signal.addEventListener("abort", () => reject(signal.reason), { once: true });
    }
  });
}

/** Whether `value` is an AbortSignal (an object with `aborted` and `addEventListener`). */
export function isAbortSignal(value) {
  return typeof AbortSignal !== "undefined" && value instanceof AbortSignal;
}

/**
 * Whether the relay at `url` answers at all when CORS is not asked for: a
 * fetch that failed with CORS can then be told apart from a relay that is down.
 */
export async function answersWithoutCors(url) {
  try {
    await fetch(url, { mode: "no-cors", cache: "no-store" });
    return true;
  } catch (_) {
    return false;
  }
}
