// The JavaScript side of tests/js_api.rs: each function drives RelayChannel as
// a web page would and throws on anything a web developer should not meet.

function check(condition, what) {
  if (!condition) {
    throw new Error(`expected ${what}`);
  }
}

/** Resolves to the error `promise` rejects with; fails if it resolves. */
async function rejection(promise, what) {
  try {
    const value = await promise;
    throw new Error(`${what} resolved to ${value} instead of rejecting`);
  } catch (e) {
    return e;
  }
}

function isChannelError(e) {
  return e instanceof Error && e.name === "ChannelError" && typeof e.kind === "string";
}

/** Races `promise` against `ms`: a hang is a failure, not a stuck test. */
function within(ms, promise, what) {
  return Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms)),
  ]);
}

function equalBytes(a, b) {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export async function strings_and_other_values_are_type_errors(a, b) {
  for (const bad of ["hello", 42, null, undefined, {}, [1, 2, 3], new Blob(["x"])]) {
    const e = await rejection(a.send(1, bad, "typed"), `send of ${typeof bad}`);
    check(e instanceof TypeError, `a TypeError for ${String(bad)}, got ${e}`);
  }
  const e = await rejection(a.send(1, "hello", "typed"), "send of a string");
  check(/TextEncoder/.test(e.message), `the error to say how to send text: ${e.message}`);
  // Nothing of the refused sends arrived: the next message is the real one.
  await a.send(1, new Uint8Array([9, 8, 7]), "typed");
  const got = await within(10000, b.recv(0, "typed"), "recv");
  check(equalBytes(got, [9, 8, 7]), `the real message, got ${got}`);
}

export async function every_kind_of_buffer_arrives_exactly(a, b) {
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 256);
  const offsetView = new Uint8Array(bytes.buffer, 10, 20);
  const floats = new Float64Array([1.5, -2.25, Math.PI]);
  const cases = [
    ["Uint8Array", bytes, bytes],
    ["ArrayBuffer", bytes.buffer, bytes],
    ["DataView", new DataView(bytes.buffer, 100, 50), bytes.slice(100, 150)],
    ["a view at an offset", offsetView, bytes.slice(10, 30)],
    ["Float64Array", floats, new Uint8Array(floats.buffer)],
    ["Uint16Array", new Uint16Array([1, 65535]), new Uint8Array(new Uint16Array([1, 65535]).buffer)],
    ["an empty Uint8Array", new Uint8Array(0), new Uint8Array(0)],
  ];
  for (const [name, value] of cases) {
    await a.send(1, value, "buffers");
  }
  for (const [name, , expected] of cases) {
    const got = await within(10000, b.recv(0, "buffers"), name);
    check(got instanceof Uint8Array, `a Uint8Array for ${name}`);
    check(equalBytes(got, expected), `${name} to arrive byte for byte (${got.length} bytes, expected ${expected.length})`);
  }
}

export async function argument_errors_reject_and_never_throw(a) {
  const calls = [
    ["recv without a phase", () => a.recv(1)],
    ["recv with a numeric phase", () => a.recv(1, 5)],
    ["send without bytes", () => a.send(1)],
    ["send with a string party", () => a.send("1", new Uint8Array(1), "x")],
    ["send with a fractional party", () => a.send(0.5, new Uint8Array(1), "x")],
    ["recv with an unknown option", () => a.recv(1, "x", { timeout: 5 })],
    ["recv with a bad signal", () => a.recv(1, "x", { signal: "stop" })],
    ["flush with bad options", () => a.flush(7)],
  ];
  for (const [what, call] of calls) {
    let promise;
    try {
      promise = call();
    } catch (e) {
      throw new Error(`${what} threw synchronously instead of rejecting: ${e}`);
    }
    check(promise instanceof Promise, `${what} to return a Promise`);
    const e = await within(5000, rejection(promise, what), what);
    check(e instanceof TypeError, `${what} to reject with a TypeError, got ${e}`);
  }
}

export async function a_bad_party_is_named_as_given(a) {
  for (const party of [-1, 2, 7, a.party]) {
    const e = await rejection(a.send(party, new Uint8Array(1), "x"), `send to ${party}`);
    check(isChannelError(e), `a ChannelError for party ${party}, got ${e}`);
    check(e.kind === "bad-party", `kind bad-party, got ${e.kind}`);
    check(e.party === party, `party ${party} in the error, got ${e.party}`);
    check(!/4294967295/.test(e.message), `no wrapped-around index in "${e.message}"`);
    check(e.message.includes(String(party)), `"${e.message}" to name party ${party}`);
  }
}

export async function a_pending_receive_does_not_block_a_send(a, b) {
  // a waits for b's answer, then sends the question b waits for: with one
  // lock over the whole channel this deadlocks.
  const answer = a.recv(1, "answer");
  await within(5000, a.send(1, new Uint8Array([1]), "question"), "a send while a receive waits");
  const question = await within(10000, b.recv(0, "question"), "the question");
  await b.send(0, Uint8Array.from([question[0] + 1]), "answer");
  const got = await within(10000, answer, "the answer");
  check(equalBytes(got, [2]), `the answer 2, got ${got}`);
}

export async function errors_carry_kind_party_phase(a) {
  const e = await rejection(a.recv(1, "nothing-comes", { timeoutMs: 200 }), "recv with a timeout");
  check(isChannelError(e), `a ChannelError, got ${e}`);
  check(e.kind === "timeout", `kind timeout, got ${e.kind}`);
  check(e.party === 1 && e.phase === "nothing-comes", `party 1, phase nothing-comes, got ${e.party}, ${e.phase}`);
  check(e.status === undefined, `no HTTP status, got ${e.status}`);
  check(e instanceof Error && typeof e.stack === "string", "an Error with a stack");
}

export async function an_aborted_receive_leaves_the_channel_working(a, b) {
  const stop = new AbortController();
  const waiting = a.recv(1, "later", { signal: stop.signal });
  setTimeout(() => stop.abort(new DOMException("the user left", "AbortError")), 100);
  const e = await within(5000, rejection(waiting, "an aborted recv"), "the abort");
  check(e.name === "AbortError" && e.message === "the user left", `the signal's reason, got ${e}`);
  // An already aborted signal rejects at once.
  const e2 = await rejection(a.recv(1, "later", { signal: AbortSignal.abort() }), "recv on an aborted signal");
  check(e2.name === "AbortError", `AbortError, got ${e2}`);
  // The message sent afterwards is not lost to the aborted receives.
  await b.send(0, new Uint8Array([42]), "later");
  const got = await within(10000, a.recv(1, "later"), "the receive after the abort");
  check(equalBytes(got, [42]), `42 after the abort, got ${got}`);
}

export async function values_cross_in_rusts_encoding(a, b, expected, writer, reader) {
  // The classes as a page imports them from the module.
  const Writer = writer.constructor;
  const Reader = reader.constructor;
  const bytes = new Writer()
    .u32(7)
    .u64(18446744073709551615n)
    .bytes(new Uint8Array([1, 2, 3]))
    .string("héllo")
    .u64Array([5n, 6])
    .bool(true)
    .f64(2.5)
    .finish();
  check(equalBytes(bytes, expected), `what Rust's bincode makes: got ${bytes}, expected ${expected}`);
  await a.send(1, bytes, "typed");
  const r = new Reader(await within(10000, b.recv(0, "typed"), "the typed message"));
  check(r.u32() === 7, "the u32");
  check(r.u64() === 18446744073709551615n, "the u64 as a bigint");
  check(equalBytes(r.bytes(), [1, 2, 3]), "the bytes");
  check(r.string() === "héllo", "the string");
  check(equalBytes(Array.from(r.u64Array()), [5n, 6n]), "the u64 array");
  check(r.bool() === true && r.f64() === 2.5, "the bool and the f64");
  r.end();
  // A lying length is an error before anything is allocated; trailing bytes too.
  const lying = new Writer().u64(1n << 40n).finish();
  let threw;
  try {
    new Reader(lying).bytes();
  } catch (e) {
    threw = e;
  }
  check(threw && threw.kind === "malformed", `a malformed error for a lying length, got ${threw}`);
  const trailing = new Reader(new Writer().u32(1).u32(2).finish());
  trailing.u32();
  try {
    trailing.end();
    threw = undefined;
  } catch (e) {
    threw = e;
  }
  check(threw && /4 bytes follow/.test(threw.message), `trailing bytes refused, got ${threw}`);
  try {
    new Writer().u32(-1);
    threw = undefined;
  } catch (e) {
    threw = e;
  }
  check(threw instanceof RangeError, `a RangeError for u32 -1, got ${threw}`);
}

export async function closing_tells_the_peer(a, b) {
  await a.send(1, new Uint8Array([1]), "last");
  await within(10000, a.close(), "close");
  const got = await within(10000, b.recv(0, "last"), "the message before the close");
  check(equalBytes(got, [1]), "the last message first");
  const e = await within(10000, rejection(b.recv(0, "after"), "recv from a closed party"), "the goodbye");
  check(isChannelError(e) && e.kind === "peer-gone" && e.party === 0, `peer-gone naming party 0, got ${e} (${e.kind})`);
  const e2 = await rejection(a.send(1, new Uint8Array([2]), "after"), "a send after close");
  check(isChannelError(e2) && e2.kind === "closed", `kind closed, got ${e2.kind}`);
}

export async function join_options_bound_the_wait(invitation, key, join) {
  const started = performance.now();
  const e = await within(15000, rejection(join(invitation, key, { recvTimeoutMs: 1500 }), "a join whose peer never comes"), "the join");
  const took = performance.now() - started;
  check(isChannelError(e), `a ChannelError, got ${e}`);
  check(e.kind === "timeout", `kind timeout, got ${e.kind}: ${e.message}`);
  check(took < 12000, `the join to give up within its timeout, took ${took} ms`);
  const e2 = await rejection(join(invitation, key, { transport: "pigeon" }), "an unknown transport");
  check(e2 instanceof TypeError && /pigeon/.test(e2.message), `a TypeError naming the transport, got ${e2}`);
  const e3 = await rejection(join(invitation, key, { recvTimeout: 5 }), "a misspelt option");
  check(e3 instanceof TypeError && /recvTimeout/.test(e3.message), `a TypeError naming the option, got ${e3}`);
  const stop = new AbortController();
  stop.abort(new DOMException("never mind", "AbortError"));
  const e4 = await rejection(join(invitation, key, { signal: stop.signal }), "an aborted join");
  check(e4.name === "AbortError", `the signal's reason, got ${e4}`);
}

export async function a_refused_join_has_the_status(forged, key, join) {
  const e = await within(15000, rejection(join(forged, key, { retryForMs: 2000 }), "a join with a wrong token"), "the refused join");
  check(isChannelError(e), `a ChannelError, got ${e}`);
  check(e.kind === "refused" && (e.status === 401 || e.status === 403), `kind refused with status 401 or 403, got ${e.kind} ${e.status}: ${e.message}`);
}

export async function cors_is_told_apart_from_a_relay_that_is_down(noCorsRelay, closedPort, invite) {
  const key = "0".repeat(64);
  const e = await within(15000, rejection(invite(noCorsRelay, [key, key], { retryForMs: 1000 }), "an invite to a relay that refuses this origin"), "the CORS refusal");
  check(isChannelError(e) && e.kind === "cors", `kind cors, got ${e.kind}: ${e.message}`);
  check(e.message.includes("--cors-origin"), `the error to say how to fix it: ${e.message}`);
  const e2 = await within(15000, rejection(invite(closedPort, [key, key], { retryForMs: 1000 }), "an invite to a relay that is down"), "the relay that is down");
  check(isChannelError(e2) && e2.kind === "unreachable", `kind unreachable, got ${e2.kind}: ${e2.message}`);
}
