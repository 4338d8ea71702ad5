"""The Lua scripts that make each throttling decision in ONE Redis round trip, atomically
across every web process. They mirror `rules.GcraCheck`, `rules.DayCheck` and `rules.decide`.

Time comes from Redis (TIME), so machines with skewed clocks still share one timeline. Keys
of an organization carry the hash tag `{o<id>}`; the day hash name is completed inside the
script from that prefix (same slot, so it stays correct on a Redis Cluster too).

Day hash fields (one hash per organization and UTC day, kept three days for the 24-hour view):
  r:<client> requests let through today   d:<client> documents accepted today
  x:<client> 429s today                   n:<client> the client's public client_id
  h<HH>  requests in hour HH   x<HH>  429s in hour HH   dh<HH>  documents in hour HH
"""

from __future__ import annotations

DAY_HASH_TTL_SECONDS = 3 * 86_400

_PRELUDE = """
local EPSILON = 1
local t = redis.call('TIME')
local sec = tonumber(t[1])
local now = sec * 1000000 + tonumber(t[2])
local until_midnight = 86400000000 - (now % 86400000000)
local hour = math.floor((sec % 86400) / 3600)

-- returns: allowed, tat (stored, not before now), new tat if let through; whole
-- microseconds, rounded up so rounding never favours the client
local function gcra(stored, quota, window_s, cost)
  local tat = math.max(tonumber(stored) or 0, now)
  local new_tat = math.ceil(tat + cost * window_s * 1000000 / quota)
  return new_tat - now <= window_s * 1000000 + EPSILON, tat, new_tat
end

-- appends remaining, reset (us), retry (us) of one GCRA policy to out
local function report(out, allowed, tat, new_tat, quota, window_s, consumed)
  local window = window_s * 1000000
  local kept = tat
  if consumed then kept = new_tat end
  local remaining = math.max(0, math.floor((window - (kept - now) + EPSILON) / (window / quota)))
  local retry = 0
  if not allowed then retry = new_tat - window - now end
  out[#out + 1] = remaining
  out[#out + 1] = kept - now
  out[#out + 1] = retry
end

local function day_report(out, allowed, quota, used, cost, consumed)
  local remaining = quota - used
  if consumed then remaining = remaining - cost end
  local retry = 0
  if not allowed then retry = until_midnight end
  out[#out + 1] = math.max(0, remaining)
  out[#out + 1] = until_midnight
  out[#out + 1] = retry
end

-- one space-separated string of whole numbers: far cheaper to parse than a RESP array
local function reply(out)
  for i = 1, #out do out[i] = math.floor(out[i]) end
  return table.concat(out, ' ')
end

-- the day hash lives three days; set once, when its first field appears
local function count(key, field, by)
  if redis.call('HINCRBY', key, field, by) == by then
    redis.call('EXPIRE', key, __DAY_TTL__)
  end
end
""".replace("__DAY_TTL__", str(DAY_HASH_TTL_SECONDS))

# KEYS[1] the client's GCRA hash, KEYS[2] the organization's day-hash prefix
# ARGV: client id, client label, burst per second, requests per minute, requests per day
# Returns "allowed", then remaining, reset_us, retry_us for burst, minute and day, as one
# space-separated string.
REQUEST = (
    _PRELUDE
    + """
local cid = ARGV[1]
local burst, minute, day = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local day_key = KEYS[2] .. math.floor(sec / 86400)
local bf, mf = 'b:' .. ARGV[3], 'm:' .. ARGV[4]
local stored = redis.call('HMGET', KEYS[1], bf, mf)
local b_ok, b_tat, b_new = gcra(stored[1], burst, 1, 1)
local m_ok, m_tat, m_new = gcra(stored[2], minute, 60, 1)
local used = tonumber(redis.call('HGET', day_key, 'r:' .. cid)) or 0
local d_ok = used + 1 <= day
local ok = b_ok and m_ok and d_ok

if ok then
  redis.call('HSET', KEYS[1], bf, b_new, mf, m_new)
  redis.call('PEXPIRE', KEYS[1], math.ceil((math.max(b_new, m_new) - now) / 1000) + 1000)
  if redis.call('HINCRBY', day_key, 'r:' .. cid, 1) == 1 then
    redis.call('HSET', day_key, 'n:' .. cid, ARGV[2])
  end
  count(day_key, 'h' .. hour, 1)
else
  count(day_key, 'x' .. hour, 1)
  redis.call('HINCRBY', day_key, 'x:' .. cid, 1)
end

local out = {ok and 1 or 0}
report(out, b_ok, b_tat, b_new, burst, 1, ok)
report(out, m_ok, m_tat, m_new, minute, 60, ok)
day_report(out, d_ok, day, used, 1, ok)
return reply(out)
"""
)

# KEYS[1] the organization's day-hash prefix
# ARGV: client id, client label, documents per day, documents in this request
# Returns "allowed remaining reset_us retry_us".
DOCUMENTS = (
    _PRELUDE
    + """
local cid = ARGV[1]
local quota, cost = tonumber(ARGV[3]), tonumber(ARGV[4])
local day_key = KEYS[1] .. math.floor(sec / 86400)
local used = tonumber(redis.call('HGET', day_key, 'd:' .. cid)) or 0
local ok = used + cost <= quota
if ok then
  redis.call('HINCRBY', day_key, 'd:' .. cid, cost)
  count(day_key, 'dh' .. hour, cost)
  redis.call('HSETNX', day_key, 'n:' .. cid, ARGV[2])
else
  count(day_key, 'x' .. hour, 1)
  redis.call('HINCRBY', day_key, 'x:' .. cid, 1)
end
local out = {ok and 1 or 0}
day_report(out, ok, quota, used, cost, ok)
return reply(out)
"""
)

# KEYS: one string key per limit (each holds a tat); ARGV: quota, window seconds, per key.
# All or nothing, like REQUEST. Returns "allowed", then remaining, reset_us, retry_us per key.
GCRA_KEYS = (
    _PRELUDE
    + """
local n = #KEYS
local checks = {}
local ok = true
for i = 1, n do
  local quota, window = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local allowed, tat, new_tat = gcra(redis.call('GET', KEYS[i]), quota, window, 1)
  checks[i] = {allowed, tat, new_tat, quota, window}
  ok = ok and allowed
end
local out = {ok and 1 or 0}
for i = 1, n do
  local c = checks[i]
  if ok then
    redis.call('SET', KEYS[i], c[3], 'PX', math.ceil((c[3] - now) / 1000) + 1000)
  end
  report(out, c[1], c[2], c[3], c[4], c[5], ok)
end
return reply(out)
"""
)
