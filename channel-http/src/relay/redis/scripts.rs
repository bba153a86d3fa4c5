//! The Lua scripts that change the relay's state in Redis, each one atomic
//! step. They apply decisions the relay made in Rust with the rules of
//! `crate::store` (where a chunk goes, what an acknowledgement covers) on a
//! link's state read just before; each first checks that the link's version
//! `ver` is still the one read (else it answers `retry` and the relay reads
//! and decides again), so two relay processes never apply decisions made on
//! stale state. What must be checked at the moment of storing, the byte
//! budgets of the session and the relay, the scripts check themselves.

use std::sync::LazyLock;

use redis::Script;

/// Stores a chunk placed `next` or `early`.
///
/// KEYS: link, meta, relay held, the session's key set. ARGV: version read, seq, chunk,
/// placement (`next`/`early`), reserve (bytes early chunks leave free),
/// session limit, relay limit, wake channel, link key.
/// Answers `{"ok"}`, `{"retry"}`, `{"gone"}`, `{"full", held, limit}` or
/// `{"relayfull", held, limit}`.
pub(super) static STORE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local ver = redis.call('HGET', KEYS[1], 'ver') or '0'
if ver ~= ARGV[1] then return {'retry'} end
if redis.call('EXISTS', KEYS[2]) == 0 then return {'gone'} end
local adding = string.len(ARGV[3])
local held = tonumber(redis.call('HGET', KEYS[2], 'held') or '0')
local limit = tonumber(ARGV[6])
-- As LinkStore::push: the session's budget (early chunks leave the reserve free) ...
if held + adding + tonumber(ARGV[5]) > limit then
  redis.call('HINCRBY', KEYS[2], 'throttled', 1)
  return {'full', tostring(held), tostring(limit)}
end
-- ... then the relay's.
local relay = tonumber(redis.call('GET', KEYS[3]) or '0')
local relay_limit = tonumber(ARGV[7])
if relay + adding > relay_limit then
  redis.call('HINCRBY', KEYS[2], 'throttled', 1)
  return {'relayfull', tostring(relay), tostring(relay_limit)}
end
local seq = tonumber(ARGV[2])
if ARGV[4] == 'early' then
  redis.call('HSET', KEYS[1], 'e' .. ARGV[2], ARGV[3])
else
  redis.call('HSET', KEYS[1], 'c' .. ARGV[2], ARGV[3])
  local next = seq + 1
  -- Chunks held ahead that now follow in order (at most MAX_AHEAD).
  while true do
    local early = redis.call('HGET', KEYS[1], 'e' .. string.format('%d', next))
    if not early then break end
    redis.call('HSET', KEYS[1], 'c' .. string.format('%d', next), early)
    redis.call('HDEL', KEYS[1], 'e' .. string.format('%d', next))
    next = next + 1
  end
  redis.call('HSET', KEYS[1], 'next', string.format('%d', next))
end
redis.call('HINCRBY', KEYS[1], 'ver', 1)
local now_held = redis.call('HINCRBY', KEYS[2], 'held', adding)
local peak = tonumber(redis.call('HGET', KEYS[2], 'peak') or '0')
if now_held > peak then redis.call('HSET', KEYS[2], 'peak', now_held) end
redis.call('HINCRBY', KEYS[2], 'messages', 1)
redis.call('INCRBY', KEYS[3], adding)
redis.call('SADD', KEYS[4], ARGV[9])
redis.call('PUBLISH', ARGV[8], '1')
return {'ok'}
"#,
    )
});

/// Drops the chunks of a link below a number (an acknowledgement), and
/// returns one kept chunk.
///
/// KEYS: link, meta, relay held. ARGV: version read, below, the seq of the
/// chunk to return (empty: none). Answers `{"ok", chunk}`, `{"ok"}` or
/// `{"retry"}`.
pub(super) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local ver = redis.call('HGET', KEYS[1], 'ver') or '0'
if ver ~= ARGV[1] then return {'retry'} end
local oldest = tonumber(redis.call('HGET', KEYS[1], 'oldest') or '0')
local below = tonumber(ARGV[2])
if below > oldest then
  local released = 0
  for s = oldest, below - 1 do
    local field = 'c' .. string.format('%d', s)
    released = released + redis.call('HSTRLEN', KEYS[1], field)
    redis.call('HDEL', KEYS[1], field)
  end
  redis.call('HSET', KEYS[1], 'oldest', string.format('%d', below))
  redis.call('HINCRBY', KEYS[1], 'ver', 1)
  if redis.call('EXISTS', KEYS[2]) == 1 then
    redis.call('HINCRBY', KEYS[2], 'held', -released)
  end
  redis.call('DECRBY', KEYS[3], released)
end
if ARGV[3] ~= '' then
  local chunk = redis.call('HGET', KEYS[1], 'c' .. ARGV[3])
  if chunk then return {'ok', chunk} end
end
return {'ok'}
"#,
    )
});

/// Creates a session unless the relay holds its maximum of live ones.
///
/// KEYS: sessions, meta, the session's key set, then its party keys. ARGV:
/// now (ms), max sessions, id, deadline (ms), key expiry (ms), then the meta
/// fields and values. Answers `{"ok"}` or `{"full"}`.
pub(super) static CREATE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local live = redis.call('ZCOUNT', KEYS[1], ARGV[1], '+inf')
if live >= tonumber(ARGV[2]) then return {'full'} end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
for i = 6, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
redis.call('PEXPIRE', KEYS[2], ARGV[5])
for i = 4, #KEYS do redis.call('SADD', KEYS[3], KEYS[i]) end
return {'ok'}
"#,
    )
});

/// Deletes a session and gives its held bytes back to the relay's count.
///
/// KEYS: sessions, meta, the session's key set, relay held. ARGV: id.
/// Answers the bytes released.
pub(super) static DELETE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local held = tonumber(redis.call('HGET', KEYS[2], 'held') or '0')
if held > 0 then redis.call('DECRBY', KEYS[4], held) end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[3])) do
  redis.call('DEL', key)
end
redis.call('DEL', KEYS[2], KEYS[3])
redis.call('ZREM', KEYS[1], ARGV[1])
return held
"#,
    )
});

/// Refreshes a session's deadline (it is in use), if it still exists.
///
/// KEYS: sessions, meta. ARGV: id, deadline (ms), key expiry (ms).
pub(super) static REFRESH: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], 'XX', ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], 'deadline', ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
"#,
    )
});

/// A party joins: a new epoch, its goodbye forgotten, and where its links
/// stand.
///
/// KEYS: party, meta, then the links from it (to party 0..n), then the
/// links to it (from 0..n). ARGV: now (ms), wake channel. Answers
/// `{epoch, next_send..., next_recv...}`.
pub(super) static JOIN: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local epoch = redis.call('HINCRBY', KEYS[1], 'epoch', 1)
redis.call('HSET', KEYS[1], 'seen', ARGV[1])
redis.call('HDEL', KEYS[1], 'left')
redis.call('HSET', KEYS[2], 'joined', '1')
local answer = {epoch}
local n = (#KEYS - 2) / 2
for i = 1, n do
  table.insert(answer, tonumber(redis.call('HGET', KEYS[2 + i], 'next') or '0'))
end
for i = 1, n do
  table.insert(answer, tonumber(redis.call('HGET', KEYS[2 + n + i], 'oldest') or '0'))
end
redis.call('PUBLISH', ARGV[2], '1')
return answer
"#,
    )
});

/// A party says goodbye: how many messages it sent to each party, never
/// below what the relay already has from it.
///
/// KEYS: party, then the links from it (to party 0..n). ARGV: now (ms),
/// the counts claimed. Answers the counts recorded, comma-separated.
pub(super) static LEAVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local sent = {}
for i = 2, #KEYS do
  local next = tonumber(redis.call('HGET', KEYS[i], 'next') or '0')
  local claimed = tonumber(ARGV[i])
  if next > claimed then claimed = next end
  table.insert(sent, string.format('%d', claimed))
end
local text = table.concat(sent, ',')
redis.call('HSET', KEYS[1], 'left', text, 'seen', ARGV[1])
return text
"#,
    )
});

/// What a socket of a party looks at on each pass, in one step.
///
/// KEYS: meta, then the party keys (0..n), then the links to it (from
/// 0..n), then the links from it (to 0..n). ARGV: the party's index.
/// Answers `{nonce, deadline, epoch, sockets, then per party p: left, seen,
/// oldest to it, next to it, next from it}` (empty strings for nothing).
pub(super) static VIEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local meta = redis.call('HMGET', KEYS[1], 'nonce', 'deadline')
local n = (#KEYS - 1) / 3
local me = tonumber(ARGV[1])
local mine = redis.call('HMGET', KEYS[2 + me], 'epoch', 'sockets')
local answer = {meta[1] or '', meta[2] or '', mine[1] or '0', mine[2] or '0'}
for p = 1, n do
  local party = redis.call('HMGET', KEYS[1 + p], 'left', 'seen')
  local to_me = redis.call('HMGET', KEYS[1 + n + p], 'oldest', 'next')
  table.insert(answer, party[1] or '')
  table.insert(answer, party[2] or '')
  table.insert(answer, to_me[1] or '0')
  table.insert(answer, to_me[2] or '0')
  table.insert(answer, redis.call('HGET', KEYS[1 + 2 * n + p], 'next') or '0')
end
return answer
"#,
    )
});

/// A request of a party: it must come from its latest join (when it says
/// which), and it is heard from now; the session is in use.
///
/// KEYS: party, sessions, meta. ARGV: the join claimed (empty: none), now
/// (ms), id, deadline (ms), key expiry (ms). Answers `{"ok"}` or
/// `{"replaced", epoch}`.
pub(super) static HEARD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local epoch = redis.call('HGET', KEYS[1], 'epoch') or '0'
if ARGV[1] ~= '' and ARGV[1] ~= epoch then return {'replaced', epoch} end
redis.call('HSET', KEYS[1], 'seen', ARGV[2])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('ZADD', KEYS[2], 'XX', ARGV[4], ARGV[3])
  redis.call('HSET', KEYS[3], 'deadline', ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
return {'ok'}
"#,
    )
});

/// Bytes of a link's kept chunks with numbers in `first..end`, or -1 for
/// a range of more than 65536 numbers (not counted: a bound on the script).
///
/// KEYS: link. ARGV: first, end.
pub(super) static BYTES: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r#"
local first, last = tonumber(ARGV[1]), tonumber(ARGV[2]) - 1
if last - first >= 65536 then return -1 end
local bytes = 0
for s = first, last do
  bytes = bytes + redis.call('HSTRLEN', KEYS[1], 'c' .. string.format('%d', s))
end
return bytes
"#,
    )
});
